//! Keys that never leave their token: RSA-2048, P-256 and P-384 keys
//! generated inside a throwaway SoftHSM2 token (tests/softhsm.py), used
//! through PKCS#11 URIs for private_key_jwt against the real test server
//! (a client registered for each key's public half), from many threads,
//! across a module reset; and the same through a caller's `Signer`.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::{shared, Server, TempDir};
use serde_json::{json, Value};
use tokenclient::{Algorithm, Client, ErrorKind, Signer};

/// The tests share one token and one module (one of them resets it): one
/// at a time.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The token (made once per test binary) and its manifest.
fn hsm() -> Option<&'static Value> {
    static HSM: OnceLock<Option<(TempDir, Value)>> = OnceLock::new();
    HSM.get_or_init(|| {
        let installed = std::path::Path::new("/usr/bin/softhsm2-util").exists()
            && std::path::Path::new("/usr/bin/pkcs11-tool").exists();
        if !installed {
            assert!(
                std::env::var_os("TOKENCLIENT_REQUIRE_SERVER").is_none(),
                "softhsm2 and opensc are not installed (apt-get install softhsm2 opensc)"
            );
            eprintln!("skipped: softhsm2 or opensc is not installed");
            return None;
        }
        let dir = TempDir::new("softhsm");
        let out = std::process::Command::new("python3")
            .arg(common::repo().join("tests/softhsm.py"))
            .arg(&dir.0)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let manifest: Value = serde_json::from_slice(&out.stdout).unwrap();
        // Every process that opens the module reads the token directory from here.
        std::env::set_var("SOFTHSM2_CONF", manifest["conf"].as_str().unwrap());
        Some((dir, manifest))
    })
    .as_ref()
    .map(|(_, m)| m)
}

/// Registers a private_key_jwt client for `jwk` (RFC 7591) and returns its id.
fn register(server: &Server, jwk: &Value, alg: &str, kid: &str) -> String {
    let mut key = jwk.clone();
    key["kid"] = json!(kid);
    key["alg"] = json!(alg);
    key["use"] = json!("sig");
    let body = json!({
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": alg,
        "jwks": {"keys": [key]},
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
        "scope": "read",
    })
    .to_string();
    let mut easy = curl::easy::Easy::new();
    easy.url(server.manifest["registration_url"].as_str().unwrap())
        .unwrap();
    let mut headers = curl::easy::List::new();
    headers.append("Content-Type: application/json").unwrap();
    easy.http_headers(headers).unwrap();
    easy.post(true).unwrap();
    easy.post_fields_copy(body.as_bytes()).unwrap();
    easy.timeout(Duration::from_secs(30)).unwrap();
    let mut out = Vec::new();
    {
        let mut t = easy.transfer();
        t.write_function(|d| {
            out.extend_from_slice(d);
            Ok(d.len())
        })
        .unwrap();
        t.perform().unwrap();
    }
    assert_eq!(
        easy.response_code().unwrap(),
        201,
        "{}",
        String::from_utf8_lossy(&out)
    );
    let answer: Value = serde_json::from_slice(&out).unwrap();
    answer["client_id"].as_str().unwrap().to_string()
}

/// A client of the registered client for `name`'s key, through its URI.
fn pkcs11_client(server: &Server, hsm: &Value, name: &str) -> Client {
    let key = &hsm["keys"][name];
    let alg = key["alg"].as_str().unwrap();
    let kid = format!("hsm-{name}");
    let id = register(server, &key["jwk"], alg, &kid);
    let c = Client::new(server.manifest["token_url"].as_str().unwrap(), &id).unwrap();
    c.set_private_key(key["uri"].as_str().unwrap(), Some(&kid), None)
        .unwrap();
    c
}

