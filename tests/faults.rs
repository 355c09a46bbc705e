//! The client against a hand-written loopback server that answers badly on
//! purpose: every answer must become the right typed error, within the
//! timeout, and the client must stay usable.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tokenclient::{AuthMethod, Client, ErrorKind};

/// What the fault server does with one request.
#[derive(Clone)]
enum Reply {
    /// A full HTTP response: status line, headers and body.
    Raw(Vec<u8>),
    /// Read the request, then say nothing until the client gives up.
    Silence,
}

fn http(status: &str, headers: &[&str], body: &[u8]) -> Reply {
    // The server closes after one answer, and says so: no keep-alive races.
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    Reply::Raw(bytes)
}

fn json(status: &str, body: &str) -> Reply {
    http(status, &["Content-Type: application/json"], body.as_bytes())
}

/// Serves `reply` to every connection (one request each) and reports each
/// request it read. Returns the token URL.
fn serve(reply: Reply) -> (String, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/oauth/token", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let reply = reply.clone();
            let tx = tx.clone();
            thread::spawn(move || {
                let request = common::read_request(&mut stream);
                let _ = tx.send(request);
                match reply {
                    Reply::Raw(bytes) => {
                        let _ = stream.write_all(&bytes);
                        let _ = stream.flush();
                        // Close after one answer.
                    }
                    Reply::Silence => thread::sleep(Duration::from_secs(30)),
                }
            });
        }
    });
    (url, rx)
}

const SECRET: &str = "s3cr3t value+&=é";

fn client(url: &str) -> Client {
    let c = Client::new(url, "fault-client").unwrap();
    c.set_client_secret(SECRET, AuthMethod::ClientSecretPost)
        .unwrap();
    c.set_retry_policy(0, 0, 0).unwrap(); // one request per call: these tests count them
    c
}

fn expect_error(reply: Reply, kind: ErrorKind) -> tokenclient::Error {
    let (url, _rx) = serve(reply);
    let e = client(&url).client_credentials(Some("read")).unwrap_err();
    assert_eq!(e.kind(), kind, "{e}");
    assert!(!e.message().contains(SECRET) && !e.message().contains("s3cr3t"));
    e
}

#[test]
fn not_json_200_is_a_response_error() {
    let e = expect_error(
        http("200 OK", &[], b"<html>hello</html>"),
        ErrorKind::Response,
    );
    assert_eq!(e.http_status(), 200);
}

#[test]
fn token_without_access_token_is_a_response_error() {
    let e = expect_error(
        json("200 OK", r#"{"token_type":"Bearer"}"#),
        ErrorKind::Response,
    );
    assert!(e.message().contains("access_token"), "{e}");
}

#[test]
fn html_500_is_an_http_error_with_a_snippet() {
    let e = expect_error(
        http(
            "500 Internal Server Error",
            &["Content-Type: text/html"],
            b"<h1>boom</h1>",
        ),
        ErrorKind::Http,
    );
    assert_eq!(e.http_status(), 500);
    assert!(e.message().contains("<h1>boom</h1>"), "{e}");
}

#[test]
fn oauth_error_body_is_an_oauth_error() {
    let e = expect_error(
        json(
            "400 Bad Request",
            r#"{"error":"invalid_scope","error_description":"no such scope","error_uri":"https://e/x"}"#,
        ),
        ErrorKind::OAuth,
    );
    assert_eq!(e.http_status(), 400);
    let o = e.oauth().unwrap();
    assert_eq!(
        (o.code.as_str(), o.description.as_deref(), o.uri.as_deref()),
        ("invalid_scope", Some("no such scope"), Some("https://e/x"))
    );
}

#[test]
fn reflected_secret_is_redacted() {
    let body =
        format!(r#"{{"error":"invalid_client","error_description":"secret {SECRET} is wrong"}}"#);
    let e = expect_error(json("401 Unauthorized", &body), ErrorKind::OAuth);
    assert!(e
        .oauth()
        .unwrap()
        .description
        .as_deref()
        .unwrap()
        .contains("[redacted]"));
}

#[test]
fn redirect_is_not_followed() {
    let (target, rx) = serve(json(
        "200 OK",
        r#"{"access_token":"x","token_type":"Bearer"}"#,
    ));
    let e = expect_error(
        http("302 Found", &[&format!("Location: {target}")], b""),
        ErrorKind::Http,
    );
    assert_eq!(e.http_status(), 302);
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "the redirect was followed"
    );
}

#[test]
fn five_mib_body_is_capped() {
    let big = vec![b'a'; 5 << 20];
    let e = expect_error(http("200 OK", &[], &big), ErrorKind::Transport);
    assert!(e.message().contains("limit"), "{e}");
}

#[test]
fn silent_server_times_out_on_time_and_client_stays_usable() {
    let (url, _rx) = serve(Reply::Silence);
    let c = client(&url);
    c.set_timeouts_ms(1000, 1500).unwrap();
    let start = Instant::now();
    let e = c.client_credentials(None).unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert!(e.message().contains("timed out"), "{e}");
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(2500),
        "timeout of 1500 ms took {took:?}"
    );
    // The same client then works against a good server.
    let (good, _rx2) = serve(json(
        "200 OK",
        r#"{"access_token":"abc","token_type":"Bearer","expires_in":60}"#,
    ));
    let c2 = client(&good);
    c2.set_timeouts_ms(1000, 1500).unwrap();
    assert_eq!(c2.client_credentials(None).unwrap().access_token(), "abc");
    let e = c.client_credentials(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
}

#[test]
fn refused_connection_is_a_transport_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client(&format!("http://127.0.0.1:{port}/token"));
    assert_eq!(
        c.client_credentials(None).unwrap_err().kind(),
        ErrorKind::Transport
    );
}

