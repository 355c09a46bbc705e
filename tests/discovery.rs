//! A client made from an issuer (discovery), revocation, introspection and
//! userinfo, against the real OpenID Connect server (tests/server).

mod common;

use std::io::Write;
use std::net::TcpListener;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{read_request, shared, Server};
use serde_json::Value;
use tokenclient::{AuthMethod, CallOptions, Client, Clock, ErrorKind};

/// A monotonic clock the test moves forward by hand.
struct MovedClock {
    start: Instant,
    passed_ms: AtomicU64,
}

impl MovedClock {
    fn new() -> Arc<MovedClock> {
        Arc::new(MovedClock {
            start: Instant::now(),
            passed_ms: AtomicU64::new(0),
        })
    }

    fn pass(&self, d: Duration) {
        self.passed_ms
            .fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for MovedClock {
    fn now(&self) -> Instant {
        self.start + Duration::from_millis(self.passed_ms.load(Ordering::SeqCst))
    }
}

fn issuer(server: &Server) -> &str {
    server.manifest["issuer"].as_str().unwrap()
}

/// The `post-client` of the main issuer, made from the issuer.
fn post_client(server: &Server) -> Client {
    let c = Client::from_issuer(issuer(server), "post-client").unwrap();
    let secret = server.client("post-client")["client_secret"]
        .as_str()
        .unwrap();
    c.set_client_secret(secret, AuthMethod::ClientSecretPost)
        .unwrap();
    c
}

#[test]
fn a_client_from_the_issuer_gets_tokens() {
    let Some(server) = shared() else { return };
    let c = post_client(server);
    assert_eq!(
        c.token_url(),
        server.manifest["token_url"].as_str().unwrap()
    );
    let m = c.metadata().unwrap();
    assert_eq!(m.issuer, issuer(server));
    assert!(m.revocation_endpoint.is_some() && m.introspection_endpoint.is_some());
    assert!(m.jwks_uri.is_some() && m.authorization_endpoint.is_some());
    assert!(m
        .token_endpoint_auth_methods_supported
        .iter()
        .any(|a| a == "private_key_jwt"));
    let doc: Value = serde_json::from_str(&m.json).unwrap();
    assert_eq!(doc["issuer"], issuer(server));
    // Served from the cache: the same document, without a request.
    assert!(std::sync::Arc::ptr_eq(&m, &c.metadata().unwrap()));
    let t = c.client_credentials(Some("read")).unwrap();
    assert!(!t.access_token().is_empty());

    // PingOne's shape: the issuer has a path.
    let p1 = server.manifest["pingone"]["issuer"].as_str().unwrap();
    let c = Client::from_issuer(p1, "pingone-basic").unwrap();
    assert_eq!(
        c.token_url(),
        server.manifest["pingone"]["token_url"].as_str().unwrap()
    );
}

#[test]
fn revocation_and_introspection() {
    let Some(server) = shared() else { return };
    let c = post_client(server);
    let t = c.client_credentials(Some("read")).unwrap();
    let active: Value = serde_json::from_str(
        &c.introspect(t.access_token(), Some("access_token"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], "post-client");
    c.revoke(t.access_token(), Some("access_token")).unwrap();
    let after: Value =
        serde_json::from_str(&c.introspect(t.access_token(), None).unwrap()).unwrap();
    assert_eq!(after["active"], false);
    // An unknown token is "revoked" too (RFC 7009 §2.2).
    c.revoke("not-a-token", None).unwrap();
    // The resource server refuses the revoked token.
    let (status, _) = common::http_get_with_bearer(
        server.manifest["protected_url"].as_str().unwrap(),
        t.access_token(),
    );
    assert_eq!(status, 401);

    // Wrong client credentials: a typed OAuth error, without the secret.
    let bad = Client::from_issuer(issuer(server), "post-client").unwrap();
    bad.set_client_secret("wrong-secret-value", AuthMethod::ClientSecretPost)
        .unwrap();
    let e = bad.introspect(t.access_token(), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.oauth().unwrap().code, "invalid_client");
    assert!(!e.message().contains("wrong-secret-value"));
    assert_eq!(
        bad.revoke("", None).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn userinfo_of_an_access_token() {
    let Some(server) = shared() else { return };
    let c = post_client(server);
    let code = server.code("post-client", "openid offline_access", None);
    let t = c.exchange_code(&code, server.redirect_uri(), None).unwrap();
    let info: Value = serde_json::from_str(&c.userinfo(t.access_token()).unwrap()).unwrap();
    assert_eq!(info["sub"], server.manifest["test_user"]);
    let e = c.userinfo("not-a-token").unwrap_err();
    assert_eq!(e.http_status(), 401, "{e}");
}

/// A server that answers every request with `answers[i]` (then closes).
fn canned(answers: Vec<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for answer in answers {
            let (mut s, _) = listener.accept().unwrap();
            read_request(&mut s);
            s.write_all(answer.as_bytes()).unwrap();
        }
    });
    url
}

fn http(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn bad_metadata_is_a_typed_error() {
    // An issuer whose document names another issuer.
    let url = canned(vec![http(
        "200 OK",
        "",
        r#"{"issuer":"https://evil.example.com","token_endpoint":"https://evil.example.com/t"}"#,
    )]);
    let e = Client::from_issuer(&url, "c").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.message().contains("evil.example.com"), "{e}");

    // Neither location publishes: both 404s are named.
    let url = canned(vec![
        http("404 Not Found", "", "{}"),
        http("404 Not Found", "", "{}"),
    ]);
    let e = Client::from_issuer(&url, "c").unwrap_err();
    assert_eq!((e.kind(), e.http_status()), (ErrorKind::Http, 404), "{e}");
    assert!(e.message().contains("oauth-authorization-server"), "{e}");

    // The RFC 8414 location when the OpenID one is missing; max-age=0 is
    // taken as the one-minute floor: a minute later metadata() fetches
    // again, and a failed refetch keeps the good copy.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let doc = format!(r#"{{"issuer":"{url}","token_endpoint":"{url}/token"}}"#);
    let answers = vec![
        http("404 Not Found", "", "{}"),
        http("200 OK", "Cache-Control: public, max-age=0\r\n", &doc),
        http("500 Internal Server Error", "", "{}"),
    ];
    let seen = std::thread::spawn(move || {
        let mut paths = Vec::new();
        for answer in answers {
            let (mut s, _) = listener.accept().unwrap();
            let request = String::from_utf8(read_request(&mut s)).unwrap();
            paths.push(request.split(' ').nth(1).unwrap().to_string());
            s.write_all(answer.as_bytes()).unwrap();
        }
        paths
    });
    let c = Client::from_issuer(&url, "c").unwrap();
    assert_eq!(c.token_url(), format!("{url}/token"));
    let clock = MovedClock::new();
    c.set_clock(clock.clone()).unwrap();
    clock.pass(Duration::from_secs(30));
    c.metadata().unwrap(); // within the floor: no request
    clock.pass(Duration::from_secs(31));
    let kept = c.metadata().unwrap();
    assert_eq!(kept.token_endpoint, format!("{url}/token"));
    assert_eq!(
        seen.join().unwrap(),
        [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
        ]
    );

    // Not an issuer at all.
    assert_eq!(
        Client::from_issuer("http://example.com", "c")
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    // A client not made from an issuer has no metadata.
    let plain = Client::new("https://idp.example.com/token", "c").unwrap();
    assert_eq!(plain.metadata().unwrap_err().kind(), ErrorKind::Config);
    assert_eq!(
        plain.revoke("t", None).unwrap_err().kind(),
        ErrorKind::Config
    );
}

#[test]
fn discovery_obeys_the_call_deadline() {
    // A listener that never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let options = CallOptions {
        deadline: Some(std::time::Duration::from_millis(300)),
        cancel: None,
    };
    let start = std::time::Instant::now();
    let e = Client::from_issuer_with(&url, "c", &options).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert!(start.elapsed() < std::time::Duration::from_secs(3));
    drop(listener);
}

/// An authorization code with `nonce`, through the test server's /test/code.
fn code_with_nonce(server: &Server, client: &str, nonce: &str) -> String {
    let url = format!(
        "{}?issuer=main&client_id={client}&redirect_uri={}&scope={}&nonce={nonce}",
        server.manifest["code_url"].as_str().unwrap(),
        common::enc(server.redirect_uri()),
        common::enc("openid offline_access"),
    );
    let (status, body) = common::http_get(&url);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The server's ID tokens validate (signature with its JWKS, every claim);
/// a wrong nonce, another client's id and a changed token do not.
#[test]
fn id_tokens_of_the_real_server() {
    let Some(server) = shared() else { return };
    let c = post_client(server);
    let code = code_with_nonce(server, "post-client", "nonce-123");
    let t = c.exchange_code(&code, server.redirect_uri(), None).unwrap();
    let id_token = t.id_token().unwrap();
    let claims: Value =
        serde_json::from_str(&c.validate_id_token(id_token, Some("nonce-123")).unwrap()).unwrap();
    assert_eq!(claims["sub"], server.manifest["test_user"]);
    assert_eq!(claims["aud"], "post-client");
    assert_eq!(claims["nonce"], "nonce-123");

    let e = c
        .validate_id_token(id_token, Some("nonce-999"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Response);
    assert!(e.message().contains("nonce"), "{e}");
    // Valid for post-client only.
    let other = Client::from_issuer(issuer(server), "basic-client").unwrap();
    let e = other.validate_id_token(id_token, None).unwrap_err();
    assert!(e.message().contains("aud does not contain"), "{e}");
    // One character of the signature changed.
    let mut forged = id_token.to_string();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let e = c.validate_id_token(&forged, Some("nonce-123")).unwrap_err();
    assert!(
        e.message().contains("signature") || e.message().contains("base64url"),
        "{e}"
    );
    // The message never holds the token.
    assert!(!e.message().contains(&id_token[..40]));
}

/// The callback URL the test user's browser would come back to, after
/// logging in at `authorization_url`.
fn browse(server: &Server, authorization_url: &str) -> String {
    let url = format!(
        "{}?url={}",
        server.manifest["authorize_url"].as_str().unwrap(),
        common::enc(authorization_url)
    );
    let (status, body) = common::http_get(&url);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["callback"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A whole authorization code flow through an `Authorization`: the URL
/// (direct, then by PAR), the real authorization endpoint, the callback
/// (state, iss, code with PKCE, ID token with nonce, at_hash and c_hash),
/// and the request kept as text in between.
#[test]
fn authorization_code_flow_without_a_browser() {
    let Some(server) = shared() else { return };
    let c = post_client(server);
    for par in [false, true] {
        let mut auth = c
            .authorization(server.redirect_uri(), Some("openid offline_access"))
            .unwrap();
        auth.set_param("prompt", "consent").unwrap();
        auth.set_param("max_age", "600").unwrap();
        auth.set_par(par);
        let url = c
            .call(&CallOptions::default())
            .authorization_url(&auth)
            .unwrap();
        if par {
            assert!(
                url.contains("request_uri=") && !url.contains("code_challenge"),
                "{url}"
            );
        } else {
            assert!(
                url.contains("code_challenge_method=S256") && url.contains(auth.nonce()),
                "{url}"
            );
        }
        // Kept in a session between the redirect and the callback.
        let kept = auth.export();
        let auth = c.import_authorization(&kept).unwrap();
        let callback = browse(server, &url);
        assert!(callback.contains("iss="), "{callback}");
        let t = c
            .call(&CallOptions::default())
            .finish(&auth, &callback)
            .unwrap();
        assert!(t.refresh_token().is_some());
        let claims: Value = serde_json::from_str(t.id_token_claims().unwrap()).unwrap();
        assert_eq!(claims["nonce"], auth.nonce());
        assert_eq!(claims["sub"], server.manifest["test_user"]);

        // The same callback again: the code is used up (invalid_grant).
        let e = c
            .call(&CallOptions::default())
            .finish(&auth, &callback)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    }
}

#[test]
fn callbacks_that_must_be_refused() {
    let Some(server) = shared() else { return };
    let c = post_client(server);
    let auth = c
        .authorization(server.redirect_uri(), Some("openid"))
        .unwrap();
    let call = CallOptions::default();
    let iss = common::enc(issuer(server));
    let cb = |query: &str| format!("{}?{query}", server.redirect_uri());
    let cases = [
        (
            cb(&format!("code=x&state=wrong&iss={iss}")),
            ErrorKind::InvalidArgument,
            "state",
        ),
        (
            cb(&format!("code=x&iss={iss}")),
            ErrorKind::InvalidArgument,
            "no state",
        ),
        (
            cb(&format!("code=x&state={}", auth.state())),
            ErrorKind::InvalidArgument,
            "RFC 9207",
        ),
        (
            cb(&format!(
                "code=x&state={}&iss=https%3A%2F%2Fevil",
                auth.state()
            )),
            ErrorKind::InvalidArgument,
            "mix-up",
        ),
        (
            cb(&format!("state={}&iss={iss}", auth.state())),
            ErrorKind::InvalidArgument,
            "no code",
        ),
        (
            cb(&format!(
                "state={}&state={}&iss={iss}&code=x",
                auth.state(),
                auth.state()
            )),
            ErrorKind::InvalidArgument,
            "more than once",
        ),
        (
            cb(&format!(
                "error=access_denied&error_description=the+user+said+no&state={}&iss={iss}",
                auth.state()
            )),
            ErrorKind::OAuth,
            "the user said no",
        ),
    ];
    for (url, kind, needle) in cases {
        let e = c.call(&call).finish(&auth, &url).unwrap_err();
        assert_eq!(e.kind(), kind, "{url}: {e}");
        assert!(e.message().contains(needle), "{url}: {e}");
    }
}

fn approve(server: &Server, user_code: &str, deny: bool) {
    let url = format!(
        "{}?user_code={}{}",
        server.manifest["device_url"].as_str().unwrap(),
        common::enc(user_code),
        if deny { "&deny=1" } else { "" }
    );
    let (status, body) = common::http_get(&url);
    assert_eq!(status, 200, "{body}");
}

/// The device grant: started, polled while pending, approved by the test
/// user from another thread; a denied one ends with access_denied; a poll
/// with a short deadline ends by it.
#[test]
fn device_authorization_grant() {
    let Some(server) = shared() else { return };
    let c = post_client(server);
    let device = c.device_authorize(Some("openid")).unwrap();
    assert!(!device.user_code.is_empty() && device.verification_uri.starts_with("http"));
    assert!(device
        .verification_uri_complete
        .as_deref()
        .unwrap()
        .contains("user_code="));
    assert_eq!(device.interval, 1);
    let user_code = device.user_code.clone();
    let approver = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        approve(shared().unwrap(), &user_code, false);
    });
    let start = std::time::Instant::now();
    // Bounded, so that a broken approval fails the test instead of polling
    // for the code's 10 minutes.
    let bounded = CallOptions {
        deadline: Some(std::time::Duration::from_secs(20)),
        cancel: None,
    };
    let t = c.call(&bounded).device_poll(&device).unwrap();
    approver.join().unwrap();
    assert!(start.elapsed() >= std::time::Duration::from_millis(1500));
    assert!(!t.access_token().is_empty() && t.refresh_token().is_some());

    let denied = c.device_authorize(Some("openid")).unwrap();
    approve(server, &denied.user_code, true);
    let e = c.call(&bounded).device_poll(&denied).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.oauth().unwrap().code, "access_denied");

    let pending = c.device_authorize(None).unwrap();
    let options = CallOptions {
        deadline: Some(std::time::Duration::from_millis(1500)),
        cancel: None,
    };
    let start = std::time::Instant::now();
    let e = c.call(&options).device_poll(&pending).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert!(start.elapsed() < std::time::Duration::from_secs(3));
}

/// A local issuer whose JWKS rotates: the first set has key "a", every
/// later fetch gives key "b". Answers `/.well-known/openid-configuration`
/// and `/jwks`; returns its URL and the count of JWKS fetches.
fn rotating_issuer() -> (
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    [openssl::pkey::PKey<openssl::pkey::Private>; 2],
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let keys = [0, 1].map(|_| {
        openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap()
    });
    let jwk = |k: &openssl::pkey::PKey<openssl::pkey::Private>, kid: &str| {
        let r = k.rsa().unwrap();
        let b64 = |b: Vec<u8>| {
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b)
        };
        format!(
            r#"{{"keys":[{{"kty":"RSA","kid":"{kid}","alg":"RS256","n":"{}","e":"{}"}}]}}"#,
            b64(r.n().to_vec()),
            b64(r.e().to_vec())
        )
    };
    let sets = [jwk(&keys[0], "a"), jwk(&keys[1], "b")];
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let fetches = std::sync::Arc::new(AtomicUsize::new(0));
    let (issuer, counter) = (url.clone(), fetches.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let request = String::from_utf8_lossy(&read_request(&mut s)).into_owned();
            let body = if request.starts_with("GET /jwks") {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                sets[n.min(1)].clone()
            } else {
                format!(
                    r#"{{"issuer":"{issuer}","token_endpoint":"{issuer}/token","jwks_uri":"{issuer}/jwks","id_token_signing_alg_values_supported":["RS256"]}}"#
                )
            };
            let _ = s.write_all(http("200 OK", "", &body).as_bytes());
        }
    });
    (url, fetches, keys)
}

fn rs256_id_token(
    key: &openssl::pkey::PKey<openssl::pkey::Private>,
    kid: &str,
    issuer: &str,
) -> String {
    let b64 =
        |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = format!(
        r#"{{"iss":"{issuer}","sub":"u1","aud":"c","exp":{},"iat":{}}}"#,
        now + 300,
        now
    );
    let input = format!(
        "{}.{}",
        b64(format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#).as_bytes()),
        b64(claims.as_bytes())
    );
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), key).unwrap();
    let sig = signer.sign_oneshot_to_vec(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&sig))
}

