//! The token cache and retries: against the real test server (which counts
//! token requests per client) and against fault servers.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{shared, Server};
use tokenclient::{AuthMethod, Client, Clock, ErrorKind};

/// A clock the test moves by hand.
struct TestClock {
    start: Instant,
    offset_ms: AtomicU64,
}

impl TestClock {
    fn new() -> Arc<TestClock> {
        Arc::new(TestClock {
            start: Instant::now(),
            offset_ms: AtomicU64::new(0),
        })
    }

    fn set(&self, elapsed: Duration) {
        self.offset_ms
            .store(elapsed.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Instant {
        self.start + Duration::from_millis(self.offset_ms.load(Ordering::SeqCst))
    }
}

fn token_requests(server: &Server, client_id: &str) -> u64 {
    let url = format!(
        "{}?client_id={client_id}",
        server.manifest["stats_url"].as_str().unwrap()
    );
    let (_, body) = common::http_get(&url);
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["token_requests"]
        .as_u64()
        .unwrap()
}

fn secret_client(server: &Server, name: &str, method: AuthMethod) -> Client {
    let m = server.client(name);
    let c = Client::new(&server.token_url_of(name), m["client_id"].as_str().unwrap()).unwrap();
    c.set_client_secret(m["client_secret"].as_str().unwrap(), method)
        .unwrap();
    c
}

#[test]
fn cached_reads_do_not_reach_the_server() {
    let Some(server) = shared() else { return };
    let c = secret_client(server, "basic-client", AuthMethod::ClientSecretBasic);
    let before = token_requests(server, "basic-client");
    let first = c.get_token(Some("read")).unwrap();
    for _ in 0..100 {
        assert_eq!(
            c.get_token(Some("read")).unwrap().access_token(),
            first.access_token()
        );
    }
    assert_eq!(token_requests(server, "basic-client") - before, 1);
    // Per scope: another scope is another token.
    let other = c.get_token(Some("write")).unwrap();
    assert_ne!(other.access_token(), first.access_token());
    assert_eq!(token_requests(server, "basic-client") - before, 2);
    // Invalidate drops it.
    c.invalidate_token(Some("read"));
    assert_ne!(
        c.get_token(Some("read")).unwrap().access_token(),
        first.access_token()
    );
    assert_eq!(token_requests(server, "basic-client") - before, 3);
}

#[test]
fn proactive_refresh_and_expiry_with_injected_time() {
    let Some(server) = shared() else { return };
    let c = secret_client(server, "post-client", AuthMethod::ClientSecretPost);
    let clock = TestClock::new();
    c.set_clock(clock.clone()).unwrap();
    let before = token_requests(server, "post-client");
    let first = c.get_token(Some("read")).unwrap();
    assert_eq!(first.expires_in(), Some(3600));
    // 79% of the lifetime: still cached.
    clock.set(Duration::from_secs(2844));
    assert_eq!(
        c.get_token(Some("read")).unwrap().access_token(),
        first.access_token()
    );
    assert_eq!(token_requests(server, "post-client") - before, 1);
    // 81%: this caller refreshes.
    clock.set(Duration::from_secs(2916));
    let second = c.get_token(Some("read")).unwrap();
    assert_ne!(second.access_token(), first.access_token());
    assert_eq!(token_requests(server, "post-client") - before, 2);
    // Past the second token's expiry minus the margin: never handed out.
    clock.set(Duration::from_secs(2916 + 3600 - 5));
    let third = c.get_token(Some("read")).unwrap();
    assert_ne!(third.access_token(), second.access_token());
    assert_eq!(token_requests(server, "post-client") - before, 3);
}

#[test]
fn a_thousand_callers_one_request() {
    let Some(server) = shared() else { return };
    let c = Arc::new(secret_client(
        server,
        "hs256-client",
        AuthMethod::ClientSecretJwt,
    ));
    let before = token_requests(server, "hs256-client");
    let barrier = Arc::new(Barrier::new(1000));
    let handles: Vec<_> = (0..1000)
        .map(|_| {
            let (c, barrier) = (c.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                c.get_token(Some("read"))
                    .map(|t| t.access_token().to_string())
            })
        })
        .collect();
    let tokens: Vec<String> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "all callers share one token"
    );
    assert_eq!(
        token_requests(server, "hs256-client") - before,
        1,
        "exactly one request"
    );
}

#[test]
fn rotated_refresh_token_reaches_the_hook() {
    let Some(server) = shared() else { return };
    let m = server.client("talkdesk-client");
    let c = Client::new(
        &server.token_url_of("talkdesk-client"),
        m["client_id"].as_str().unwrap(),
    )
    .unwrap();
    c.set_private_key(
        m["private_key_b64"].as_str().unwrap(),
        m["kid"].as_str(),
        None,
    )
    .unwrap();
    let code = server.code("talkdesk-client", "openid offline_access", None);
    let initial = c.exchange_code(&code, server.redirect_uri(), None).unwrap();
    let seed = initial.refresh_token().unwrap().to_string();

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    c.set_token_callback(Some(Arc::new(move |t: &Arc<tokenclient::Token>| {
        sink.lock()
            .unwrap()
            .push(t.refresh_token().unwrap_or_default().to_string());
    })))
    .unwrap();
    c.set_refresh_token(Some(&seed)).unwrap();
    let first = c.get_token(None).unwrap();
    let rotated = first.refresh_token().unwrap().to_string();
    assert_ne!(rotated, seed, "the server rotates refresh tokens");
    assert_eq!(*seen.lock().unwrap(), vec![rotated.clone()]);
    // The cache uses the rotated one: the seed is spent and would be refused.
    c.invalidate_token(None);
    let second = c.get_token(None).unwrap();
    assert_ne!(second.access_token(), first.access_token());
    assert_eq!(seen.lock().unwrap().len(), 2);
    let e = c.refresh(&seed, None).unwrap_err();
    assert_eq!(e.oauth().map(|o| o.code.as_str()), Some("invalid_grant"));
}