#[test]
fn keys_generated_in_the_token_sign_for_private_key_jwt() {
    let _one = one_at_a_time();
    let (Some(server), Some(hsm)) = (shared(), hsm()) else {
        return;
    };
    for name in ["rsa2048", "p256", "p384"] {
        let key = &hsm["keys"][name];
        // The private key can never be read out of the token.
        assert_eq!(key["never_extractable"], true, "{name}");
        assert_eq!(key["sensitive"], true, "{name}");
        let c = pkcs11_client(server, hsm, name);
        let assertion = c.create_assertion().unwrap();
        let header: Value =
            serde_json::from_slice(&base64_url(assertion.split('.').next().unwrap())).unwrap();
        assert_eq!(header["alg"], key["alg"], "{name}");
        let t = c.client_credentials(Some("read")).unwrap();
        assert!(!t.access_token().is_empty(), "{name}");
    }
}

fn base64_url(part: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap()
}

#[test]
fn one_token_key_from_many_threads() {
    let _one = one_at_a_time();
    let (Some(server), Some(hsm)) = (shared(), hsm()) else {
        return;
    };
    let c = Arc::new(pkcs11_client(server, hsm, "p256"));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    c.create_assertion().unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    c.client_credentials(None).unwrap();
}

#[test]
fn a_module_reset_is_a_key_error_then_recovers() {
    let _one = one_at_a_time();
    let (Some(server), Some(hsm)) = (shared(), hsm()) else {
        return;
    };
    let c = pkcs11_client(server, hsm, "p384");
    c.create_assertion().unwrap();
    // Finalize the module under the library (the same dlopen'd instance):
    // its sessions and login are gone.
    let module = cryptoki::context::Pkcs11::new(hsm["module"].as_str().unwrap()).unwrap();
    module.finalize().unwrap();
    let e = c.create_assertion().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Key, "{e}");
    assert!(!e.message().contains(hsm["pin"].as_str().unwrap()));
    // The next call opens the module, logs in and finds the key again.
    c.create_assertion().unwrap();
    c.client_credentials(None).unwrap();
}

#[test]
fn bad_pkcs11_uris_are_typed_errors() {
    let _one = one_at_a_time();
    let Some(hsm) = hsm() else { return };
    let c = Client::new("https://as.example/token", "c").unwrap();
    let module = hsm["module"].as_str().unwrap();
    let pin = hsm["pin"].as_str().unwrap();
    for (uri, kind) in [
        (
            format!(
                "pkcs11:token=tokenclient-test;object=p256?module-path={module}&pin-value=wrong"
            ),
            ErrorKind::Key,
        ),
        (
            format!(
                "pkcs11:token=tokenclient-test;object=nope?module-path={module}&pin-value={pin}"
            ),
            ErrorKind::Key,
        ),
        (
            format!("pkcs11:token=other;object=p256?module-path={module}&pin-value={pin}"),
            ErrorKind::Key,
        ),
        (
            "pkcs11:object=p256?module-path=/nonexistent/module.so".to_string(),
            ErrorKind::Config,
        ),
        ("pkcs11:object=p256".to_string(), ErrorKind::InvalidArgument),
    ] {
        let e = c.set_private_key(&uri, None, None).unwrap_err();
        assert_eq!(e.kind(), kind, "{uri}: {e}");
        assert!(
            !e.message().contains("wrong") && !e.message().contains(pin),
            "{e}"
        );
    }
    // An algorithm that does not fit the token's key.
    let uri = hsm["keys"]["p256"]["uri"].as_str().unwrap();
    let e = c
        .set_private_key(uri, None, Some(Algorithm::RS256))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Key);
}

/// A caller's signer: a key in memory here, as a KMS client would hold one
/// remotely. It returns DER ECDSA signatures, which the library converts.
struct InMemory {
    key: openssl::pkey::PKey<openssl::pkey::Private>,
}

impl Signer for InMemory {
    fn sign(&self, input: &[u8]) -> tokenclient::Result<Vec<u8>> {
        let mut s = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &self.key)
            .map_err(|_| tokenclient::Error::key("sign failed"))?;
        s.sign_oneshot_to_vec(input)
            .map_err(|_| tokenclient::Error::key("sign failed"))
    }
}