/// Key rotation in the middle of a run: a token with the new kid makes the
/// client fetch the JWKS again once and validate; an unknown kid right after
/// does not make it fetch again (at most every 10 s).
#[test]
fn the_issuer_rotates_its_keys() {
    use std::sync::atomic::Ordering;
    let (issuer, fetches, keys) = rotating_issuer();
    let c = Client::from_issuer(&issuer, "c").unwrap();
    c.validate_id_token(&rs256_id_token(&keys[0], "a", &issuer), None)
        .unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    c.validate_id_token(&rs256_id_token(&keys[0], "a", &issuer), None)
        .unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "the set is cached");
    // The issuer rotates to key "b".
    let claims = c
        .validate_id_token(&rs256_id_token(&keys[1], "b", &issuer), None)
        .unwrap();
    assert!(claims.contains("\"sub\":\"u1\""));
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "fetched again for the new kid"
    );
    // A kid nobody has: refused, and no third fetch within 10 s.
    let e = c
        .validate_id_token(&rs256_id_token(&keys[1], "zz", &issuer), None)
        .unwrap_err();
    assert!(e.message().contains("no RS256 key with kid \"zz\""), "{e}");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // The old key is gone from the new set.
    let e = c
        .validate_id_token(&rs256_id_token(&keys[0], "a", &issuer), None)
        .unwrap_err();
    assert!(e.message().contains("kid \"a\""), "{e}");
}

