//! DPoP against scripted servers on loopback: what a token endpoint can do
//! wrong with nonces and token types, and what the client does about it.
//! (The real server's DPoP is tested in tests/dpop.rs.)

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use tokenclient::{AuthMethod, Client, ErrorKind};

/// What the scripted server saw: each request's DPoP proof claims.
type Seen = Arc<Mutex<Vec<Option<Value>>>>;

/// One answer: status line, extra headers, body.
type Answer = (String, String, String);

/// A token endpoint that answers the n-th request with `script(n)`.
fn server(script: impl Fn(usize) -> Answer + Send + Sync + 'static) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let kept = seen.clone();
    let script = Arc::new(script);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (seen, script) = (kept.clone(), script.clone());
            thread::spawn(move || loop {
                let request = common::read_request(&mut stream);
                if request.is_empty() {
                    return;
                }
                let n = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(proof_claims(&request));
                    seen.len() - 1
                };
                let (status, headers, body) = script(n);
                respond(&mut stream, &status, &headers, &body);
            });
        }
    });
    (url, seen)
}

fn respond(stream: &mut TcpStream, status: &str, headers: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

/// The claims of the request's `DPoP` header, if it has one.
fn proof_claims(request: &[u8]) -> Option<Value> {
    let text = String::from_utf8_lossy(request);
    let proof = text.lines().find_map(|l| {
        l.strip_prefix("DPoP: ")
            .or_else(|| l.strip_prefix("dpop: "))
    })?;
    let claims = proof.trim().split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()
}

fn ok(token_type: &str, headers: &str) -> Answer {
    (
        "200 OK".into(),
        headers.into(),
        format!(r#"{{"access_token":"at-1","token_type":"{token_type}","expires_in":300}}"#),
    )
}

fn use_nonce(headers: &str) -> Answer {
    (
        "400 Bad Request".into(),
        headers.into(),
        r#"{"error":"use_dpop_nonce","error_description":"nonce required"}"#.into(),
    )
}

fn client(url: &str) -> Client {
    let c = Client::new(url, "dpop-test").unwrap();
    c.set_client_secret("a-secret-value", AuthMethod::ClientSecretPost)
        .unwrap();
    c.set_timeouts_ms(1000, 3000).unwrap();
    c.set_retry_policy(0, 0, 0).unwrap();
    c.set_dpop_key(None, None).unwrap();
    c
}

fn nonces(seen: &Seen) -> Vec<Option<String>> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|c| {
            let c = c.as_ref().expect("every request carried a proof");
            c.get("nonce").and_then(Value::as_str).map(str::to_string)
        })
        .collect()
}

/// The nonce challenge is answered once, at once, though the retry policy
/// allows no retry; the nonce is kept for the next request.
#[test]
fn a_nonce_challenge_is_answered_once() {
    let (url, seen) = server(|n| match n {
        0 => use_nonce("DPoP-Nonce: n-1\r\n"),
        _ => ok("DPoP", "DPoP-Nonce: n-2\r\n"),
    });
    let c = client(&url);
    let token = c.client_credentials(None).unwrap();
    assert_eq!(token.token_type(), "DPoP");
    let jkt = c.dpop_thumbprint().unwrap();
    let cnf: Value = serde_json::from_str(token.cnf().unwrap()).unwrap();
    assert_eq!(cnf, serde_json::json!({ "jkt": jkt }));
    assert_eq!(token.authorization(), "DPoP at-1");
    c.client_credentials(None).unwrap();
    assert_eq!(
        nonces(&seen),
        [None, Some("n-1".into()), Some("n-2".into())],
        "no nonce, the challenge's, then the one the success gave"
    );
    let claims = seen.lock().unwrap()[1].clone().unwrap();
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], url.as_str());
    assert!(claims.get("ath").is_none(), "no ath at the token endpoint");
}

/// A server that asks for a nonce forever gets exactly one retry, then the
/// call ends with its OAuth error, saying why.
#[test]
fn a_server_asking_forever_gets_one_retry() {
    let (url, seen) = server(|n| use_nonce(&format!("DPoP-Nonce: n-{n}\r\n")));
    let c = client(&url);
    let e = c.client_credentials(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.oauth().unwrap().code, "use_dpop_nonce");
    assert!(
        e.message()
            .contains("again after the request with its nonce"),
        "{e}"
    );
    assert_eq!(nonces(&seen), [None, Some("n-0".into())]);
}

