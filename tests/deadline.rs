//! One deadline per call: the total timeout bounds a whole call, retries
//! and backoff included, against servers that are slow on every
//! connection (so every retry meets the same fault).

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tokenclient::{AuthMethod, Client, ErrorKind};

const TOTAL_MS: u32 = 1500;
const CONNECT_MS: u32 = 1000;

/// A server that plays `fault` on every connection. Returns its address
/// and the count of connections it took.
fn server(fault: fn(&mut TcpStream)) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            thread::spawn(move || fault(&mut stream));
        }
    });
    (addr, connections)
}

/// Writes `bytes` one at a time, 100 ms apart, until the client hangs up
/// (at most 30 s).
fn drip(s: &mut TcpStream, bytes: &[u8]) {
    for b in bytes.iter().cycle().take(300) {
        if s.write_all(&[*b]).is_err() {
            return;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// A client of `url` with the deadline's timeouts and the default retry
/// policy (2 retries).
fn client(url: &str) -> Client {
    let c = Client::new(url, "deadline-test").unwrap();
    c.set_client_secret("a-secret-value", AuthMethod::ClientSecretPost)
        .unwrap();
    c.set_timeouts_ms(CONNECT_MS, TOTAL_MS).unwrap();
    c
}

/// Runs one call with the default retry policy (2 retries) and checks that
/// it ends within the total timeout (+200 ms), with an error of `kind`
/// that says the deadline ran out. Returns the error and the connections
/// the server took.
fn check_deadline(
    url: &str,
    connections: &AtomicUsize,
    kind: ErrorKind,
) -> (tokenclient::Error, usize) {
    let c = client(url);
    let start = Instant::now();
    let e = c.client_credentials(None).unwrap_err();
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(u64::from(TOTAL_MS) + 200),
        "took {took:?}: past the {TOTAL_MS} ms deadline + 200 ms ({e})"
    );
    assert_eq!(e.kind(), kind, "{e}");
    assert!(
        e.message()
            .contains(&format!("deadline of {TOTAL_MS} ms ran out after")),
        "{e}"
    );
    (e, connections.load(Ordering::SeqCst))
}

#[test]
fn headers_dripped_on_every_connection() {
    let (addr, connections) = server(|s| {
        common::read_request(s);
        drip(
            s,
            b"HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        );
    });
    let (e, _) = check_deadline(
        &format!("http://{addr}/token"),
        &connections,
        ErrorKind::Transport,
    );
    assert!(e.message().contains("timed out"), "{e}");
}

#[test]
fn body_dripped_on_every_connection() {
    let (addr, connections) = server(|s| {
        common::read_request(s);
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n",
        );
        drip(s, b"{\"access_token\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    });
    check_deadline(
        &format!("http://{addr}/token"),
        &connections,
        ErrorKind::Transport,
    );
}

/// A TLS server that never answers the ClientHello: the connect timeout
/// (1000 ms) ends the first attempt; the retry gets only what remains.
#[test]
fn stalled_tls_handshake() {
    let (addr, connections) = server(|s| {
        let mut buf = [0u8; 4096];
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        while std::io::Read::read(s, &mut buf).is_ok_and(|n| n > 0) {}
    });
    let (_, attempts) = check_deadline(
        &format!("https://{addr}/token"),
        &connections,
        ErrorKind::Transport,
    );
    assert!(attempts >= 1);
}

/// 503 with a Retry-After (5 s) beyond the time left: the call ends with
/// the server's error at once, instead of waiting for a retry it cannot
/// finish.
#[test]
fn unavailable_with_a_long_retry_after() {
    let (addr, connections) = server(|s| {
        common::read_request(s);
        let body = b"busy";
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(body);
    });
    let start = Instant::now();
    let (e, attempts) = check_deadline(
        &format!("http://{addr}/token"),
        &connections,
        ErrorKind::Http,
    );
    assert_eq!(e.http_status(), 503);
    assert_eq!(e.retry_after(), Some("5"));
    assert_eq!(attempts, 1, "no retry was started");
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "it did not wait for the retry"
    );
    assert!(e.message().contains("after 1 attempt)"), "{e}");
}

/// Retries still happen while there is time: 503 with a short Retry-After
/// is retried, and each attempt is counted in the message.
#[test]
fn retries_fit_inside_the_deadline() {
    let (addr, connections) = server(|s| {
        common::read_request(s);
        let _ = s.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n",
        );
    });
    let c = client(&format!("http://{addr}/token"));
    c.set_retry_policy(2, 10, 100).unwrap();
    let e = c.client_credentials(None).unwrap_err();
    assert_eq!(e.http_status(), 503);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        3,
        "the first attempt and 2 retries"
    );
    assert!(
        !e.message().contains("deadline"),
        "the deadline did not end it: {e}"
    );
}
