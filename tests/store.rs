//! The shared token store, against the real test server and a real
//! `redis-server`: tokens shared between clients that stand for processes
//! (each client has its own in-process cache), entries that do not open
//! ignored, rotation followed across them, and every store failure gone
//! around. The multi-process fleet runs are tests/store/fleet.py.

mod common;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::redis::Redis;
use common::{shared, Server, TempDir};
use tokenclient::{AuthMethod, Client, ErrorKind, Level};

fn client(server: &Server, name: &str, store: &str) -> Client {
    let c = server.post_client(name);
    c.set_token_store(Some(store)).unwrap();
    c
}

/// The tests that count fleet-rotating's requests, one at a time.
static ROTATING: Mutex<()> = Mutex::new(());

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// The store's events of a client, as "name reason".
fn events(c: &Client) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    c.set_log_callback(
        Level::Info,
        Some(Arc::new(move |_, e: &tokenclient::Event<'_>| {
            if e.name.starts_with("store.") {
                sink.lock()
                    .unwrap()
                    .push(format!("{} {}", e.name, e.reason.unwrap_or("")));
            }
        })),
    )
    .unwrap();
    seen
}

#[test]
fn a_token_is_requested_once_for_every_client_of_the_store() {
    let Some(server) = shared() else { return };
    let dir = TempDir::new("store-share");
    let store = file_url(&dir.0.join("tokens"));
    let id = server.client("basic-client")["client_id"].as_str().unwrap();
    let before = server.requests(id);
    let m = server.client("basic-client");
    let make = || {
        let c = Client::new(&server.token_url_of("basic-client"), id).unwrap();
        c.set_client_secret(
            m["client_secret"].as_str().unwrap(),
            AuthMethod::ClientSecretBasic,
        )
        .unwrap();
        c.set_token_store(Some(&store)).unwrap();
        c
    };
    let fired = Arc::new(AtomicUsize::new(0));
    let (a, b, c) = (make(), make(), make());
    for client in [&a, &b, &c] {
        let fired = fired.clone();
        client
            .set_token_callback(Some(Arc::new(move |_: &Arc<tokenclient::Token>| {
                fired.fetch_add(1, Ordering::SeqCst);
            })))
            .unwrap();
    }
    let first = a.get_token(Some("read")).unwrap();
    let second = b.get_token(Some("read")).unwrap();
    let third = c.get_token(Some("read")).unwrap();
    assert_eq!(first.access_token(), second.access_token());
    assert_eq!(first.access_token(), third.access_token());
    assert_eq!(server.requests(id) - before, 1);
    // The callback fires where the token was obtained, not where it was read.
    assert_eq!(fired.load(Ordering::SeqCst), 1);
    // What was read from the store lives for what is left of its lifetime.
    assert!(second.expires_in().unwrap() <= first.expires_in().unwrap());
    // Another scope is another entry.
    let write = b.get_token(Some("write")).unwrap();
    assert_ne!(write.access_token(), first.access_token());
    assert_eq!(server.requests(id) - before, 2);
    // The store is a 0700 directory of 0600 files named by hashes.
    let meta = std::fs::metadata(dir.0.join("tokens")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    for entry in std::fs::read_dir(dir.0.join("tokens")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert_eq!(
            entry.metadata().unwrap().permissions().mode() & 0o777,
            0o600,
            "{name}"
        );
        assert!(!name.contains("read") && !name.contains(id), "{name}");
        // Nothing of the token is readable in it.
        let bytes = std::fs::read(entry.path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(first.access_token()));
    }
}

/// The entry files of a store directory (not the locks).
fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none())
        .collect()
}

