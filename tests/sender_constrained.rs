//! Sender-constrained tokens against the real test server (oidc-provider
//! with DPoP and mTLS on): every grant with DPoP, the nonce challenges at
//! the token endpoint and at the resource, tokens refused without their
//! proof or with another key's, and both mTLS client authentication
//! methods through the discovery document's mTLS aliases.

mod common;

use std::time::Duration;

use common::{enc, http_get, shared, Server};
use serde_json::Value;
use tokenclient::{AuthMethod, Client, ErrorKind, Token};

/// An answer of the protected resource.
struct Answer {
    status: u32,
    www_authenticate: Option<String>,
    dpop_nonce: Option<String>,
    body: Value,
}

/// GET `url` with `authorization` and an optional DPoP proof, presenting
/// `cert` (cert file, key file) and trusting `ca` when given.
fn get(
    url: &str,
    authorization: &str,
    proof: Option<&str>,
    tls: Option<(&str, Option<(&str, &str)>)>,
) -> Answer {
    let mut easy = curl::easy::Easy::new();
    easy.url(url).unwrap();
    let mut headers = curl::easy::List::new();
    headers
        .append(&format!("Authorization: {authorization}"))
        .unwrap();
    if let Some(p) = proof {
        headers.append(&format!("DPoP: {p}")).unwrap();
    }
    easy.http_headers(headers).unwrap();
    if let Some((ca, cert)) = tls {
        easy.cainfo(ca).unwrap();
        if let Some((cert, key)) = cert {
            easy.ssl_cert(cert).unwrap();
            easy.ssl_key(key).unwrap();
        }
    }
    easy.timeout(Duration::from_secs(30)).unwrap();
    let (mut body, mut head) = (Vec::new(), Vec::new());
    {
        let mut t = easy.transfer();
        t.write_function(|d| {
            body.extend_from_slice(d);
            Ok(d.len())
        })
        .unwrap();
        t.header_function(|h| {
            head.push(String::from_utf8_lossy(h).trim().to_string());
            true
        })
        .unwrap();
        t.perform().unwrap();
    }
    let header = |name: &str| {
        head.iter().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    Answer {
        status: easy.response_code().unwrap(),
        www_authenticate: header("www-authenticate"),
        dpop_nonce: header("dpop-nonce"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

/// A DPoP request to the protected resource as a client makes it: a proof
/// with the origin's last nonce, and once more after a nonce challenge.
fn dpop_get(c: &Client, url: &str, token: &Token) -> (Answer, bool) {
    let proof = c
        .dpop_proof("GET", url, Some(token.access_token()), None)
        .unwrap();
    let first = get(url, token.authorization(), Some(&proof), None);
    let retry = c
        .dpop_answer(
            url,
            first.status as u16,
            first.www_authenticate.as_deref(),
            first.dpop_nonce.as_deref(),
        )
        .unwrap();
    if !retry {
        return (first, false);
    }
    let proof = c
        .dpop_proof("GET", url, Some(token.access_token()), None)
        .unwrap();
    (get(url, token.authorization(), Some(&proof), None), true)
}

fn manifest_str<'a>(server: &'a Server, path: &[&str]) -> &'a str {
    let mut v = &server.manifest;
    for p in path {
        v = &v[*p];
    }
    v.as_str()
        .unwrap_or_else(|| panic!("the manifest has no {path:?}"))
}

/// `dpop-client` (its tokens must be DPoP-bound) made from the issuer.
fn dpop_client(server: &Server) -> Client {
    let m = server.client("dpop-client");
    let c = Client::from_issuer(manifest_str(server, &["issuer"]), "dpop-client").unwrap();
    c.set_client_secret(
        m["client_secret"].as_str().unwrap(),
        AuthMethod::ClientSecretPost,
    )
    .unwrap();
    c.set_dpop_key(None, None).unwrap();
    c
}

fn assert_bound(c: &Client, t: &Token) {
    assert_eq!(t.token_type(), "DPoP");
    let cnf: Value = serde_json::from_str(t.cnf().expect("a cnf")).unwrap();
    assert_eq!(cnf["jkt"], c.dpop_thumbprint().unwrap().as_str());
    assert!(t.authorization().starts_with("DPoP "));
}

#[test]
fn every_grant_with_dpop() {
    let Some(server) = shared() else { return };
    let c = dpop_client(server);
    // client_credentials: the server asks for a nonce first (it requires
    // one); the client answers at once, within one call.
    assert_bound(&c, &c.client_credentials(Some("read")).unwrap());
    // The generic grant, and the cached token.
    assert_bound(
        &c,
        &c.grant("client_credentials", &[("scope", "write")])
            .unwrap(),
    );
    let cached = c.get_token(Some("read write")).unwrap();
    assert_bound(&c, &cached);
    assert!(std::sync::Arc::ptr_eq(
        &cached,
        &c.get_token(Some("read write")).unwrap()
    ));
    // authorization_code, then refresh_token with the same key.
    let code = server.code("dpop-client", "openid offline_access", None);
    let t = c.exchange_code(&code, server.redirect_uri(), None).unwrap();
    assert_bound(&c, &t);
    let refreshed = c.refresh(t.refresh_token().unwrap(), None).unwrap();
    assert_bound(&c, &refreshed);
    assert_ne!(refreshed.access_token(), t.access_token());
    // The device authorization grant.
    let device = c.device_authorize(Some("openid")).unwrap();
    let (status, body) = http_get(&format!(
        "{}?user_code={}",
        manifest_str(server, &["device_url"]),
        enc(&device.user_code)
    ));
    assert_eq!(status, 200, "{body}");
    assert_bound(&c, &c.device_poll(&device).unwrap());
    // dpop-client's tokens must be bound: without a proof it is refused.
    let plain = Client::new(&server.token_url_of("dpop-client"), "dpop-client").unwrap();
    plain
        .set_client_secret(
            server.client("dpop-client")["client_secret"]
                .as_str()
                .unwrap(),
            AuthMethod::ClientSecretPost,
        )
        .unwrap();
    assert_eq!(
        plain.client_credentials(None).unwrap_err().kind(),
        ErrorKind::OAuth
    );
}

#[test]
fn the_resource_wants_its_nonce_and_the_key() {
    let Some(server) = shared() else { return };
    let url = manifest_str(server, &["protected_url"]).to_string();
    let c = dpop_client(server);
    let token = c.client_credentials(Some("read")).unwrap();
    // First request: no nonce of the resource's yet (its origin is the
    // token endpoint's, whose nonce it does not take), so a challenge,
    // answered once.
    let (answer, retried) = dpop_get(&c, &url, &token);
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(retried, "the first request was challenged");
    assert_eq!(answer.body["token_type"], "DPoP");
    assert_eq!(answer.body["jkt"], c.dpop_thumbprint().unwrap().as_str());
    // The nonce is kept: the next request goes through at once.
    let (answer, retried) = dpop_get(&c, &url, &token);
    assert_eq!((answer.status, retried), (200, false));
    // A nonce gone stale: one challenge again.
    let (status, _) = http_get(manifest_str(server, &["dpop", "nonce_rotate_url"]));
    assert_eq!(status, 200);
    let (answer, retried) = dpop_get(&c, &url, &token);
    assert_eq!((answer.status, retried), (200, true));

    // Refused: as a bearer token, without its proof, with another key's.
    let bearer = format!("Bearer {}", token.access_token());
    assert_eq!(get(&url, &bearer, None, None).status, 401);
    let no_proof = get(&url, token.authorization(), None, None);
    assert_eq!(no_proof.status, 401);
    let other = dpop_client(server);
    let theirs = other
        .dpop_proof("GET", &url, Some(token.access_token()), None)
        .unwrap();
    // (The other client has no nonce of the resource's: give it ours.)
    let ours = c
        .dpop_proof("GET", &url, Some(token.access_token()), None)
        .unwrap();
    let nonce = common_nonce(&ours);
    let theirs_with_nonce = other
        .dpop_proof("GET", &url, Some(token.access_token()), Some(&nonce))
        .unwrap();
    for proof in [theirs, theirs_with_nonce] {
        let a = get(&url, token.authorization(), Some(&proof), None);
        assert_eq!(a.status, 401, "{:?}", a.body);
    }
    // A proof for another token (its ath) is refused too.
    let wrong_ath = c
        .dpop_proof("GET", &url, Some("another-token"), None)
        .unwrap();
    assert_eq!(
        get(&url, token.authorization(), Some(&wrong_ath), None).status,
        401
    );
    // And the right one still works.
    assert_eq!(dpop_get(&c, &url, &token).0.status, 200);
}

/// The `nonce` claim of a proof.
fn common_nonce(proof: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(proof.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    claims["nonce"].as_str().unwrap().to_string()
}

/// An mTLS client of the issuer: discovery over plain HTTP, then the
/// aliases over TLS with `cert`.
fn mtls_client(
    server: &Server,
    id: &str,
    cert: &str,
    pem_text: bool,
    method: AuthMethod,
) -> Client {
    let c = Client::from_issuer(manifest_str(server, &["issuer"]), id).unwrap();
    c.set_ca_file(Some(manifest_str(server, &["mtls", "ca_file"])))
        .unwrap();
    let (cert_field, key_field) = if pem_text {
        ("cert_pem", "key_pem")
    } else {
        ("cert_file", "key_file")
    };
    c.set_client_cert(Some((
        manifest_str(server, &["mtls", "certs", cert, cert_field]),
        manifest_str(server, &["mtls", "certs", cert, key_field]),
    )))
    .unwrap();
    c.set_tls_client_auth(method).unwrap();
    c
}

#[test]
fn both_mtls_methods_through_the_aliases() {
    let Some(server) = shared() else { return };
    let ca = manifest_str(server, &["mtls", "ca_file"]);
    for (id, method, pem_text) in [
        ("mtls-client", AuthMethod::TlsClientAuth, false),
        (
            "selfsigned-client",
            AuthMethod::SelfSignedTlsClientAuth,
            true,
        ),
    ] {
        let c = mtls_client(server, id, id, pem_text, method);
        let metadata = c.metadata().unwrap();
        assert!(!metadata.mtls_endpoint_aliases.is_empty());
        // The plain token endpoint has no TLS, so no certificate: a token
        // at all means the alias was used.
        assert!(c.token_url().starts_with("http://"));
        let t = c.client_credentials(Some("read")).unwrap();
        let x5t = manifest_str(server, &["mtls", "certs", id, "x5t_s256"]);
        let cnf: Value = serde_json::from_str(t.cnf().expect("cnf")).unwrap();
        assert_eq!(cnf, serde_json::json!({ "x5t#S256": x5t }), "{id}");
        // The server bound it: its introspection (at the alias too) says so.
        let introspected: Value =
            serde_json::from_str(&c.introspect(t.access_token(), None).unwrap()).unwrap();
        assert_eq!(introspected["active"], true);
        assert_eq!(introspected["cnf"]["x5t#S256"], x5t, "{id}");
        // The resource takes it with the certificate, and only with it.
        let resource = manifest_str(server, &["mtls", "protected_url"]);
        let certs = &["mtls", "certs"];
        let files = |name: &str| {
            (
                manifest_str(server, &[certs[0], certs[1], name, "cert_file"]),
                manifest_str(server, &[certs[0], certs[1], name, "key_file"]),
            )
        };
        let with_own = get(
            resource,
            t.authorization(),
            None,
            Some((ca, Some(files(id)))),
        );
        assert_eq!(with_own.status, 200, "{:?}", with_own.body);
        assert_eq!(with_own.body["x5t#S256"], x5t);
        let with_other = get(
            resource,
            t.authorization(),
            None,
            Some((ca, Some(files("other-client")))),
        );
        assert_eq!(with_other.status, 401);
        let plain = get(
            manifest_str(server, &["protected_url"]),
            t.authorization(),
            None,
            None,
        );
        assert_eq!(plain.status, 401);
        // Revocation goes to its alias as well.
        c.revoke(t.access_token(), Some("access_token")).unwrap();
        let after: Value =
            serde_json::from_str(&c.introspect(t.access_token(), None).unwrap()).unwrap();
        assert_eq!(after["active"], false);
    }
}

#[test]
fn mtls_refusals() {
    let Some(server) = shared() else { return };
    // Another client's certificate.
    let c = mtls_client(
        server,
        "mtls-client",
        "other-client",
        false,
        AuthMethod::TlsClientAuth,
    );
    let e = c.client_credentials(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.oauth().unwrap().code, "invalid_client");
    // No certificate: refused before sending.
    c.set_client_cert(None).unwrap();
    assert_eq!(
        c.client_credentials(None).unwrap_err().kind(),
        ErrorKind::Config
    );
    // A client of the alias URL itself (no discovery) works too.
    let direct = Client::new(manifest_str(server, &["mtls", "token_url"]), "mtls-client").unwrap();
    direct
        .set_ca_file(Some(manifest_str(server, &["mtls", "ca_file"])))
        .unwrap();
    direct
        .set_client_cert(Some((
            manifest_str(server, &["mtls", "certs", "mtls-client", "cert_pem"]),
            manifest_str(server, &["mtls", "certs", "mtls-client", "key_pem"]),
        )))
        .unwrap();
    direct
        .set_tls_client_auth(AuthMethod::TlsClientAuth)
        .unwrap();
    let t = direct.client_credentials(None).unwrap();
    // Cached tokens are kept per certificate: the same one (as files now)
    // is served the cached token, another is not (its own request fails).
    let cached = direct.get_token(Some("read")).unwrap();
    direct
        .set_client_cert(Some((
            manifest_str(server, &["mtls", "certs", "mtls-client", "cert_file"]),
            manifest_str(server, &["mtls", "certs", "mtls-client", "key_file"]),
        )))
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(
        &cached,
        &direct.get_token(Some("read")).unwrap()
    ));
    direct
        .set_client_cert(Some((
            manifest_str(server, &["mtls", "certs", "other-client", "cert_file"]),
            manifest_str(server, &["mtls", "certs", "other-client", "key_file"]),
        )))
        .unwrap();
    assert_eq!(
        direct.get_token(Some("read")).unwrap_err().kind(),
        ErrorKind::OAuth
    );
    direct
        .set_client_cert(Some((
            manifest_str(server, &["mtls", "certs", "mtls-client", "cert_pem"]),
            manifest_str(server, &["mtls", "certs", "mtls-client", "key_pem"]),
        )))
        .unwrap();
    assert!(t.cnf().unwrap().contains(manifest_str(
        server,
        &["mtls", "certs", "mtls-client", "x5t_s256"]
    )));
    // Another certificate's key is refused at set time.
    for field in [("cert_pem", "key_pem"), ("cert_file", "key_file")] {
        let e = direct
            .set_client_cert(Some((
                manifest_str(server, &["mtls", "certs", "mtls-client", field.0]),
                manifest_str(server, &["mtls", "certs", "other-client", field.1]),
            )))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Key, "{e}");
        assert!(!e.message().contains("PRIVATE"), "{e}");
    }
    // Bad certificate input is refused at set time.
    for (cert, key) in [
        (
            "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
            "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
        ),
        ("-----BEGIN CERTIFICATE-----\n", "/etc/hostname"),
    ] {
        assert_eq!(
            direct
                .set_client_cert(Some((cert, key)))
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidArgument
        );
    }
}