/// When each request arrived, and what it was.
type RequestLog = Arc<Mutex<Vec<(Instant, String)>>>;

/// A server that answers connection n with `replies[n]` (the last one
/// repeated), recording each request.
fn sequence_server(replies: Vec<String>) -> (String, RequestLog) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let log: RequestLog = Arc::default();
    let seen = log.clone();
    let count = AtomicUsize::new(0);
    thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let data = common::read_request(&mut s);
            let text = String::from_utf8_lossy(&data).into_owned();
            seen.lock().unwrap().push((Instant::now(), text));
            let reply = &replies[n.min(replies.len() - 1)];
            let _ = s.write_all(reply.as_bytes());
        }
    });
    (url, log)
}

fn http(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    )
}

fn jti_of(request: &str) -> String {
    let assertion = request
        .split("client_assertion=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let payload = assertion.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["jti"].as_str().unwrap().to_string()
}

fn jwt_client(url: &str) -> Client {
    let c = Client::new(url, "retry-test").unwrap();
    c.set_client_secret(&"r".repeat(32), AuthMethod::ClientSecretJwt)
        .unwrap();
    c.set_retry_policy(2, 50, 5000).unwrap();
    c
}

#[test]
fn retry_after_503_with_a_new_assertion() {
    let ok = r#"{"access_token":"after-retry","token_type":"Bearer","expires_in":60}"#;
    let (url, log) = sequence_server(vec![
        http("503 Service Unavailable", "Retry-After: 1\r\n", "busy"),
        http("200 OK", "", ok),
    ]);
    let c = jwt_client(&url);
    let start = Instant::now();
    assert_eq!(c.get_token(None).unwrap().access_token(), "after-retry");
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2, "one retry");
    let gap = log[1].0 - log[0].0;
    assert!(
        gap >= Duration::from_millis(950) && gap < Duration::from_millis(2500),
        "waited {gap:?}"
    );
    assert_ne!(
        jti_of(&log[0].1),
        jti_of(&log[1].1),
        "each attempt has a new jti"
    );
    assert!(start.elapsed() < Duration::from_secs(4));
}

#[test]
fn oauth_errors_are_not_retried() {
    let body = r#"{"error":"invalid_grant","error_description":"expired"}"#;
    let (url, log) = sequence_server(vec![http("400 Bad Request", "", body)]);
    let c = jwt_client(&url);
    let e = c.refresh("rt", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    let e = c.client_credentials(None).unwrap_err();
    assert_eq!(e.oauth().unwrap().code, "invalid_grant");
    assert_eq!(log.lock().unwrap().len(), 2, "no retries");
}

#[test]
fn refresh_and_code_grants_are_not_retried_once_processed() {
    let (url, log) = sequence_server(vec![http("500 Internal Server Error", "", "oops")]);
    let c = jwt_client(&url);
    assert_eq!(c.refresh("rt", None).unwrap_err().http_status(), 500);
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "a 500 may have rotated the refresh token"
    );
    assert_eq!(
        c.exchange_code("code", "https://a/cb", None)
            .unwrap_err()
            .http_status(),
        500
    );
    assert_eq!(log.lock().unwrap().len(), 2, "a code is single-use");
    assert_eq!(c.client_credentials(None).unwrap_err().http_status(), 500);
    assert_eq!(
        log.lock().unwrap().len(),
        5,
        "client_credentials: 1 + 2 retries"
    );
    // 429 proves the request was not processed: a refresh may be retried.
    let (url, log) = sequence_server(vec![http(
        "429 Too Many Requests",
        "Retry-After: 0\r\n",
        "",
    )]);
    let c = jwt_client(&url);
    assert_eq!(c.refresh("rt", None).unwrap_err().http_status(), 429);
    assert_eq!(log.lock().unwrap().len(), 3);
}

#[test]
fn refused_connections_are_retried_then_reported() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = jwt_client(&format!("http://127.0.0.1:{port}/token"));
    let start = Instant::now();
    let e = c.exchange_code("code", "https://a/cb", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert!(
        e.is_not_processed(),
        "never sent, so even a code may be retried"
    );
    assert!(start.elapsed() < Duration::from_secs(3));
    // A server that closes without answering: the request was sent, so a
    // code is not retried, client credentials are.
    let (url, log) = sequence_server(vec![String::new()]);
    let c = jwt_client(&url);
    assert_eq!(
        c.exchange_code("code", "https://a/cb", None)
            .unwrap_err()
            .kind(),
        ErrorKind::Transport
    );
    assert_eq!(log.lock().unwrap().len(), 1);
    assert_eq!(
        c.client_credentials(None).unwrap_err().kind(),
        ErrorKind::Transport
    );
    assert_eq!(log.lock().unwrap().len(), 4);
}