/// A local issuer that answers each request with the next of `answers`
/// (metadata first) and hands back every request it read.
fn scripted_issuer(
    extra_metadata: &str,
    answers: Vec<(&'static str, String)>,
) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let doc = format!(
        r#"{{"issuer":"{url}","token_endpoint":"{url}/token","authorization_endpoint":"{url}/authorize","pushed_authorization_request_endpoint":"{url}/par","device_authorization_endpoint":"{url}/device"{extra_metadata}}}"#
    );
    let seen = std::thread::spawn(move || {
        let mut requests = Vec::new();
        let mut script = vec![("200 OK", doc)];
        script.extend(answers);
        for (status, body) in script {
            let (mut s, _) = listener.accept().unwrap();
            requests.push(String::from_utf8_lossy(&read_request(&mut s)).into_owned());
            s.write_all(http(status, "", &body).as_bytes()).unwrap();
        }
        requests
    });
    (url, seen)
}

const TOKEN: &str = r#"{"access_token":"AT","token_type":"Bearer","expires_in":60,"issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}"#;

/// When the metadata requires PAR, the URL carries only the request_uri the
/// PAR endpoint gave, even though the request did not ask for PAR.
#[test]
fn par_required_by_the_metadata() {
    let (url, seen) = scripted_issuer(
        r#","require_pushed_authorization_requests":true"#,
        vec![(
            "201 Created",
            r#"{"request_uri":"urn:example:par:1","expires_in":60}"#.into(),
        )],
    );
    let c = Client::from_issuer(&url, "c").unwrap();
    c.set_client_secret("s3cret-value", AuthMethod::ClientSecretPost)
        .unwrap();
    let auth = c
        .authorization("https://app.example.com/cb", Some("openid"))
        .unwrap();
    let location = c
        .call(&CallOptions::default())
        .authorization_url(&auth)
        .unwrap();
    assert_eq!(
        location,
        format!("{url}/authorize?client_id=c&request_uri=urn%3Aexample%3Apar%3A1")
    );
    let requests = seen.join().unwrap();
    let par = &requests[1];
    assert!(par.starts_with("POST /par "), "{par}");
    assert!(
        par.contains("code_challenge_method=S256")
            && par.contains(&format!("state={}", auth.state())),
        "{par}"
    );
    assert!(
        par.contains("client_secret=s3cret-value"),
        "the PAR request is authenticated"
    );
}

