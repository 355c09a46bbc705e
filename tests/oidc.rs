//! Token exchanges against a real OpenID Connect server (oidc-provider, in
//! tests/server) on loopback, for every client authentication method.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{shared, Server};
use serde_json::Value;
use tokenclient::{Algorithm, AuthMethod, Client, ErrorKind, Token};

const OPENID: &str = "openid offline_access";

/// A client of the manifest entry `name`'s issuer and id, without credentials.
fn bare_client(server: &Server, name: &str) -> Client {
    let id = server.client(name)["client_id"].as_str().unwrap();
    Client::new(&server.token_url_of(name), id).unwrap()
}

/// A client configured from the manifest entry `name`.
fn client_for(server: &Server, name: &str) -> Client {
    let m = server.client(name);
    let c = bare_client(server, name);
    let method = m["auth_method"].as_str().unwrap();
    match method {
        "none" => c.set_public().unwrap(),
        "client_secret_basic" | "client_secret_post" | "client_secret_jwt" => {
            let auth = match method {
                "client_secret_basic" => AuthMethod::ClientSecretBasic,
                "client_secret_post" => AuthMethod::ClientSecretPost,
                _ => AuthMethod::ClientSecretJwt,
            };
            c.set_client_secret(m["client_secret"].as_str().unwrap(), auth)
                .unwrap();
        }
        "private_key_jwt" => {
            let key = m["private_key_b64"]
                .as_str()
                .or(m["private_key_pem"].as_str())
                .unwrap();
            let alg: Option<Algorithm> = m["alg"].as_str().map(|a| a.parse().unwrap());
            c.set_private_key(key, m["kid"].as_str(), alg).unwrap();
        }
        other => panic!("unknown method {other}"),
    }
    c
}

fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn check_token(t: &Token) {
    assert!(!t.access_token().is_empty());
    assert!(
        t.token_type().eq_ignore_ascii_case("bearer"),
        "{}",
        t.token_type()
    );
    assert!(t.expires_in().unwrap() > 0);
    let json: Value = serde_json::from_str(t.json()).unwrap();
    assert_eq!(json["access_token"], t.access_token());
}

/// authorization_code -> refresh_token -> client_credentials for one client.
fn full_flow(name: &str) {
    let Some(server) = shared() else { return };
    let c = client_for(server, name);
    let code = server.code(name, OPENID, None);
    let t = c.exchange_code(&code, server.redirect_uri(), None).unwrap();
    check_token(&t);
    let id_token = t.id_token().expect("openid was asked: an ID token");
    let claims = jwt_claims(id_token);
    assert_eq!(
        claims["aud"],
        server.client(name)["client_id"].as_str().unwrap()
    );
    let refresh = t
        .refresh_token()
        .expect("offline_access was asked: a refresh token");
    if server.client(name)["issuer"] == "main" {
        assert!(
            t.get("sid").is_some(),
            "Talkdesk-shaped responses carry sid"
        );
    }

    let r = c.refresh(refresh, None).unwrap();
    check_token(&r);
    assert_ne!(r.access_token(), t.access_token());

    let cc = c.client_credentials(Some("read")).unwrap();
    check_token(&cc);
    assert_eq!(cc.scope(), Some("read"));
}

#[test]
fn client_secret_basic() {
    full_flow("basic-client");
}

#[test]
fn client_secret_post() {
    full_flow("post-client");
}

#[test]
fn client_secret_jwt_hs256() {
    full_flow("hs256-client");
}

#[test]
fn private_key_jwt_es256() {
    full_flow("es256-client");
}

#[test]
fn private_key_jwt_es384() {
    full_flow("es384-client");
}

#[test]
fn private_key_jwt_rs256() {
    full_flow("rs256-client");
}

#[test]
fn private_key_jwt_ps256() {
    full_flow("ps256-client");
}

#[test]
fn private_key_jwt_eddsa() {
    full_flow("eddsa-client");
}

#[test]
fn talkdesk_bare_base64_key_with_kid() {
    let Some(server) = shared() else { return };
    let m = server.client("talkdesk-client");
    let key = m["private_key_b64"].as_str().unwrap();
    assert!(!key.contains('-') && !key.contains('\n'), "bare base64");
    full_flow("talkdesk-client");
}

#[test]
fn private_key_jwt_from_jwk() {
    let Some(server) = shared() else { return };
    let m = server.client("es256-client");
    let c = bare_client(server, "es256-client");
    c.set_private_key(&m["private_jwk"].to_string(), None, None)
        .unwrap();
    check_token(&c.client_credentials(Some("read")).unwrap());
}