#[test]
fn a_callers_signer_returning_der() {
    let Some(server) = shared() else { return };
    let m = server.client("es256-client");
    let key = openssl::pkey::PKey::private_key_from_pem(
        m["private_key_pem"].as_str().unwrap().as_bytes(),
    )
    .unwrap();
    let c = Client::new(&server.token_url_of("es256-client"), "es256-client").unwrap();
    c.set_signer(
        Arc::new(InMemory { key }),
        Algorithm::ES256,
        m["kid"].as_str(),
    )
    .unwrap();
    let assertion = c.create_assertion().unwrap();
    assert_eq!(base64_url(assertion.rsplit('.').next().unwrap()).len(), 64);
    c.client_credentials(Some("read")).unwrap();
}

/// The RFC 7638 thumbprint of a public JWK (EC or RSA), computed here.
fn thumbprint(jwk: &Value) -> String {
    use base64::Engine;
    let canonical = match jwk["kty"].as_str().unwrap() {
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["crv"].as_str().unwrap(),
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        ),
        _ => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            jwk["e"].as_str().unwrap(),
            jwk["n"].as_str().unwrap()
        ),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(openssl::sha::sha256(canonical.as_bytes()))
}

fn dpop_client(server: &Server) -> Client {
    let c = Client::new(&server.token_url_of("dpop-client"), "dpop-client").unwrap();
    c.set_client_secret(
        server.client("dpop-client")["client_secret"]
            .as_str()
            .unwrap(),
        tokenclient::AuthMethod::ClientSecretPost,
    )
    .unwrap();
    c
}

/// DPoP proofs signed inside the token: the proof names the token's public
/// key, and the server binds the token to it.
#[test]
fn dpop_with_a_token_key() {
    let _one = one_at_a_time();
    let (Some(server), Some(hsm)) = (shared(), hsm()) else {
        return;
    };
    for name in ["p256", "rsa2048"] {
        let key = &hsm["keys"][name];
        let c = dpop_client(server);
        c.set_dpop_key(key["uri"].as_str(), None).unwrap();
        assert_eq!(
            c.dpop_thumbprint().unwrap(),
            thumbprint(&key["jwk"]),
            "{name}"
        );
        let t = c.client_credentials(Some("read")).unwrap();
        assert_eq!(t.token_type(), "DPoP", "{name}");
        let cnf: Value = serde_json::from_str(t.cnf().unwrap()).unwrap();
        assert_eq!(cnf["jkt"], thumbprint(&key["jwk"]), "{name}");
    }
}

/// DPoP proofs signed by a caller's signer, its public key given as PEM.
#[test]
fn dpop_with_a_callers_signer() {
    let Some(server) = shared() else { return };
    let key = openssl::pkey::PKey::from_ec_key(
        openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let public = String::from_utf8(key.public_key_to_pem().unwrap()).unwrap();
    let c = dpop_client(server);
    c.set_dpop_signer(Arc::new(InMemory { key }), Algorithm::ES256, &public)
        .unwrap();
    let t = c.client_credentials(Some("read")).unwrap();
    assert_eq!(t.token_type(), "DPoP");
    assert_eq!(
        serde_json::from_str::<Value>(t.cnf().unwrap()).unwrap()["jkt"],
        c.dpop_thumbprint().unwrap().as_str()
    );
    // A public key that the algorithm does not fit, or no key at all.
    assert_eq!(
        c.set_dpop_signer(
            Arc::new(InMemory {
                key: openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap())
                    .unwrap()
            }),
            Algorithm::ES256,
            &public.replace("PUBLIC KEY", "PRIVATE KEY"),
        )
        .unwrap_err()
        .kind(),
        ErrorKind::Key
    );
}