/// A challenge without a nonce is not retried.
#[test]
fn a_challenge_without_a_nonce_is_an_error() {
    let (url, seen) = server(|_| use_nonce(""));
    let e = client(&url).client_credentials(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert!(e.message().contains("no DPoP-Nonce"), "{e}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

/// A huge or malformed nonce is refused (a typed RESPONSE error), never
/// sent back, and not kept.
#[test]
fn a_huge_or_malformed_nonce_is_refused() {
    for bad in [
        "n".repeat(600),
        "has space".to_string(),
        "quote\"d".to_string(),
    ] {
        let header = format!("DPoP-Nonce: {bad}\r\n");
        let (url, seen) = server(move |_| use_nonce(&header));
        let c = client(&url);
        let e = c.client_credentials(None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Response, "{bad:.20}: {e}");
        assert!(e.message().contains("DPoP nonce"), "{e}");
        assert!(!e.message().contains(&bad), "the nonce is not echoed");
        assert_eq!(seen.lock().unwrap().len(), 1, "not retried");
        let proof = c.dpop_proof("GET", &url, None, None).unwrap();
        let claims: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(proof.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert!(claims.get("nonce").is_none(), "not kept");
    }
}

/// A nonce belongs to the origin that gave it.
#[test]
fn a_nonce_is_used_only_at_its_origin() {
    let (url, _) = server(|_| ok("DPoP", "DPoP-Nonce: origin-a\r\n"));
    let (other, _) = server(|_| ok("DPoP", ""));
    let c = client(&url);
    c.client_credentials(None).unwrap();
    let nonce_of = |target: &str| -> Option<String> {
        let proof = c.dpop_proof("GET", target, Some("at-1"), None).unwrap();
        let claims: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(proof.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        claims
            .get("nonce")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let same_origin = url.replace("/token", "/api/resource?x=1");
    assert_eq!(nonce_of(&same_origin).as_deref(), Some("origin-a"));
    assert_eq!(nonce_of(&other.replace("/token", "/api")), None);
    // A resource's own challenge: its nonce is kept for its origin only.
    let resource = other.replace("/token", "/api");
    let retry = c
        .dpop_answer(
            &resource,
            401,
            Some(r#"DPoP error="use_dpop_nonce", error_description="fresh nonce""#),
            Some("origin-b"),
        )
        .unwrap();
    assert!(retry);
    assert_eq!(nonce_of(&resource).as_deref(), Some("origin-b"));
    assert_eq!(nonce_of(&same_origin).as_deref(), Some("origin-a"));
    assert!(!c
        .dpop_answer(&resource, 200, None, Some("origin-c"))
        .unwrap());
    assert_eq!(
        c.dpop_answer(
            &resource,
            401,
            Some(r#"DPoP error="use_dpop_nonce""#),
            Some("bad nonce")
        )
        .unwrap_err()
        .kind(),
        ErrorKind::Response
    );
}

/// A Bearer token when a proof was sent is refused, unless allowed.
#[test]
fn a_bearer_answer_to_a_proof_is_refused_unless_allowed() {
    let (url, _) = server(|_| ok("Bearer", ""));
    let c = client(&url);
    let e = c.client_credentials(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Response, "{e}");
    assert!(e.message().contains("\"Bearer\""), "{e}");
    c.set_dpop_allow_bearer(true).unwrap();
    let token = c.client_credentials(None).unwrap();
    assert_eq!(token.authorization(), "Bearer at-1");
    assert_eq!(token.cnf(), None);
}

/// Cached tokens are kept per DPoP key: a new key gets a new token.
#[test]
fn the_cache_keys_on_the_dpop_key() {
    let (url, seen) = server(|_| ok("DPoP", ""));
    let c = client(&url);
    let first = c.get_token(Some("read")).unwrap();
    assert!(Arc::ptr_eq(&first, &c.get_token(Some("read")).unwrap()));
    let old_jkt = c.dpop_thumbprint().unwrap();
    c.set_dpop_key(None, None).unwrap();
    assert_ne!(c.dpop_thumbprint().unwrap(), old_jkt);
    let second = c.get_token(Some("read")).unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(seen.lock().unwrap().len(), 2);
    c.invalidate_token(Some("read"));
    c.get_token(Some("read")).unwrap();
    assert_eq!(seen.lock().unwrap().len(), 3);
}

/// Bad DPoP settings and arguments are typed errors.
#[test]
fn bad_dpop_arguments() {
    let c = Client::new("https://as.example/token", "c").unwrap();
    assert_eq!(
        c.dpop_proof("GET", "https://rs.example/", None, None)
            .unwrap_err()
            .kind(),
        ErrorKind::Config
    );
    assert_eq!(c.dpop_thumbprint(), None);
    assert_eq!(
        c.set_dpop_key(Some("not a key"), None).unwrap_err().kind(),
        ErrorKind::Key
    );
    assert_eq!(
        c.set_dpop_key(None, Some("ES999")).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        c.set_dpop_key(None, Some("RS256")).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    c.set_dpop_key(None, Some("ES256")).unwrap();
    for (method, url) in [("", "https://rs.example/"), ("GET", "ftp://rs.example/")] {
        assert_eq!(
            c.dpop_proof(method, url, None, None).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
    assert_eq!(
        c.dpop_proof("GET", "https://rs.example/", Some(""), None)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    // A TLS method without a certificate fails at the request.
    c.set_tls_client_auth(AuthMethod::TlsClientAuth).unwrap();
    assert_eq!(c.auth_method(), Some(AuthMethod::TlsClientAuth));
    assert_eq!(
        c.client_credentials(None).unwrap_err().kind(),
        ErrorKind::Config
    );
    assert_eq!(
        c.set_tls_client_auth(AuthMethod::ClientSecretPost)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
}