#[test]
fn entries_that_do_not_open_are_ignored() {
    let Some(server) = shared() else { return };
    let dir = TempDir::new("store-tamper");
    let store_dir = dir.0.join("tokens");
    let store = file_url(&store_dir);
    let id = server.client("post-client")["client_id"].as_str().unwrap();
    let a = client(server, "post-client", &store);
    let first = a.get_token(None).unwrap();
    let found = entries(&store_dir);
    assert_eq!(found.len(), 1, "{found:?}");
    let entry = found[0].clone();
    let good = std::fs::read(&entry).unwrap();
    let before = server.requests(id);
    let mut tampered = good.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    for (what, bytes) in [
        ("tampered", tampered),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("garbage", b"not an entry at all".to_vec()),
    ] {
        std::fs::write(&entry, &bytes).unwrap();
        let fresh = client(server, "post-client", &store)
            .get_token(None)
            .unwrap();
        assert_ne!(fresh.access_token(), first.access_token(), "{what}");
    }
    assert_eq!(server.requests(id) - before, 4);
    // A client with another key finds nothing of this one's, and its
    // entry does not open for this one.
    let other = client(server, "post-client", &store);
    other.set_token_store_key(Some(&[7u8; 32])).unwrap();
    let theirs = other.get_token(None).unwrap();
    assert_eq!(server.requests(id) - before, 5);
    assert_eq!(entries(&store_dir).len(), 2);
    let ours = client(server, "post-client", &store)
        .get_token(None)
        .unwrap();
    assert_ne!(ours.access_token(), theirs.access_token());
    assert_eq!(server.requests(id) - before, 5);
}

