//! Hostile servers on loopback. Each plays one misbehaviour on the first
//! connection and answers properly on the next: the client must return the
//! right typed error within its timeout, then work on its next call.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tokenclient::{AuthMethod, Client, ErrorKind};

const GOOD: &str = r#"{"access_token":"good-token","token_type":"Bearer","expires_in":60}"#;
const TIMEOUT_MS: u32 = 1500;

type Play = Arc<dyn Fn(&mut TcpStream) + Send + Sync>;

fn respond(stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// A server whose first connection gets `first` and every later one a
/// good token. Returns the token URL.
fn server(first: Play) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let first = first.clone();
            thread::spawn(move || {
                if n == 0 {
                    first(&mut stream);
                } else {
                    common::read_request(&mut stream);
                    respond(
                        &mut stream,
                        "200 OK",
                        "Content-Type: application/json\r\n",
                        GOOD.as_bytes(),
                    );
                }
            });
        }
    });
    url
}

fn client(url: &str) -> Client {
    let c = Client::new(url, "hostile-test").unwrap();
    c.set_client_secret("a-secret-value", AuthMethod::ClientSecretBasic)
        .unwrap();
    c.set_timeouts_ms(1000, TIMEOUT_MS).unwrap();
    c.set_retry_policy(0, 0, 0).unwrap(); // the fault is on the first connection only
    c
}

/// Plays `first`, checks the error kind and that it came within the
/// timeout, then checks the client works on the next call.
fn check(
    first: impl Fn(&mut TcpStream) + Send + Sync + 'static,
    kind: ErrorKind,
) -> tokenclient::Error {
    let url = server(Arc::new(first));
    let c = client(&url);
    let start = Instant::now();
    let e = c.client_credentials(None).unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind(), kind, "{e}");
    assert!(
        took < Duration::from_millis(u64::from(TIMEOUT_MS) + 700),
        "took {took:?}, past the {TIMEOUT_MS} ms timeout"
    );
    assert!(!e.message().contains("a-secret-value"));
    let t = c
        .client_credentials(None)
        .expect("the client works after the fault");
    assert_eq!(t.access_token(), "good-token");
    e
}

fn json_200(body: &'static str) -> impl Fn(&mut TcpStream) + Send + Sync + 'static {
    move |s: &mut TcpStream| {
        common::read_request(s);
        respond(
            s,
            "200 OK",
            "Content-Type: application/json\r\n",
            body.as_bytes(),
        );
    }
}

#[test]
fn drip_feed_one_byte_per_second() {
    let e = check(
        |s| {
            common::read_request(s);
            for b in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{" {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                thread::sleep(Duration::from_secs(1));
            }
        },
        ErrorKind::Transport,
    );
    assert!(e.message().contains("timed out"), "{e}");
}

#[test]
fn headers_and_no_body() {
    check(
        |s| {
            common::read_request(s);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n");
            thread::sleep(Duration::from_secs(5));
        },
        ErrorKind::Transport,
    );
}

#[test]
fn closes_mid_body() {
    check(
        |s| {
            common::read_request(s);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"access_token\":\"x");
            let _ = s.shutdown(std::net::Shutdown::Both);
        },
        ErrorKind::Transport,
    );
}

#[test]
fn closes_without_answering() {
    check(
        |s| {
            common::read_request(s);
            let _ = s.shutdown(std::net::Shutdown::Both);
        },
        ErrorKind::Transport,
    );
}

#[test]
fn hundred_mib_body_with_length() {
    let e = check(
        |s| {
            common::read_request(s);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n");
            let chunk = vec![b'a'; 1 << 16];
            for _ in 0..1600 {
                if s.write_all(&chunk).is_err() {
                    return;
                }
            }
        },
        ErrorKind::Transport,
    );
    assert!(e.message().contains("limit"), "{e}");
}