/// The device grant against a scripted server: authorization_pending, then
/// slow_down (the interval grows by 5 s), then the token; and expired_token
/// ends the polling with that OAuth error.
#[test]
fn device_polling_follows_the_server() {
    let device = r#"{"device_code":"DC","user_code":"UC","verification_uri":"https://x/device","expires_in":60,"interval":1}"#;
    let pending = r#"{"error":"authorization_pending"}"#;
    let (url, seen) = scripted_issuer(
        "",
        vec![
            ("200 OK", device.into()),
            ("400 Bad Request", pending.into()),
            ("400 Bad Request", r#"{"error":"slow_down"}"#.into()),
            ("200 OK", TOKEN.into()),
            ("200 OK", device.into()),
            (
                "400 Bad Request",
                r#"{"error":"expired_token","error_description":"too late"}"#.into(),
            ),
        ],
    );
    let c = Client::from_issuer(&url, "c").unwrap();
    c.set_public().unwrap();
    let d = c.device_authorize(None).unwrap();
    let start = std::time::Instant::now();
    let t = c.device_poll(&d).unwrap();
    let took = start.elapsed();
    assert_eq!(t.access_token(), "AT");
    // 1 s, 1 s, then 1 + 5 s after slow_down.
    assert!(
        took >= std::time::Duration::from_secs(8) && took < std::time::Duration::from_secs(12),
        "{took:?}"
    );
    let d = c.device_authorize(None).unwrap();
    let e = c.device_poll(&d).unwrap_err();
    assert_eq!(e.oauth().unwrap().code, "expired_token", "{e}");
    let requests = seen.join().unwrap();
    assert!(requests[2].contains(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=DC"
    ));
}

/// Token exchange (RFC 8693) sends the subject token, its type and the
/// extra parameters as a grant.
#[test]
fn token_exchange_sends_rfc_8693_parameters() {
    let (url, seen) = scripted_issuer("", vec![("200 OK", TOKEN.into())]);
    let c = Client::from_issuer(&url, "c").unwrap();
    c.set_client_secret("s3cret-value", AuthMethod::ClientSecretBasic)
        .unwrap();
    let t = c
        .token_exchange(
            "SUBJECT",
            "urn:ietf:params:oauth:token-type:access_token",
            &[
                ("audience", "https://api.example.com"),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
            ],
        )
        .unwrap();
    assert_eq!(
        t.get("issued_token_type"),
        Some("urn:ietf:params:oauth:token-type:access_token")
    );
    let body = &seen.join().unwrap()[1];
    for part in [
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange",
        "subject_token=SUBJECT",
        "subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token",
        "audience=https%3A%2F%2Fapi.example.com",
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }
    assert_eq!(
        c.token_exchange("", "t", &[]).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

/// The secret's method chosen from the metadata: client_secret_basic where
/// listed (the real server), else client_secret_post (a scripted issuer).
#[test]
fn the_client_secret_method_from_the_metadata() {
    if let Some(server) = shared() {
        let c = Client::from_issuer(issuer(server), "basic-client").unwrap();
        let secret = server.client("basic-client")["client_secret"]
            .as_str()
            .unwrap();
        assert_eq!(
            c.set_client_secret_auto(secret).unwrap(),
            AuthMethod::ClientSecretBasic
        );
        c.client_credentials(Some("read")).unwrap();
    }
    let (url, seen) = scripted_issuer(
        r#","token_endpoint_auth_methods_supported":["private_key_jwt","client_secret_post"]"#,
        vec![("200 OK", TOKEN.into())],
    );
    let c = Client::from_issuer(&url, "c").unwrap();
    assert_eq!(
        c.set_client_secret_auto("s3cret-value").unwrap(),
        AuthMethod::ClientSecretPost
    );
    c.client_credentials(None).unwrap();
    assert!(seen.join().unwrap()[1].contains("client_secret=s3cret-value"));
    let (url, _) = scripted_issuer(
        r#","token_endpoint_auth_methods_supported":["private_key_jwt"]"#,
        vec![],
    );
    let e = Client::from_issuer(&url, "c")
        .unwrap()
        .set_client_secret_auto("s")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    let plain = Client::new("https://idp.example.com/token", "c").unwrap();
    assert_eq!(
        plain.set_client_secret_auto("s").unwrap_err().kind(),
        ErrorKind::Config
    );
}

/// Key rotation at the real server: the rotating issuer's ID tokens
/// validate; after /test/rotate its new tokens (new kid) validate too, the
/// client fetching the JWKS again once, and a token of the old key is
/// refused by name.
#[test]
fn the_real_issuer_rotates_its_signing_key() {
    let Some(server) = shared() else { return };
    let issuer = server.manifest["rotating"]["issuer"].as_str().unwrap();
    let c = Client::from_issuer(issuer, "rotating-client").unwrap();
    let secret = server.client("rotating-client")["client_secret"]
        .as_str()
        .unwrap();
    c.set_client_secret(secret, AuthMethod::ClientSecretPost)
        .unwrap();
    let id_token = |c: &Client| {
        let code = server.code("rotating-client", "openid", None);
        let t = c.exchange_code(&code, server.redirect_uri(), None).unwrap();
        t.id_token().unwrap().to_string()
    };
    let before = id_token(&c);
    c.validate_id_token(&before, None).unwrap();
    let (status, body) =
        common::http_get(server.manifest["rotating"]["rotate_url"].as_str().unwrap());
    assert_eq!(status, 200, "{body}");
    let new_kid = serde_json::from_str::<Value>(&body).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let after = id_token(&c);
    let claims: Value = serde_json::from_str(&c.validate_id_token(&after, None).unwrap()).unwrap();
    assert_eq!(claims["aud"], "rotating-client");
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            after.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], new_kid.as_str());
    let e = c.validate_id_token(&before, None).unwrap_err();
    assert!(e.message().contains("rotating-signing-"), "{e}");
}
