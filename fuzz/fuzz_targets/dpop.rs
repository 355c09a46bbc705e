//! DPoP inputs: a resource server's `WWW-Authenticate` and `DPoP-Nonce`
//! values, and the method, URL, token and nonce a caller gives a proof.
//! The first byte picks which; the rest (UTF-8, split at NUL bytes) is the
//! input.
//!
//! Properties: no panic, no hang; a nonce is accepted only if RFC 9449
//! allows it (1 to 512 visible ASCII characters but `"` and `\`); a proof
//! is made only for an http(s) URL, and its claims then name the method,
//! the URL without query and fragment, and the nonce as given; every
//! refusal is a typed error whose message has no control character and
//! does not echo a nonce.
#![no_main]

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use tokenclient::fuzzing::{dpop_challenge, dpop_nonce};
use tokenclient::{Client, ErrorKind};

fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let c = Client::new("https://as.example/token", "fuzz").unwrap();
        c.set_dpop_key(None, None).unwrap();
        c
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    match which % 3 {
        0 => {
            let asks = dpop_challenge(text);
            assert!(!asks || text.to_ascii_lowercase().contains("dpop"));
        }
        1 => match dpop_nonce(text) {
            Ok(()) => assert!(
                !text.is_empty()
                    && text.len() <= 512
                    && text.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
            ),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Response);
                assert!(!e.message().chars().any(char::is_control));
                // One of the two fixed messages: the nonce is never echoed
                // (a substring test would trip on a nonce such as "DPoP ").
                let m = e.message();
                let length = m
                    .strip_prefix("the DPoP nonce has ")
                    .and_then(|rest| rest.strip_suffix(" bytes; 1 to 512 are accepted"));
                assert!(
                    m == "the DPoP nonce has characters RFC 9449 does not allow"
                        || length.is_some_and(|n| n.parse::<usize>() == Ok(text.len())),
                    "{m}"
                );
            }
        },
        _ => {
            let mut parts = text.split('\0');
            let (method, url) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let token = parts.next().filter(|t| !t.is_empty());
            let nonce = parts.next();
            match client().dpop_proof(method, url, token, nonce) {
                Ok(proof) => {
                    let payload = proof.split('.').nth(1).expect("three parts");
                    let claims: serde_json::Value =
                        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
                    assert_eq!(claims["htm"], method);
                    assert_eq!(claims["htu"], url.split(['?', '#']).next().unwrap());
                    assert!(url.to_ascii_lowercase().starts_with("http"));
                    if let Some(n) = nonce {
                        assert_eq!(claims["nonce"], n);
                    }
                }
                Err(e) => assert!(!e.message().chars().any(char::is_control), "{e}"),
            }
        }
    }
});
