//! `PrivateKey::parse` on arbitrary text: PEM (PKCS#8, SEC1, PKCS#1, squeezed
//! onto one line, CRLF, literal `\n`), bare base64 DER, and JWK JSON.
//!
//! Properties:
//! - it never panics, hangs or leaks;
//! - an error's message never contains a 16-character run of base64/base64url
//!   characters taken from the input (key material must never be echoed),
//!   except text the library quotes on purpose: the PEM label of the BEGIN
//!   line, a JWK's `kty`/`crv`/`alg` when short (a name, not a secret), and
//!   runs of the library's own fixed text ("Proc-Type/DEK-Info");
//! - a parsed key agrees with itself: `choose_algorithm(None)` succeeds,
//!   `choose_algorithm(Some(alg))` succeeds exactly for the algorithms the key
//!   type fits, and the key signs a JWS with its algorithm.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use tokenclient::fuzzing::JwsSigner;
use tokenclient::fuzzing::{Algorithm, PrivateKey};

/// Shortest run of input characters that counts as echoed key material.
const WINDOW: usize = 16;

fn is_base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
}

/// Runs of 16 or more base64 characters in the library's own fixed messages:
/// the fuzzer copies them into its inputs (from its comparisons).
const FIXED_TEXT: [&str; 1] = ["Proc-Type/DEK-Info"];

/// The texts an error message may quote from the input on purpose, or holds
/// anyway.
fn quotable(text: &str) -> Vec<String> {
    let mut out: Vec<String> = FIXED_TEXT.iter().map(|t| t.to_string()).collect();
    // The PEM label, read as the library reads it: after unescaping literal
    // "\r" and "\n", between the first "-----BEGIN " and the next "-----".
    let unescaped = text.replace("\\r", "").replace("\\n", "\n");
    if let Some(begin) = unescaped.find("-----BEGIN ") {
        let after = &unescaped[begin + "-----BEGIN ".len()..];
        if let Some(end) = after.find("-----") {
            out.push(format!("-----END {}-----", after[..end].trim()));
        }
    }
    // Names in a JWK, when short enough to be a name rather than a secret.
    let trimmed = text.trim_matches(|c: char| c.is_whitespace() || c == '"');
    for candidate in [text, trimmed] {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(candidate) {
            for name in ["kty", "crv", "alg"] {
                if let Some(serde_json::Value::String(v)) = map.get(name) {
                    if v.len() <= 20 {
                        out.push(v.clone());
                    }
                }
            }
        }
    }
    out
}

/// Panics if `message` contains a run of `WINDOW` base64 characters of `input`
/// that is not part of a text the library quotes on purpose.
fn check_no_echo(input: &str, message: &str) {
    let msg = message.as_bytes();
    if msg.len() < WINDOW {
        return;
    }
    let allowed = quotable(input);
    let suspects: HashSet<&[u8]> = msg
        .windows(WINDOW)
        .filter(|w| w.iter().all(|&b| is_base64_char(b)))
        .filter(|w| {
            let w = std::str::from_utf8(w).expect("ASCII");
            !allowed.iter().any(|a| a.contains(w))
        })
        .collect();
    if suspects.is_empty() {
        return;
    }
    for window in input.as_bytes().windows(WINDOW) {
        if suspects.contains(window) {
            panic!(
                "an error message echoes key text {:?}: {message:?}",
                String::from_utf8_lossy(window)
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let key = match PrivateKey::parse(&text) {
        Ok(key) => key,
        Err(e) => {
            assert_eq!(e.to_string(), e.message());
            assert!(!e.message().is_empty(), "an empty error message");
            check_no_echo(&text, e.message());
            return;
        }
    };
    let alg = match key.choose_algorithm(None) {
        Ok(alg) => alg,
        Err(e) => panic!("a parsed key has no algorithm: {e} ({key:?})"),
    };
    for candidate in Algorithm::ALL {
        let chosen = key.choose_algorithm(Some(candidate));
        assert_eq!(
            chosen.is_ok(),
            key.key_type.fits(candidate),
            "choose_algorithm({candidate}) disagrees with fits() for {key:?}"
        );
        if let Ok(chosen) = chosen {
            assert_eq!(chosen, candidate);
        }
    }
    let kid = key.jwk_kid.clone();
    let signer = match JwsSigner::asymmetric(key, alg, kid.as_deref()) {
        Ok(signer) => signer,
        Err(e) => panic!("a parsed key does not make a signer for {alg}: {e}"),
    };
    match signer.sign_compact(br#"{"iss":"fuzz","sub":"fuzz"}"#) {
        Ok(jws) => assert_eq!(jws.split('.').count(), 3, "not a JWS: {jws}"),
        Err(e) => panic!("a parsed key does not sign with {alg}: {e}"),
    }
});