#[test]
fn a_rotated_refresh_token_is_what_the_next_refresher_uses() {
    let Some(server) = shared() else { return };
    let _alone = ROTATING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("store-rotate");
    let store = file_url(&dir.0.join("tokens"));
    let name = "fleet-rotating";
    let id = server.client(name)["client_id"].as_str().unwrap();
    // A refresh token of the code flow, given to every "process".
    let rt = server.refresh_token_of(name);
    let clients: Vec<Client> = (0..3)
        .map(|_| {
            let c = client(server, name, &store);
            c.set_refresh_token(Some(&rt)).unwrap();
            c
        })
        .collect();
    let before = server.stats(id);
    // Several refresh periods (the server's tokens live 2 s: refreshed
    // after 1 s), each client asking in turn.
    let started = Instant::now();
    let mut tokens = std::collections::BTreeSet::new();
    while started.elapsed() < Duration::from_millis(4500) {
        for c in &clients {
            tokens.insert(c.get_token(None).unwrap().access_token().to_string());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = server.stats(id);
    let made =
        after["token_requests"].as_u64().unwrap() - before["token_requests"].as_u64().unwrap();
    // One refresh per period for all of them (about 5 in 4.5 s), and never
    // a stale refresh token.
    assert_eq!(after["token_errors"], before["token_errors"], "{after}");
    assert!((4..=6).contains(&made), "{made} refreshes");
    assert_eq!(tokens.len() as u64, made);
}

#[test]
fn a_directory_open_to_others_is_refused() {
    let dir = TempDir::new("store-perm");
    let open = dir.0.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let c = Client::new("https://idp.example/token", "x").unwrap();
    let e = c.set_token_store(Some(&file_url(&open))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("0700"), "{}", e.message());
    let link = dir.0.join("link");
    std::os::unix::fs::symlink(dir.0.join("elsewhere"), &link).unwrap();
    std::fs::create_dir(dir.0.join("elsewhere")).unwrap();
    let e = c.set_token_store(Some(&file_url(&link))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{}", e.message());
    for bad in ["file://relative", "memcached://h", "redis://", "   "] {
        assert!(c.set_token_store(Some(bad)).is_err(), "{bad}");
    }
    // One directory twice in the tiers would wait on its own lease.
    let twice = format!(
        "{} {}",
        file_url(&dir.0.join("t")),
        file_url(&dir.0.join("t"))
    );
    let e = c.set_token_store(Some(&twice)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{}", e.message());
    assert!(e.message().contains("twice"), "{}", e.message());
    // A public client has no credential to derive the key from: the store
    // is gone around (said once) until a key is set.
    c.set_public().unwrap();
    c.set_token_store(None).unwrap();
    let e = c
        .set_token_store_key(Some(b"0123456789abcdef"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
}

#[test]
fn a_store_that_fails_is_gone_around_and_said_once() {
    let Some(server) = shared() else { return };
    let dir = TempDir::new("store-fail");
    let store_dir = dir.0.join("tokens");
    let c = client(server, "post-client", &file_url(&store_dir));
    let seen = events(&c);
    // The directory becomes unusable (a file where it was).
    std::fs::remove_dir_all(&store_dir).unwrap();
    std::fs::write(&store_dir, b"in the way").unwrap();
    for scope in ["read", "write"] {
        assert!(!c.get_token(Some(scope)).unwrap().access_token().is_empty());
    }
    let events = seen.lock().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].starts_with("store.fallback the file store"),
        "{events:?}"
    );
}

// ---------------------------------------------------------------- Redis

/// A redis-server of this test's, on a free loopback port, in a temporary
/// directory; killed when dropped.
#[test]
fn redis_shares_tokens_and_every_failure_is_gone_around() {
    let Some(server) = shared() else { return };
    let Some(mut redis) = Redis::start(&[]) else {
        return;
    };
    let url = redis.url();
    let id = server.client("es256-client")["client_id"].as_str().unwrap();
    let m = server.client("es256-client");
    let make = || {
        let c = Client::new(&server.token_url_of("es256-client"), id).unwrap();
        c.set_private_key(
            m["private_key_pem"].as_str().unwrap(),
            m["kid"].as_str(),
            None,
        )
        .unwrap();
        c.set_token_store(Some(&url)).unwrap();
        c
    };
    let before = server.requests(id);
    let a = make();
    let first = a.get_token(Some("read")).unwrap();
    let b = make();
    assert_eq!(
        b.get_token(Some("read")).unwrap().access_token(),
        first.access_token()
    );
    assert_eq!(server.requests(id) - before, 1);
    // The entry: under the prefix, with the token's time to live, sealed.
    let keys = redis.cli(&["--scan", "--pattern", "test:*"]);
    let key = keys
        .lines()
        .find(|k| !k.ends_with(".lease"))
        .unwrap()
        .to_string();
    let ttl: i64 = redis.cli(&["pttl", &key]).parse().unwrap();
    assert!(ttl > 3_000_000 && ttl <= 3_600_000, "{ttl}");
    assert!(!redis.cli(&["get", &key]).contains(first.access_token()));
    assert!(!keys.contains(".lease"), "the lease was released: {keys}");

    // Down: every call still gets a token (from the endpoint), said once.
    redis.kill();
    let c = make();
    let seen = events(&c);
    for scope in ["read", "write", "read write"] {
        assert!(!c.get_token(Some(scope)).unwrap().access_token().is_empty());
    }
    let said = seen.lock().unwrap().clone();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("store.fallback the Redis store redis://127.0.0.1"),
        "{said:?}"
    );
    // Back: used again, and that is said too.
    redis.restart();
    c.invalidate_token(Some("read"));
    c.get_token(Some("read")).unwrap();
    let said = seen.lock().unwrap().clone();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said[1].starts_with("store.recovered"), "{said:?}");
    let d = make();
    d.get_token(Some("read")).unwrap();
    let n = server.requests(id);
    assert_eq!(
        make().get_token(Some("read")).unwrap().access_token(),
        d.get_token(Some("read")).unwrap().access_token()
    );
    assert_eq!(server.requests(id), n);

    // Full (maxmemory, no eviction): writes fail, tokens still come.
    redis.cli(&["config", "set", "maxmemory", "1"]);
    redis.cli(&["config", "set", "maxmemory-policy", "noeviction"]);
    let e = make();
    let seen = events(&e);
    assert!(!e
        .get_token(Some("write"))
        .unwrap()
        .access_token()
        .is_empty());
    let said = seen.lock().unwrap().clone();
    assert!(
        said.iter()
            .any(|s| s.contains("OOM") || s.contains("store.fallback")),
        "{said:?}"
    );
    redis.cli(&["config", "set", "maxmemory", "0"]);
}

#[test]
fn redis_with_a_password_refuses_a_wrong_one_at_set_time() {
    let Some(redis) = Redis::start(&["--requirepass", "s3cret-pw"]) else {
        return;
    };
    let c = Client::new("https://idp.example/token", "x").unwrap();
    let good = format!("redis://:s3cret-pw@127.0.0.1:{}/0", redis.port);
    c.set_token_store(Some(&good)).unwrap();
    let wrong = format!("redis://:wrong-pw@127.0.0.1:{}/0", redis.port);
    let e = c.set_token_store(Some(&wrong)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{}", e.message());
    assert!(!e.message().contains("wrong-pw"), "{}", e.message());
    // Not there: not an error now (gone around until it answers).
    let gone = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    c.set_token_store(Some(&format!("redis://127.0.0.1:{gone}/0")))
        .unwrap();
}

/// A server that speaks no Redis: whatever comes, it answers garbage.
#[test]
fn a_garbage_answering_redis_is_gone_around() {
    let Some(server) = shared() else { return };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(b"%%garbage\r\n\x00\xff*-1x\r\n").is_err() {
                        break;
                    }
                }
            });
        }
    });
    let c = client(
        server,
        "post-client",
        &format!("redis://127.0.0.1:{port}/0"),
    );
    let seen = events(&c);
    let started = Instant::now();
    assert!(!c.get_token(Some("read")).unwrap().access_token().is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(seen.lock().unwrap().len(), 1, "{:?}", seen.lock().unwrap());
}

