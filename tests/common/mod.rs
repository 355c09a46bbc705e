//! Starts the oidc-provider test server (tests/server) for a Rust test
//! binary and reads its manifest.
#![allow(dead_code)]

pub mod redis;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Server {
    child: Child,
    pub manifest: Value,
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "tokenclient-{tag}-{}-{}",
            std::process::id(),
            uuid_like()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Server {
    /// Starts a server with extra command-line arguments and waits for it.
    pub fn start(args: &[&str]) -> Server {
        let dir = TempDir::new("oidc");
        let manifest_path = dir.0.join("manifest.json");
        let script = repo().join("tests/server/server.mjs");
        assert!(
            repo().join("tests/server/node_modules").exists(),
            "run `npm ci --prefix tests/server` (make server) first"
        );
        let mut child = Command::new("node")
            .arg(&script)
            .arg("--manifest")
            .arg(&manifest_path)
            .arg("--parent-pid")
            .arg(std::process::id().to_string())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node must be installed");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("READY ") {
                    let _ = tx.send(());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        if rx.recv_timeout(deadline - Instant::now()).is_err() {
            let _ = child.kill();
            panic!("the test server did not start within 60 s");
        }
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
        // The manifest is read: its directory can go (a shared server is
        // never dropped, so nothing else would remove it).
        drop(dir);
        Server { child, manifest }
    }

    pub fn client(&self, name: &str) -> &Value {
        let c = &self.manifest["clients"][name];
        assert!(c.is_object(), "the manifest has no client {name}");
        c
    }

    pub fn token_url_of(&self, client: &str) -> String {
        self.client(client)["token_url"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Gets an authorization code for `client` through the test endpoint.
    pub fn code(&self, client: &str, scope: &str, code_challenge: Option<&str>) -> String {
        let c = self.client(client);
        let mut url = format!(
            "{}?issuer={}&client_id={}&redirect_uri={}&scope={}",
            self.manifest["code_url"].as_str().unwrap(),
            c["issuer"].as_str().unwrap_or("main"),
            enc(c["client_id"].as_str().unwrap()),
            enc(self.redirect_uri()),
            enc(scope),
        );
        if let Some(ch) = code_challenge {
            url.push_str(&format!(
                "&code_challenge={}&code_challenge_method=S256",
                enc(ch)
            ));
        }
        let (status, body) = http_get(&url);
        assert_eq!(status, 200, "code endpoint: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["code"].as_str().unwrap().to_string()
    }

    /// What the server counted of a client's token requests
    /// (`/test/stats`: `token_requests`, `token_errors` by error code).
    pub fn stats(&self, client_id: &str) -> Value {
        let url = format!(
            "{}?client_id={client_id}",
            self.manifest["stats_url"].as_str().unwrap()
        );
        serde_json::from_str(&http_get(&url).1).unwrap()
    }

    /// A client of the manifest's `name` that authenticates with its
    /// secret in the form (client_secret_post).
    pub fn post_client(&self, name: &str) -> tokenclient::Client {
        let m = self.client(name);
        let c =
            tokenclient::Client::new(&self.token_url_of(name), m["client_id"].as_str().unwrap())
                .unwrap();
        c.set_client_secret(
            m["client_secret"].as_str().unwrap(),
            tokenclient::AuthMethod::ClientSecretPost,
        )
        .unwrap();
        c
    }

    /// A refresh token of `name` (client_secret_post), from the code flow.
    pub fn refresh_token_of(&self, name: &str) -> String {
        let code = self.code(name, "openid offline_access", None);
        self.post_client(name)
            .exchange_code(&code, self.redirect_uri(), None)
            .unwrap()
            .refresh_token()
            .unwrap()
            .to_string()
    }

    /// The token requests the server counted of a client.
    pub fn requests(&self, client_id: &str) -> u64 {
        self.stats(client_id)["token_requests"].as_u64().unwrap()
    }

    pub fn redirect_uri(&self) -> &str {
        self.manifest["redirect_uri"].as_str().unwrap()
    }
}

/// One server for the whole test binary (tests in a binary run in threads),
/// or `None` when it cannot run here (see [`server_can_run`]).
pub fn shared() -> Option<&'static Server> {
    static SERVER: OnceLock<Server> = OnceLock::new();
    server_can_run().then(|| SERVER.get_or_init(|| Server::start(&[])))
}

/// Whether the oidc-provider test server can run here (node, and the
/// packages of tests/server). When it cannot, a server-backed test prints
/// why and passes without running, so that a plain `cargo test` works on a
/// machine without node; with `TOKENCLIENT_REQUIRE_SERVER` set (`make test`
/// sets it) it fails instead.
pub fn server_can_run() -> bool {
    let missing = if !repo().join("tests/server/node_modules").exists() {
        Some("tests/server/node_modules is missing (run `make server`)")
    } else if Command::new("node").arg("--version").output().is_err() {
        Some("node is not installed")
    } else {
        None
    };
    match missing {
        None => true,
        Some(why) if std::env::var_os("TOKENCLIENT_REQUIRE_SERVER").is_some() => {
            panic!("the test server is required (TOKENCLIENT_REQUIRE_SERVER) but cannot run: {why}")
        }
        Some(why) => {
            // Written past libtest's capture (which keeps eprintln! of a
            // passing test), once per test binary.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "skipped: the tests that need the oidc-provider test server, because {why}"
                );
            });
            false
        }
    }
}

pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn http_get(url: &str) -> (u32, String) {
    request(url, None, None)
}

pub fn http_post(url: &str, form: &str) -> (u32, String) {
    request(url, Some(form), None)
}

pub fn http_get_with_bearer(url: &str, token: &str) -> (u32, String) {
    request(url, None, Some(token))
}

fn request(url: &str, form: Option<&str>, bearer: Option<&str>) -> (u32, String) {
    let mut easy = curl::easy::Easy::new();
    easy.url(url).unwrap();
    if let Some(token) = bearer {
        let mut headers = curl::easy::List::new();
        headers
            .append(&format!("Authorization: Bearer {token}"))
            .unwrap();
        easy.http_headers(headers).unwrap();
    }
    if let Some(form) = form {
        easy.post(true).unwrap();
        easy.post_fields_copy(form.as_bytes()).unwrap();
    }
    easy.timeout(Duration::from_secs(30)).unwrap();
    let mut body = Vec::new();
    {
        let mut t = easy.transfer();
        t.write_function(|d| {
            body.extend_from_slice(d);
            Ok(d.len())
        })
        .unwrap();
        t.perform().unwrap();
    }
    (
        easy.response_code().unwrap(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// Reads one HTTP request (head and a Content-Length body) from a test
/// server's connection; gives up after 5 s of silence or at EOF.
pub fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return data,
            Ok(n) => n,
        };
        data.extend_from_slice(&buf[..n]);
        if request_complete(&data) {
            return data;
        }
    }
}

/// Whether `data` holds a whole HTTP request: its head, and as many body
/// bytes as its Content-Length says.
pub fn request_complete(data: &[u8]) -> bool {
    let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    data.len() >= end + 4 + len
}