#[test]
fn hundred_mib_chunked_body() {
    let e = check(
        |s| {
            common::read_request(s);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            let chunk = vec![b'a'; 1 << 16];
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(&chunk);
            framed.extend_from_slice(b"\r\n");
            for _ in 0..1600 {
                if s.write_all(&framed).is_err() {
                    return;
                }
            }
        },
        ErrorKind::Transport,
    );
    assert!(e.message().contains("limit"), "{e}");
}

#[test]
fn invalid_utf8_body() {
    check(
        |s| {
            common::read_request(s);
            respond(
                s,
                "200 OK",
                "",
                b"{\"access_token\":\"\xff\xfe\",\"token_type\":\"Bearer\"}",
            );
        },
        ErrorKind::Response,
    );
}

#[test]
fn deeply_nested_json() {
    check(
        |s| {
            common::read_request(s);
            let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
            respond(s, "200 OK", "", body.as_bytes());
        },
        ErrorKind::Response,
    );
    check(
        |s| {
            common::read_request(s);
            let body = format!(
                r#"{{"access_token":"x","token_type":"B","x":{}1{}}}"#,
                "[".repeat(100_000),
                "]".repeat(100_000)
            );
            respond(s, "200 OK", "", body.as_bytes());
        },
        ErrorKind::Response,
    );
}

#[test]
fn expires_in_variants() {
    check(
        json_200(r#"{"access_token":"x","token_type":"Bearer","expires_in":-5}"#),
        ErrorKind::Response,
    );
    check(
        json_200(r#"{"access_token":"x","token_type":"Bearer","expires_in":9223372036854775808}"#),
        ErrorKind::Response,
    );
    check(
        json_200(r#"{"access_token":"x","token_type":"Bearer","expires_in":"soon"}"#),
        ErrorKind::Response,
    );
    // A numeric string is what some servers send: accepted.
    let url = server(Arc::new(json_200(
        r#"{"access_token":"x","token_type":"Bearer","expires_in":"3600"}"#,
    )));
    assert_eq!(
        client(&url).client_credentials(None).unwrap().expires_in(),
        Some(3600)
    );
}

#[test]
fn duplicate_json_keys() {
    let e = check(
        json_200(r#"{"access_token":"x","token_type":"Bearer","access_token":"y"}"#),
        ErrorKind::Response,
    );
    assert!(e.message().contains("twice"), "{e}");
}

#[test]
fn too_many_requests_and_unavailable_carry_retry_after() {
    for status in ["429 Too Many Requests", "503 Service Unavailable"] {
        let e = check(
            move |s| {
                common::read_request(s);
                respond(s, status, "Retry-After: 7\r\n", b"slow down");
            },
            ErrorKind::Http,
        );
        assert_eq!(e.retry_after(), Some("7"));
        assert!(e.message().contains("Retry-After: 7"), "{e}");
        assert!(e.http_status() == 429 || e.http_status() == 503);
    }
}

#[test]
fn redirects_are_not_followed() {
    for location in [
        "http://example.com/token",
        "https://evil.example/token",
        "/elsewhere",
    ] {
        let e = check(
            move |s| {
                common::read_request(s);
                respond(
                    s,
                    "307 Temporary Redirect",
                    &format!("Location: {location}\r\n"),
                    b"",
                );
            },
            ErrorKind::Http,
        );
        assert_eq!(e.http_status(), 307);
    }
}

#[test]
fn tls_alert_instead_of_a_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut s = stream;
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf); // the ClientHello
                                      // A fatal handshake_failure alert record.
            let _ = s.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
        }
    });
    let c = client(&format!("https://localhost:{port}/token"));
    let start = Instant::now();
    let e = c.client_credentials(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert!(start.elapsed() < Duration::from_millis(u64::from(TIMEOUT_MS) + 700));
}

#[test]
fn garbage_instead_of_http() {
    check(
        |s| {
            common::read_request(s);
            let _ = s.write_all(b"\x00\x01\x02 this is not HTTP\r\n\r\n");
        },
        ErrorKind::Transport,
    );
}
