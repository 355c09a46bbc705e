//! OpenID Connect inputs from a server: metadata documents, JWK Sets and ID
//! tokens. The first byte picks which; the rest is the input.
//!
//! Properties: no panic, no hang; every refusal is a typed error (`Config`
//! for metadata, `Response` for JWKS and ID tokens) whose message has no
//! control character; an accepted metadata document names the issuer it was
//! fetched for; an ID token is accepted only if it verifies with the fixed
//! HMAC secret below and is for the expected issuer and client (a fuzzer
//! that forges one has found a bug).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenclient::fuzzing::{jwks_keys, validate_id_token};
use tokenclient::{ErrorKind, Metadata};

const ISSUER: &str = "https://idp.example.com";
const CLIENT: &str = "client-1";
const SECRET: &[u8] = b"fuzzing-secret-fuzzing-secret-32";
/// A JWK Set with one RSA and one EC key (public), for ID tokens.
const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"e1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;

fn clean(message: &str) {
    assert!(!message.chars().any(char::is_control), "{message:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => match Metadata::parse(ISSUER, input) {
            Ok(m) => {
                assert_eq!(m.issuer, ISSUER);
                assert!(!m.token_endpoint.is_empty());
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Config, "{e}");
                clean(e.message());
            }
        },
        1 => {
            if let Err(e) = jwks_keys(input) {
                assert_eq!(e.kind(), ErrorKind::Response, "{e}");
                clean(e.message());
            }
        }
        _ => {
            let Ok(token) = std::str::from_utf8(input) else {
                return;
            };
            match validate_id_token(token, ISSUER, CLIENT, JWKS.as_bytes(), Some(SECRET)) {
                Ok(claims) => {
                    // Only a token HMAC'd with SECRET can pass: check it
                    // independently of the library.
                    let (signed, sig) = token.rsplit_once('.').expect("three parts");
                    let key = openssl::pkey::PKey::hmac(SECRET).unwrap();
                    let header = signed.split('.').next().unwrap();
                    let alg = String::from_utf8(
                        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
                    )
                    .unwrap();
                    let md = if alg.contains("HS512") {
                        openssl::hash::MessageDigest::sha512()
                    } else if alg.contains("HS384") {
                        openssl::hash::MessageDigest::sha384()
                    } else {
                        openssl::hash::MessageDigest::sha256()
                    };
                    let mut signer = openssl::sign::Signer::new(md, &key).unwrap();
                    let want = signer.sign_oneshot_to_vec(signed.as_bytes()).unwrap();
                    let got = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
                    assert_eq!(want, got, "an ID token passed without the secret's signature");
                    assert!(claims.contains(ISSUER));
                }
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Response, "{e}");
                    clean(e.message());
                }
            }
        }
    }
});