#[test]
fn pingone_issuer_at_env_path() {
    let Some(server) = shared() else { return };
    let base = server.manifest["pingone"]["auth_base"].as_str().unwrap();
    let env = server.manifest["pingone"]["env_id"].as_str().unwrap();
    let url = tokenclient::pingone_token_url(base, env).unwrap();
    assert_eq!(
        url,
        server.manifest["pingone"]["token_url"].as_str().unwrap()
    );
    assert!(url.ends_with(&format!("/{env}/as/token")));
    full_flow("pingone-pkjwt");
    full_flow("pingone-hs256");
    full_flow("pingone-basic");
}

#[test]
fn public_client_with_pkce() {
    let Some(server) = shared() else { return };
    let c = client_for(server, "public-client");
    let mut random = [0u8; 32];
    openssl::rand::rand_bytes(&mut random).unwrap();
    let verifier = URL_SAFE_NO_PAD.encode(random);
    let challenge = URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()));
    let code = server.code("public-client", OPENID, Some(&challenge));
    let t = c
        .exchange_code(&code, server.redirect_uri(), Some(&verifier))
        .unwrap();
    check_token(&t);
    assert!(t.id_token().is_some());
    // Without the verifier the server refuses the code.
    let code = server.code("public-client", OPENID, Some(&challenge));
    let e = c
        .exchange_code(&code, server.redirect_uri(), None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert_eq!(e.oauth().unwrap().code, "invalid_grant", "{e}");
    let r = c.refresh(t.refresh_token().unwrap(), None).unwrap();
    check_token(&r);
}

#[test]
fn wrong_secret_is_invalid_client_401() {
    let Some(server) = shared() else { return };
    let c = bare_client(server, "basic-client");
    c.set_client_secret("definitely-wrong", AuthMethod::ClientSecretBasic)
        .unwrap();
    let e = c.client_credentials(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.http_status(), 401);
    assert_eq!(e.oauth().unwrap().code, "invalid_client");
    assert!(!e.message().contains("definitely-wrong"));
}

#[test]
fn reused_code_is_invalid_grant() {
    let Some(server) = shared() else { return };
    let c = client_for(server, "es256-client");
    let code = server.code("es256-client", OPENID, None);
    c.exchange_code(&code, server.redirect_uri(), None).unwrap();
    let e = c
        .exchange_code(&code, server.redirect_uri(), None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.oauth().unwrap().code, "invalid_grant");
    assert_eq!(e.http_status(), 400);
}

#[test]
fn wrong_redirect_uri_is_refused() {
    let Some(server) = shared() else { return };
    let c = client_for(server, "post-client");
    let code = server.code("post-client", OPENID, None);
    let e = c
        .exchange_code(&code, "https://elsewhere.example/cb", None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.oauth().unwrap().code, "invalid_grant");
}

/// POSTs client_credentials with `assertion`, bypassing the client, so an
/// assertion can be sent after it expired.
fn post_assertion(server: &Server, name: &str, assertion: &str) -> (u32, Value) {
    let body = format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={}",
        common::enc(tokenclient::JWT_BEARER_ASSERTION_TYPE),
        common::enc(assertion)
    );
    let (status, text) = common::http_post(&server.token_url_of(name), &body);
    (status, serde_json::from_str(&text).unwrap())
}

#[test]
fn expired_assertion_is_invalid_client() {
    let Some(server) = shared() else { return };
    let c = client_for(server, "es256-client");
    c.set_clock_skew(0).unwrap();
    // Control: an assertion sent at once, by the same path, is accepted.
    let (status, body) = post_assertion(server, "es256-client", &c.create_assertion().unwrap());
    assert_eq!(status, 200, "{body}");
    // exp = now + 1 s (whole seconds); sent 2.5 s later it has expired.
    c.set_assertion_lifetime(1).unwrap();
    let assertion = c.create_assertion().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (status, body) = post_assertion(server, "es256-client", &assertion);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
}

#[test]
fn unknown_kid_is_invalid_client() {
    let Some(server) = shared() else { return };
    let m = server.client("es256-client");
    let c = bare_client(server, "es256-client");
    c.set_private_key(
        m["private_key_pem"].as_str().unwrap(),
        Some("no-such-kid"),
        None,
    )
    .unwrap();
    let e = c.client_credentials(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.oauth().unwrap().code, "invalid_client");
}

#[test]
fn wrong_key_is_invalid_client() {
    let Some(server) = shared() else { return };
    let m = server.client("es256-client");
    let c = bare_client(server, "es256-client");
    let key = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    let pem = openssl::pkey::PKey::from_ec_key(key)
        .unwrap()
        .private_key_to_pem_pkcs8()
        .unwrap();
    c.set_private_key(std::str::from_utf8(&pem).unwrap(), m["kid"].as_str(), None)
        .unwrap();
    let e = c.client_credentials(None).unwrap_err();
    assert_eq!(
        e.oauth().map(|o| o.code.as_str()),
        Some("invalid_client"),
        "{e}"
    );
}
