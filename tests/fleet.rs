//! The shared token store across processes, against the real test server
//! and a real `redis-server`: the one test of this binary runs the
//! scenarios, and the binary runs itself (that test, with `TC_FLEET_WORKER`
//! set) as the worker processes they start.
//!
//! - A fleet of 16 processes in two "hosts" (8 each, each host's file store
//!   in front of one Redis) × 8 threads calling `get_token` for 10 token
//!   lifetimes asks the token endpoint 10 times; without the store, 160.
//! - The same with a rotating refresh token: 10 refreshes, no
//!   `invalid_grant`.
//! - A process killed (SIGKILL) while it holds the lease: the others have
//!   a token within the lease time and one more request.
//! - Redis over TLS with a password: shared through a private CA
//!   (`SSL_CERT_FILE`), refused at set time without it.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::redis::{redis_server, Redis};
use common::{shared, Server, TempDir};
use tokenclient::{AuthMethod, Client, ErrorKind, Level};

const PROCESSES: usize = 16;
const THREADS: usize = 8;
const LIFETIMES: u64 = 10;

type Scenario = fn(&Server);

#[test]
fn fleet() {
    if std::env::var_os("TC_FLEET_WORKER").is_some() {
        worker();
        return;
    }
    let Some(server) = shared() else { return };
    if redis_server().is_none() {
        return;
    }
    let scenarios: [(&str, Scenario); 4] = [
        (
            "fleet of 16 processes, store on and off",
            fleet_shares_one_request_per_lifetime,
        ),
        (
            "fleet with a rotating refresh token",
            fleet_follows_a_rotating_refresh_token,
        ),
        (
            "lease holder killed",
            a_killed_lease_holder_blocks_no_one_past_the_lease,
        ),
        ("Redis over TLS with a password", redis_over_tls),
    ];
    for (name, scenario) in scenarios {
        let started = Instant::now();
        scenario(server);
        println!("{name}: ok ({} ms)", started.elapsed().as_millis());
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// One worker process to start: its client, store and how it runs.
#[derive(Clone, Default)]
struct Work {
    client: String,
    store: Option<String>,
    refresh_token: Option<String>,
    threads: usize,
    /// Each thread asks once, then the worker ends.
    once: bool,
    /// Blocks in the log callback once its token request is done: it holds
    /// the store's lease until it is killed.
    hang: bool,
    total_timeout_ms: u32,
    /// The wall-clock time (ms) at which every thread starts.
    start_ms: u64,
    /// Else: the worker says it is ready (a file `ready-<pid>` here) and
    /// its threads start when the file `go` is here.
    go_dir: Option<PathBuf>,
    /// The worker ends when this file exists.
    stop_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
}

/// What a worker saw.
#[derive(Debug, Default)]
struct Seen {
    tokens: BTreeSet<String>,
    errors: Vec<String>,
    /// Wall-clock ms of each thread's first token.
    firsts: Vec<u64>,
    set_store_error: Option<String>,
}

/// A worker process, killed if the test ends (or fails) before it does.
struct Worker(Option<Child>);

impl Worker {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(server: &Server, work: &Work) -> Worker {
    let m = server.client(&work.client);
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "fleet",
            "--nocapture",
            "--test-threads=1",
            "--quiet",
        ])
        .env("TC_FLEET_WORKER", "1")
        .env("TC_FLEET_TOKEN_URL", server.token_url_of(&work.client))
        .env("TC_FLEET_ID", m["client_id"].as_str().unwrap())
        .env("TC_FLEET_SECRET", m["client_secret"].as_str().unwrap())
        .env("TC_FLEET_THREADS", work.threads.to_string())
        .env("TC_FLEET_START_MS", work.start_ms.to_string())
        .env(
            "TC_FLEET_TOTAL_MS",
            work.total_timeout_ms.max(1000).to_string(),
        )
        .env_remove("SSL_CERT_FILE")
        .stdout(Stdio::piped());
    for (name, value) in [
        ("TC_FLEET_STORE", work.store.clone()),
        ("TC_FLEET_RT", work.refresh_token.clone()),
        ("TC_FLEET_ONCE", work.once.then(|| "1".to_string())),
        ("TC_FLEET_HANG", work.hang.then(|| "1".to_string())),
        (
            "TC_FLEET_GO_DIR",
            work.go_dir.as_ref().map(|p| p.display().to_string()),
        ),
        (
            "TC_FLEET_STOP_FILE",
            work.stop_file.as_ref().map(|p| p.display().to_string()),
        ),
        (
            "SSL_CERT_FILE",
            work.ca_file.as_ref().map(|p| p.display().to_string()),
        ),
    ] {
        if let Some(value) = value {
            command.env(name, value);
        }
    }
    Worker(Some(command.spawn().unwrap()))
}

/// Waits for a worker and reads what it saw.
fn collect(mut worker: Worker) -> Seen {
    let out = worker.0.take().unwrap().wait_with_output().unwrap();
    assert!(out.status.success(), "a worker failed: {:?}", out.status);
    let mut seen = Seen::default();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        match line.split_once(' ') {
            Some(("token", t)) => {
                seen.tokens.insert(t.to_string());
            }
            Some(("error", e)) => seen.errors.push(e.to_string()),
            Some(("first", ms)) => seen.firsts.push(ms.parse().unwrap()),
            Some(("set_store_error", e)) => seen.set_store_error = Some(e.to_string()),
            _ => {}
        }
    }
    seen
}

