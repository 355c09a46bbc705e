//! `response::parse_token(status, body)`: the first two bytes are the HTTP
//! status (little-endian), the rest the body.
//!
//! Properties:
//! - it never panics, hangs or leaks, and every accessor of a parsed token
//!   works (`access_token` and `token_type` `expect` what parsing checked);
//! - a parsed token agrees with an independent parse of the body by
//!   serde_json: `json()` is the body, `access_token`/`token_type` are
//!   non-empty strings, `scope`/`refresh_token`/`id_token`/`get(name)` are the
//!   string members (a NUL shows as U+FFFD), `expires_in` is the
//!   non-negative integer (or integer string) member;
//! - `Debug` of a token never shows the access, refresh or ID token;
//! - an error is a `Response` error carrying the status, and its message
//!   never contains those tokens' values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tokenclient::fuzzing::parse_token;
use tokenclient::ErrorKind;

const SECRET_MEMBERS: [&str; 3] = ["access_token", "refresh_token", "id_token"];

/// What a string member looks like through the API.
fn shown(v: &str) -> String {
    v.replace('\0', "\u{FFFD}")
}

/// Secret values long enough that finding one in a text is no coincidence,
/// and not plain words (which the library's fixed messages are made of).
fn secret_values(reference: Option<&serde_json::Map<String, Value>>) -> Vec<String> {
    let Some(map) = reference else {
        return Vec::new();
    };
    SECRET_MEMBERS
        .iter()
        .filter_map(|name| map.get(*name)?.as_str())
        .filter(|v| v.len() >= 8)
        .filter(|v| {
            !v.chars()
                .all(|c| c.is_ascii_lowercase() || " _\"'-".contains(c))
        })
        .map(shown)
        .collect()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]);
    let body = &data[2..];
    // serde_json::Value keeps the last of duplicate members; the library
    // refuses duplicates, so only a successful parse is compared with it.
    let reference: Option<serde_json::Map<String, Value>> =
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        };
    let token = match parse_token(u32::from(status), body) {
        Ok(token) => token,
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Response, "{e}");
            assert_eq!(e.http_status(), status);
            assert!(!e.message().is_empty());
            for secret in secret_values(reference.as_ref()) {
                assert!(
                    !e.message().contains(&secret),
                    "the error message shows a token: {}",
                    e.message()
                );
            }
            return;
        }
    };
    let map = reference.expect("the library parsed a body serde_json refuses");

    assert_eq!(token.json().as_bytes(), body);
    assert_eq!(token.json_c().to_bytes(), body);
    let string = |name: &str| map.get(name).and_then(Value::as_str).map(shown);
    assert!(!token.access_token().is_empty() && !token.token_type().is_empty());
    assert_eq!(
        Some(token.access_token().to_string()),
        string("access_token")
    );
    assert_eq!(Some(token.token_type().to_string()), string("token_type"));
    assert_eq!(token.scope().map(str::to_string), string("scope"));
    assert_eq!(
        token.refresh_token().map(str::to_string),
        string("refresh_token")
    );
    assert_eq!(token.id_token().map(str::to_string), string("id_token"));
    for (name, value) in &map {
        let expected = value.as_str().map(shown);
        assert_eq!(
            token.get(name).map(str::to_string),
            expected,
            "member {name:?}"
        );
        assert_eq!(
            token.get_c(name).map(|c| c.to_bytes().to_vec()),
            expected.map(String::into_bytes),
            "member {name:?} as a C string"
        );
    }
    assert_eq!(token.get("\u{0}no such member\u{0}"), None);
    let expires_in = match map.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        Some(other) => panic!("accepted expires_in {other}"),
    };
    assert_eq!(token.expires_in(), expires_in);
    assert!(token.expires_in().is_none_or(|v| v >= 0));

    let debug = format!("{token:?}");
    let allowed = format!(
        "{:?} {:?} {:?}",
        token.token_type(),
        token.expires_in(),
        token.scope()
    );
    for secret in secret_values(Some(&map)) {
        assert!(
            !debug.contains(&secret) || allowed.contains(&secret),
            "Debug shows a token: {debug}"
        );
    }
});