fn request_text(rx: &mpsc::Receiver<Vec<u8>>) -> String {
    String::from_utf8(rx.recv_timeout(Duration::from_secs(5)).unwrap()).unwrap()
}

#[test]
fn request_shape_and_form_encoding() {
    let (url, rx) = serve(json(
        "200 OK",
        r#"{"access_token":"abc","token_type":"Bearer","expires_in":"60","sid":"s-1"}"#,
    ));
    let c = client(&url);
    let t = c
        .grant(
            "urn:ietf:params:oauth:grant-type:token-exchange",
            &[
                ("audience", "a b+c&d=e"),
                ("resource", "https://r/1"),
                ("resource", "ü"),
            ],
        )
        .unwrap();
    assert_eq!(t.expires_in(), Some(60));
    assert_eq!(t.get("sid"), Some("s-1"));
    let req = request_text(&rx);
    let (head, body) = req.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("POST /oauth/token HTTP/1.1\r\n"), "{head}");
    let head_lower = head.to_ascii_lowercase();
    assert!(head_lower.contains("\r\ncontent-type: application/x-www-form-urlencoded\r\n"));
    assert!(head_lower.contains("\r\naccept: application/json\r\n"));
    assert!(head.contains(&format!(
        "\r\nUser-Agent: tokenclient/{}",
        tokenclient::VERSION
    )));
    assert_eq!(
        body,
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
         &audience=a+b%2Bc%26d%3De&resource=https%3A%2F%2Fr%2F1&resource=%C3%BC\
         &client_id=fault-client&client_secret=s3cr3t+value%2B%26%3D%C3%A9"
    );
}

#[test]
fn basic_auth_encodes_before_base64() {
    let (url, rx) = serve(json(
        "200 OK",
        r#"{"access_token":"abc","token_type":"Bearer"}"#,
    ));
    let c = Client::new(&url, "id:with space").unwrap();
    c.set_client_secret("p@ss:wörd", AuthMethod::ClientSecretBasic)
        .unwrap();
    c.client_credentials(None).unwrap();
    let req = request_text(&rx);
    use base64::Engine;
    let expected =
        base64::engine::general_purpose::STANDARD.encode("id%3Awith+space:p%40ss%3Aw%C3%B6rd");
    assert!(
        req.contains(&format!("\r\nAuthorization: Basic {expected}\r\n")),
        "{req}"
    );
    assert!(
        req.ends_with("\r\n\r\ngrant_type=client_credentials"),
        "{req}"
    );
}

#[test]
fn each_request_gets_a_new_assertion() {
    let (url, rx) = serve(json(
        "200 OK",
        r#"{"access_token":"abc","token_type":"Bearer"}"#,
    ));
    let c = Client::new(&url, "jwt-client").unwrap();
    c.set_client_secret(&"k".repeat(32), AuthMethod::ClientSecretJwt)
        .unwrap();
    let mut assertions = std::collections::HashSet::new();
    for _ in 0..3 {
        c.client_credentials(None).unwrap();
        let req = request_text(&rx);
        let body = req.split_once("\r\n\r\n").unwrap().1;
        assert!(body.contains(
            "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        ));
        let assertion = body.split("client_assertion=").nth(1).unwrap().to_string();
        assert!(assertions.insert(assertion));
    }
}

#[test]
fn public_client_sends_client_id_and_no_secret() {
    let (url, rx) = serve(json(
        "200 OK",
        r#"{"access_token":"abc","token_type":"Bearer"}"#,
    ));
    let c = Client::new(&url, "pub").unwrap();
    c.set_public().unwrap();
    c.exchange_code("Splx0Q 7dwK", "https://app/cb", Some("vrf-8Hq2LmZ"))
        .unwrap();
    let req = request_text(&rx);
    assert!(!req.to_ascii_lowercase().contains("authorization:"));
    assert!(req.ends_with(
        "grant_type=authorization_code&code=Splx0Q+7dwK&redirect_uri=https%3A%2F%2Fapp%2Fcb&code_verifier=vrf-8Hq2LmZ&client_id=pub"
    ), "{req}");
}

#[test]
fn reserved_params_and_missing_credentials() {
    let (url, _rx) = serve(json(
        "200 OK",
        r#"{"access_token":"abc","token_type":"Bearer"}"#,
    ));
    let c = Client::new(&url, "x").unwrap();
    assert_eq!(
        c.client_credentials(None).unwrap_err().kind(),
        ErrorKind::Config
    );
    c.set_public().unwrap();
    for name in [
        "client_id",
        "client_secret",
        "client_assertion",
        "grant_type",
        "",
    ] {
        let e = c.grant("client_credentials", &[(name, "v")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name}");
    }
}