#[test]
fn a_slow_redis_is_gone_around_within_its_budget() {
    let Some(server) = shared() else { return };
    let Some(redis) = Redis::start(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let c = client(server, "post-client", &redis.url());
    let seen = events(&c);
    // The server stops answering for 2 s (it is single-threaded).
    let port = redis.port.to_string();
    let sleeper = std::thread::spawn(move || {
        Command::new("redis-cli")
            .args(["-p", &port, "debug", "sleep", "2"])
            .output()
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    assert!(!c.get_token(Some("slow")).unwrap().access_token().is_empty());
    let took = started.elapsed();
    sleeper.join().unwrap();
    // The GET's 50 ms budget, then the token endpoint: far from the 2 s.
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let said = seen.lock().unwrap().clone();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("no answer within the time budget"),
        "{said:?}"
    );
}

#[test]
fn a_refresh_without_the_store_uses_the_latest_refresh_token() {
    let Some(server) = shared() else { return };
    let _alone = ROTATING.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut redis) = Redis::start(&[]) else {
        return;
    };
    let name = "fleet-rotating";
    let id = server.client(name)["client_id"].as_str().unwrap();
    let rt = server.refresh_token_of(name);
    let [a, b] = [0, 1].map(|_| {
        let c = client(server, name, &redis.url());
        c.set_refresh_token(Some(&rt)).unwrap();
        c
    });
    // a refreshes (the seed is spent); b reads a's token from the store,
    // and with it the rotated refresh token.
    let first = a.get_token(None).unwrap();
    assert_eq!(
        b.get_token(None).unwrap().access_token(),
        first.access_token()
    );
    let before = server.stats(id);
    // The store goes; b's token comes due (2 s tokens, refreshed after 1 s)
    // and b refreshes on its own, with the latest refresh token.
    redis.kill();
    std::thread::sleep(Duration::from_millis(1100));
    let next = b.get_token(None).unwrap();
    assert_ne!(next.access_token(), first.access_token());
    let after = server.stats(id);
    assert_eq!(after["token_errors"], before["token_errors"], "{after}");
    assert_eq!(
        after["token_requests"].as_u64().unwrap() - before["token_requests"].as_u64().unwrap(),
        1
    );
}

#[test]
fn tiers_share_on_the_host_while_redis_is_down() {
    let Some(server) = shared() else { return };
    let Some(mut redis) = Redis::start(&[]) else {
        return;
    };
    let dir = TempDir::new("store-tiers");
    let url = format!("{} {}", file_url(&dir.0.join("host")), redis.url());
    let id = server.client("post-client")["client_id"].as_str().unwrap();
    redis.kill();
    let a = client(server, "post-client", &url);
    let seen = events(&a);
    let before = server.requests(id);
    let first = a.get_token(Some("tiers-down")).unwrap();
    // Another process of the host still shares through the file store.
    let b = client(server, "post-client", &url);
    assert_eq!(
        b.get_token(Some("tiers-down")).unwrap().access_token(),
        first.access_token()
    );
    assert_eq!(server.requests(id) - before, 1);
    let said = seen.lock().unwrap().clone();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("store.fallback the Redis store"),
        "{said:?}"
    );
    // Redis back: the next operation that reaches it says so.
    redis.restart();
    a.get_token(Some("tiers-up")).unwrap();
    let said = seen.lock().unwrap().clone();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said[1].starts_with("store.recovered"), "{said:?}");
    // And what a wrote is in Redis for the other hosts.
    let keys = redis.cli(&["--scan", "--pattern", "test:*"]);
    assert!(keys.lines().any(|k| !k.ends_with(".lease")), "{keys}");
}