/// The store of one of two "hosts": its own file store in front of the
/// shared Redis.
fn host_store(dir: &Path, host: usize, redis: &Redis, prefix: &str) -> String {
    format!(
        "file://{}/host{host} redis://127.0.0.1:{}/0?prefix={prefix}",
        dir.display(),
        redis.port
    )
}

/// Runs `PROCESSES` workers of `work` (the store of each from `store_of`),
/// until the server has counted `target` token requests since the start,
/// and half a token's refresh period more (so no worker starts the next);
/// gives the requests made and what each worker saw.
fn run_fleet(
    server: &Server,
    work: &Work,
    store_of: impl Fn(usize) -> Option<String>,
    target: u64,
) -> (u64, Vec<Seen>) {
    let dir = TempDir::new("fleet-run");
    let stop = dir.0.join("stop");
    let id = server.client(&work.client)["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = server.requests(&id);
    let children: Vec<Worker> = (0..PROCESSES)
        .map(|i| {
            let w = Work {
                store: store_of(i),
                go_dir: Some(dir.0.clone()),
                stop_file: Some(stop.clone()),
                ..work.clone()
            };
            spawn(server, &w)
        })
        .collect();
    // All at once, however long each took to start.
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = || {
        std::fs::read_dir(&dir.0)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("ready-")
            })
            .count()
    };
    while ready() < PROCESSES {
        assert!(
            Instant::now() < deadline,
            "{} of {PROCESSES} workers ready after 60 s",
            ready()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::write(dir.0.join("go"), b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let made = server.requests(&id) - before;
        if made >= target {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{made} of {target} token requests after 90 s"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    // Tokens live 2 s and are refreshed after 1 s: half of that.
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(&stop, b"").unwrap();
    let seen: Vec<Seen> = children.into_iter().map(collect).collect();
    (server.requests(&id) - before, seen)
}

fn fleet_shares_one_request_per_lifetime(server: &Server) {
    let redis = Redis::start(&[]).unwrap();
    let dir = TempDir::new("fleet");
    let work = Work {
        client: "fleet-client".to_string(),
        threads: THREADS,
        total_timeout_ms: 5000,
        ..Work::default()
    };
    let errors_before = server.stats("fleet-client")["token_errors"].clone();
    // The store on: two hosts of 8 processes, one Redis.
    let (made, seen) = run_fleet(
        server,
        &work,
        |i| Some(host_store(&dir.0, i % 2, &redis, "fleet:")),
        LIFETIMES,
    );
    let all: BTreeSet<&String> = seen.iter().flat_map(|s| &s.tokens).collect();
    assert_eq!(made, LIFETIMES, "token requests with the store on");
    assert_eq!(all.len() as u64, LIFETIMES, "distinct tokens seen");
    for (i, s) in seen.iter().enumerate() {
        assert!(s.errors.is_empty(), "process {i}: {:?}", s.errors);
        assert_eq!(
            s.tokens.len() as u64,
            LIFETIMES,
            "process {i} saw every token"
        );
    }
    println!("  store on: {PROCESSES} processes x {THREADS} threads, {LIFETIMES} lifetimes: {made} token requests");
    // The store off: every process asks for itself.
    let (made, seen) = run_fleet(server, &work, |_| None, LIFETIMES * PROCESSES as u64);
    for (i, s) in seen.iter().enumerate() {
        assert!(s.errors.is_empty(), "process {i}: {:?}", s.errors);
        assert_eq!(s.tokens.len() as u64, LIFETIMES, "process {i}'s own tokens");
    }
    assert_eq!(
        made,
        LIFETIMES * PROCESSES as u64,
        "token requests with the store off"
    );
    println!("  store off: {made} token requests");
    assert_eq!(server.stats("fleet-client")["token_errors"], errors_before);
}

fn fleet_follows_a_rotating_refresh_token(server: &Server) {
    let redis = Redis::start(&[]).unwrap();
    let dir = TempDir::new("fleet-rt");
    let name = "fleet-rotating";
    // One refresh token of the code flow, given to every process.
    let rt = server.refresh_token_of(name);
    let errors_before = server.stats(name)["token_errors"].clone();
    let work = Work {
        client: name.to_string(),
        refresh_token: Some(rt),
        threads: THREADS,
        total_timeout_ms: 5000,
        ..Work::default()
    };
    let (made, seen) = run_fleet(
        server,
        &work,
        |i| Some(host_store(&dir.0, i % 2, &redis, "fleet-rt:")),
        LIFETIMES,
    );
    assert_eq!(
        server.stats(name)["token_errors"],
        errors_before,
        "no invalid_grant"
    );
    assert_eq!(made, LIFETIMES, "refreshes");
    for (i, s) in seen.iter().enumerate() {
        assert!(s.errors.is_empty(), "process {i}: {:?}", s.errors);
    }
    let all: BTreeSet<&String> = seen.iter().flat_map(|s| &s.tokens).collect();
    assert_eq!(all.len() as u64, LIFETIMES);
    println!(
        "  {PROCESSES} processes, {made} refreshes of one rotating refresh token, no token errors"
    );
}

fn a_killed_lease_holder_blocks_no_one_past_the_lease(server: &Server) {
    let redis = Redis::start(&[]).unwrap();
    let dir = TempDir::new("fleet-kill");
    let id = "fleet-client";
    let store_of = |host| Some(host_store(&dir.0, host, &redis, "fleet-kill:"));
    let before = server.requests(id);
    // The holder: asks with a lease of 3 s (its total timeout), then hangs.
    let lease_ms: u64 = 3000;
    let holder = Work {
        client: id.to_string(),
        store: store_of(0),
        threads: 1,
        once: true,
        hang: true,
        total_timeout_ms: lease_ms as u32,
        start_ms: now_ms(),
        ..Work::default()
    };
    let mut holder = spawn(server, &holder);
    let mut out = BufReader::new(holder.child().stdout.take().unwrap());
    // After the test harness's own lines.
    let mut line = String::new();
    while line.trim() != "holding" {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the holder ended");
    }
    let leased_at = now_ms();
    // The others, on both hosts, with time to wait past the lease.
    let others: Vec<Worker> = (0..4)
        .map(|i| {
            let w = Work {
                client: id.to_string(),
                store: store_of(i % 2),
                threads: 2,
                once: true,
                total_timeout_ms: 10_000,
                start_ms: now_ms(),
                ..Work::default()
            };
            spawn(server, &w)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    holder.child().kill().unwrap();
    holder.child().wait().unwrap();
    let seen: Vec<Seen> = others.into_iter().map(collect).collect();
    let last = seen.iter().flat_map(|s| &s.firsts).max().copied().unwrap();
    let tokens: BTreeSet<&String> = seen.iter().flat_map(|s| &s.tokens).collect();
    for s in &seen {
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!(s.firsts.len(), 2, "{s:?}");
    }
    assert_eq!(tokens.len(), 1, "one token for all: {tokens:?}");
    // The holder's request and one more.
    assert_eq!(server.requests(id) - before, 2);
    let waited = last - leased_at;
    assert!(
        waited <= lease_ms + 1000,
        "the last waiter had its token {waited} ms after the lease was taken"
    );
    println!("  every waiter had the token {waited} ms after the killed holder took a {lease_ms} ms lease");
}

fn redis_over_tls(server: &Server) {
    let password = "tls-pass-9f2c";
    let redis = Redis::start_tls(password).unwrap();
    let url = redis.tls_url(password);
    // This process does not trust the server's CA: refused at set time.
    let c = Client::new(&server.token_url_of("fleet-client"), "fleet-client").unwrap();
    let e = c.set_token_store(Some(&url)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{}", e.message());
    assert!(!e.message().contains(password), "{}", e.message());
    assert!(
        e.message().contains("certificate verify failed"),
        "{}",
        e.message()
    );
    // Processes that trust it (SSL_CERT_FILE) share one token.
    let id = "fleet-client";
    let before = server.requests(id);
    let work = |store: String| Work {
        client: id.to_string(),
        store: Some(store),
        threads: 2,
        once: true,
        total_timeout_ms: 5000,
        start_ms: now_ms(),
        ca_file: redis.ca_file.clone(),
        ..Work::default()
    };
    let seen: Vec<Seen> = (0..2)
        .map(|_| spawn(server, &work(url.clone())))
        .collect::<Vec<_>>()
        .into_iter()
        .map(collect)
        .collect();
    let tokens: BTreeSet<&String> = seen.iter().flat_map(|s| &s.tokens).collect();
    for s in &seen {
        assert_eq!(s.set_store_error, None);
        assert!(s.errors.is_empty(), "{:?}", s.errors);
    }
    assert_eq!(tokens.len(), 1);
    assert_eq!(server.requests(id) - before, 1);
    // A wrong password, with the CA trusted: refused at set time too.
    let wrong = spawn(server, &work(redis.tls_url("not-the-password")));
    let seen = collect(wrong);
    assert_eq!(seen.set_store_error.as_deref(), Some("Config"), "{seen:?}");
    println!(
        "  rediss:// with a password: shared; untrusted CA and wrong password refused at set time"
    );
}

/// A worker process: one client, `TC_FLEET_THREADS` threads asking for the
/// token until the stop file exists (or once each); prints each distinct
/// token, each error, and when each thread had its first token.
fn worker() {
    let var = |name: &str| std::env::var(name).ok();
    let c = Client::new(
        &var("TC_FLEET_TOKEN_URL").unwrap(),
        &var("TC_FLEET_ID").unwrap(),
    )
    .unwrap();
    c.set_client_secret(
        &var("TC_FLEET_SECRET").unwrap(),
        AuthMethod::ClientSecretPost,
    )
    .unwrap();
    let total: u32 = var("TC_FLEET_TOTAL_MS").unwrap().parse().unwrap();
    c.set_timeouts_ms(total.min(5000), total).unwrap();
    if let Some(rt) = var("TC_FLEET_RT") {
        c.set_refresh_token(Some(&rt)).unwrap();
    }
    if let Some(store) = var("TC_FLEET_STORE") {
        if let Err(e) = c.set_token_store(Some(&store)) {
            println!("set_store_error {:?}", e.kind());
            return;
        }
    }
    if var("TC_FLEET_HANG").is_some() {
        c.set_log_callback(
            Level::Info,
            Some(Arc::new(|_, e: &tokenclient::Event<'_>| {
                if e.name == "request.done" {
                    println!("holding");
                    loop {
                        std::thread::sleep(Duration::from_secs(60));
                    }
                }
            })),
        )
        .unwrap();
    }
    let once = var("TC_FLEET_ONCE").is_some();
    let stop = var("TC_FLEET_STOP_FILE").map(PathBuf::from);
    let start: u64 = var("TC_FLEET_START_MS").unwrap().parse().unwrap();
    let go = var("TC_FLEET_GO_DIR").map(|dir| {
        let dir = PathBuf::from(dir);
        std::fs::write(dir.join(format!("ready-{}", std::process::id())), b"").unwrap();
        dir.join("go")
    });
    let threads: usize = var("TC_FLEET_THREADS").unwrap().parse().unwrap();
    let stopped = AtomicBool::new(false);
    let results: Vec<(BTreeSet<String>, Vec<String>, Option<u64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    match &go {
                        Some(go) => {
                            while !go.exists() {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                        None => {
                            let wait = start.saturating_sub(now_ms());
                            std::thread::sleep(Duration::from_millis(wait));
                        }
                    }
                    let (mut tokens, mut errors, mut first) = (BTreeSet::new(), Vec::new(), None);
                    loop {
                        match c.get_token(None) {
                            Ok(t) => {
                                first.get_or_insert_with(now_ms);
                                tokens.insert(t.access_token().to_string());
                            }
                            Err(e) => errors.push(format!("{:?}: {}", e.kind(), e.message())),
                        }
                        if once {
                            break;
                        }
                        if stopped.load(Ordering::Relaxed)
                            || stop.as_ref().is_some_and(|p| p.exists())
                        {
                            stopped.store(true, Ordering::Relaxed);
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    (tokens, errors, first)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut tokens = BTreeSet::new();
    for (t, errors, first) in results {
        tokens.extend(t);
        for e in errors {
            println!("error {e}");
        }
        if let Some(ms) = first {
            println!("first {ms}");
        }
    }
    for t in tokens {
        println!("token {t}");
    }
}
