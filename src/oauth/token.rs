//! Token responses (RFC 6749 §5.1): the token, its strings kept as C strings
//! and wiped when dropped.
#![forbid(unsafe_code)]

use std::ffi::{CStr, CString};
use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use zeroize::Zeroize;

use crate::error::{Error, ErrorKind, Result};
use crate::json::{parse_object, Member, NotAnObject};

/// A successful token response. Its strings are kept NUL-terminated, so
/// the C API hands them out without copying, and are wiped when it is
/// dropped. `Debug` never shows token values.
pub struct Token {
    json: CString,
    /// Every member whose value is a string, by name.
    strings: Vec<(String, CString)>,
    expires_in: Option<i64>,
    /// For a token from the cache: until when (on the monotonic and the
    /// wall clock) the cache hands it out without asking the server.
    fresh_until: OnceLock<(Instant, SystemTime)>,
    /// The claims of the ID token, once validated (by an authorization's
    /// finish).
    id_token_claims: OnceLock<CString>,
    /// What the token is bound to, as a `cnf` object (RFC 7800): `jkt`
    /// (DPoP), `x5t#S256` (mTLS).
    cnf: OnceLock<CString>,
    /// `<token_type> <access_token>`, made on first use.
    authorization: OnceLock<CString>,
    /// Read from the shared token store (another process obtained it):
    /// from now, when to refresh it and for how long it may be handed out,
    /// as the store's entry says.
    from_store: Option<(Duration, Duration)>,
}

impl Drop for Token {
    fn drop(&mut self) {
        std::mem::take(&mut self.json).into_bytes().zeroize();
        if let Some(claims) = self.id_token_claims.take() {
            claims.into_bytes().zeroize();
        }
        if let Some(value) = self.authorization.take() {
            value.into_bytes().zeroize();
        }
        for (_, value) in self.strings.drain(..) {
            value.into_bytes().zeroize();
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("token_type", &self.token_type())
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope())
            .finish_non_exhaustive()
    }
}

/// Text as a C string; a NUL inside (possible through a JSON `\u0000`)
/// becomes U+FFFD so the string is never silently cut short. The text is
/// copied once into a buffer with room for the NUL, so no copy of it (a
/// token) is left behind in a freed, unwiped buffer.
pub fn c_string(text: &str) -> CString {
    let nuls = text.bytes().filter(|&b| b == 0).count();
    let mut bytes = Vec::with_capacity(text.len() + 2 * nuls + 1);
    for (i, piece) in text.split('\0').enumerate() {
        if i > 0 {
            bytes.extend_from_slice("\u{FFFD}".as_bytes());
        }
        bytes.extend_from_slice(piece.as_bytes());
    }
    CString::new(bytes).expect("no NUL left")
}

fn as_text(c: &CStr) -> &str {
    // Built from &str in this module, so always UTF-8.
    std::str::from_utf8(c.to_bytes()).unwrap_or_default()
}

impl Token {
    /// The token as read from the shared store: it lives for what is left
    /// of its lifetime, `seconds` (its JSON stays the server's answer), and
    /// the in-process cache refreshes it after `refresh_after` and hands it
    /// out for `usable_for`, as every process of the store does.
    pub(crate) fn read_from_store(
        mut self,
        seconds: i64,
        refresh_after: Duration,
        usable_for: Duration,
    ) -> Token {
        self.expires_in = Some(seconds);
        self.from_store = Some((refresh_after, usable_for));
        self
    }

    /// Whether another process obtained it (through the shared store).
    pub(crate) fn is_from_store(&self) -> bool {
        self.from_store.is_some()
    }

    /// The store entry's times (`read_from_store`), for the cache.
    pub(crate) fn store_times(&self) -> Option<(Duration, Duration)> {
        self.from_store
    }

    /// Marks a token the cache stores: it is handed out without asking the
    /// server until `mono` on the monotonic clock and `wall` on the wall
    /// clock, whichever comes first. Set once.
    pub(crate) fn set_fresh_until(&self, mono: Instant, wall: SystemTime) {
        let _ = self.fresh_until.set((mono, wall));
    }

    /// How long from now the token cache hands this token out without
    /// asking the server (zero once that has passed), judged by the
    /// system's clocks as the cache judges it: both clocks must still be
    /// short of the point. `None` for a token that did not come from the
    /// cache (`get_token`). A binding may serve its own copy for that long.
    pub fn fresh_for(&self) -> Option<Duration> {
        let (mono, wall) = self.fresh_until.get()?;
        let by_mono = mono.saturating_duration_since(Instant::now());
        let by_wall = wall.duration_since(SystemTime::now()).unwrap_or_default();
        Some(by_mono.min(by_wall))
    }

    /// Records the validated claims of the ID token (JSON). Set once.
    pub(crate) fn set_id_token_claims(&self, claims: &str) {
        let _ = self.id_token_claims.set(c_string(claims));
    }

    /// The claims of the ID token as JSON, when they were validated (a
    /// token from `Call::finish`); `None` otherwise.
    pub fn id_token_claims(&self) -> Option<&str> {
        self.id_token_claims.get().map(|c| as_text(c))
    }

    pub(crate) fn id_token_claims_c(&self) -> Option<&CStr> {
        self.id_token_claims.get().map(CString::as_c_str)
    }

    /// Records what the token is bound to (a `cnf` JSON object). Set once.
    pub(crate) fn set_cnf(&self, cnf: &str) {
        let _ = self.cnf.set(c_string(cnf));
    }

    /// What the access token is bound to, as a JSON `cnf` object (RFC
    /// 7800): `{"jkt": ...}` for a DPoP token (RFC 9449 §6), `{"x5t#S256":
    /// ...}` for one obtained over mutual TLS from a server that binds
    /// tokens to certificates (RFC 8705 §3), both, or `None` (a bearer
    /// token).
    pub fn cnf(&self) -> Option<&str> {
        self.cnf.get().map(|c| as_text(c))
    }

    pub(crate) fn cnf_c(&self) -> Option<&CStr> {
        self.cnf.get().map(CString::as_c_str)
    }

    /// The `Authorization` header value for a resource request:
    /// `DPoP <access token>` for a DPoP token, else `Bearer <access token>`
    /// (whatever case the server wrote the type in).
    pub fn authorization(&self) -> &str {
        as_text(self.authorization_c())
    }

    pub(crate) fn authorization_c(&self) -> &CStr {
        self.authorization.get_or_init(|| {
            let scheme = if self.token_type().eq_ignore_ascii_case("DPoP") {
                "DPoP"
            } else {
                "Bearer"
            };
            let token = self.access_token();
            let mut bytes = Vec::with_capacity(scheme.len() + 1 + token.len() + 1);
            bytes.extend_from_slice(scheme.as_bytes());
            bytes.push(b' ');
            bytes.extend_from_slice(token.as_bytes());
            // The access token is a C string already: no NUL inside.
            CString::new(bytes).expect("no NUL")
        })
    }

    /// A string member of the response, e.g. `sid`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_c(name).map(as_text)
    }

    /// A string member of the response as a C string.
    pub fn get_c(&self, name: &str) -> Option<&CStr> {
        self.strings
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_c_str())
    }

    pub fn access_token(&self) -> &str {
        self.get("access_token").expect("checked when parsed")
    }

    pub fn token_type(&self) -> &str {
        self.get("token_type").expect("checked when parsed")
    }

    /// Seconds the access token lives, when the server said.
    pub fn expires_in(&self) -> Option<i64> {
        self.expires_in
    }

    pub fn scope(&self) -> Option<&str> {
        self.get("scope")
    }

    pub fn refresh_token(&self) -> Option<&str> {
        self.get("refresh_token")
    }

    pub fn id_token(&self) -> Option<&str> {
        self.get("id_token")
    }

    /// The whole response body.
    pub fn json(&self) -> &str {
        as_text(&self.json)
    }

    /// The whole response body as a C string.
    pub fn json_c(&self) -> &CStr {
        &self.json
    }
}

pub(super) fn response_error(status: u32, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Response, message).with_http_status(status_u16(status))
}

pub(super) fn status_u16(status: u32) -> u16 {
    u16::try_from(status).unwrap_or(0)
}

/// Parses the body of a 2xx answer into a token.
pub fn parse_token(status: u32, body: &[u8]) -> Result<Token> {
    let json = std::str::from_utf8(body)
        .map_err(|_| response_error(status, "the token response is not UTF-8"))?;
    let object = parse_object(body).map_err(|why| {
        response_error(
            status,
            match why {
                NotAnObject::NotJson(_) => "the token response is not JSON",
                NotAnObject::NotObject => "the token response is not a JSON object",
                NotAnObject::Duplicate => "the token response names a member twice",
            },
        )
    })?;
    let map = &object.0;
    for required in ["access_token", "token_type"] {
        match map.get(required) {
            Some(Member::Str(s)) if !s.is_empty() => {}
            Some(_) => {
                return Err(response_error(
                    status,
                    format!("the token response's \"{required}\" is not a non-empty string"),
                ))
            }
            None => {
                return Err(response_error(
                    status,
                    format!("the token response has no \"{required}\""),
                ))
            }
        }
    }
    for optional in ["scope", "refresh_token", "id_token"] {
        match map.get(optional) {
            None | Some(Member::Str(_)) | Some(Member::Null) => {}
            Some(_) => {
                return Err(response_error(
                    status,
                    format!("the token response's \"{optional}\" is not a string"),
                ))
            }
        }
    }
    let expires_in = match map.get("expires_in") {
        None | Some(Member::Null) => None,
        // Read as serde_json reads a number: a fraction, an exponent or
        // "-0" makes it a float, which is refused.
        Some(Member::Number(n)) => match serde_json::from_str::<serde_json::Number>(n)
            .ok()
            .and_then(|n| n.as_i64())
        {
            Some(v) if v >= 0 => Some(v),
            _ => {
                return Err(response_error(
                    status,
                    "the token response's \"expires_in\" is not a non-negative integer that fits 64 bits",
                ))
            }
        },
        // Some servers send the number as a string; accept it when it is one.
        Some(Member::Str(s)) => match s.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => {
                return Err(response_error(
                    status,
                    "the token response's \"expires_in\" is a string that is not a non-negative integer",
                ))
            }
        },
        Some(_) => {
            return Err(response_error(
                status,
                "the token response's \"expires_in\" is not a number",
            ))
        }
    };
    // The names move out of the parsed object; each string is copied once
    // into its C string, and wiped when its member is dropped.
    let mut strings = Vec::with_capacity(map.len());
    for (name, member) in object.0 {
        if let Member::Str(s) = member {
            strings.push((name, c_string(&s)));
        }
    }
    Ok(Token {
        json: c_string(json),
        strings,
        expires_in,
        fresh_until: OnceLock::new(),
        id_token_claims: OnceLock::new(),
        cnf: OnceLock::new(),
        authorization: OnceLock::new(),
        from_store: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_fields() {
        let body = br#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"scope":"a b","refresh_token":"rt","id_token":"it","sid":"s1","n":5}"#;
        let t = parse_token(200, body).unwrap();
        assert_eq!(t.access_token(), "at");
        assert_eq!(t.token_type(), "Bearer");
        assert_eq!(t.expires_in(), Some(3600));
        assert_eq!(t.scope(), Some("a b"));
        assert_eq!(t.refresh_token(), Some("rt"));
        assert_eq!(t.id_token(), Some("it"));
        assert_eq!(t.get("sid"), Some("s1"));
        assert_eq!(t.get("n"), None);
        assert_eq!(t.json().as_bytes(), body);
        let debug = format!("{t:?}");
        assert!(
            !debug.contains("\"at\"") && !debug.contains("rt"),
            "{debug}"
        );
    }

    #[test]
    fn escaped_members_and_values() {
        let body = br#"{"access_token":"a\/b\u00e9\ud83d\ude00","token_type":"Bearer","\u0073id":"x\"y","expires_in":"60","nested":{"k":["v\n"]},"flag":true,"scope":null}"#;
        let t = parse_token(200, body).unwrap();
        assert_eq!(t.access_token(), "a/bé😀");
        assert_eq!(t.get("sid"), Some("x\"y"));
        assert_eq!(t.expires_in(), Some(60));
        assert_eq!(t.scope(), None);
        assert_eq!(t.get("nested"), None);
        assert_eq!(t.get("flag"), None);
        for (body, why) in [
            (
                &br#"{"access_token":"\ud800","token_type":"Bearer"}"#[..],
                "not JSON",
            ),
            (
                br#"{"access_token":"a","token_type":"Bearer","expires_in":1.0}"#,
                "expires_in",
            ),
            (
                br#"{"access_token":"a","token_type":"Bearer","expires_in":1e3}"#,
                "expires_in",
            ),
            (
                br#"{"access_token":"a","token_type":"Bearer","expires_in":-1}"#,
                "expires_in",
            ),
            (
                br#"{"access_token":"a","token_type":"Bearer","expires_in":-0}"#,
                "expires_in",
            ),
            (
                br#"{"access_token":"a","token_type":"Bearer","expires_in":9223372036854775808}"#,
                "expires_in",
            ),
            (
                br#"{"access_token":"a","\u0061ccess_token":"b","token_type":"Bearer"}"#,
                "twice",
            ),
            (br#"["access_token"]"#, "not a JSON object"),
        ] {
            let e = parse_token(200, body).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
        assert_eq!(
            parse_token(
                200,
                br#"{"access_token":"a","token_type":"B","expires_in":9223372036854775807}"#
            )
            .unwrap()
            .expires_in(),
            Some(i64::MAX)
        );
    }

    #[test]
    fn nuls_become_replacement_characters_in_c_strings() {
        for (text, want) in [
            ("", ""),
            ("abc", "abc"),
            ("\0", "\u{FFFD}"),
            ("a\0b", "a\u{FFFD}b"),
            ("\0\0é\0", "\u{FFFD}\u{FFFD}é\u{FFFD}"),
        ] {
            let c = c_string(text);
            assert_eq!(c.to_str().unwrap(), want, "{text:?}");
            assert_eq!(c.as_bytes_with_nul().len(), want.len() + 1);
        }
        let t = parse_token(200, br#"{"access_token":"A\u0000B","token_type":"Bearer"}"#).unwrap();
        assert_eq!(t.access_token(), "A\u{FFFD}B");
    }

    #[test]
    fn bad_tokens_are_response_errors() {
        for body in [
            &b"not json"[..],
            b"[]",
            b"{}",
            br#"{"access_token":"x"}"#,
            br#"{"token_type":"Bearer"}"#,
            br#"{"access_token":"","token_type":"Bearer"}"#,
            br#"{"access_token":5,"token_type":"Bearer"}"#,
            br#"{"access_token":"x","token_type":"Bearer","expires_in":-1}"#,
            br#"{"access_token":"x","token_type":"Bearer","expires_in":9223372036854775808}"#,
            br#"{"access_token":"x","token_type":"Bearer","expires_in":1.5}"#,
            br#"{"access_token":"x","token_type":"Bearer","expires_in":"soon"}"#,
            br#"{"access_token":"x","token_type":"Bearer","refresh_token":7}"#,
            b"\xff\xfe",
            br#"{"access_token":"x","token_type":"Bearer","access_token":"y"}"#,
        ] {
            let e = parse_token(200, body).unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::Response,
                "{:?}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(e.http_status(), 200);
        }
        let t = parse_token(
            200,
            br#"{"access_token":"x","token_type":"Bearer","expires_in":"60"}"#,
        )
        .unwrap();
        assert_eq!(t.expires_in(), Some(60));
        let deep = "[".repeat(100_000);
        assert_eq!(
            parse_token(200, deep.as_bytes()).unwrap_err().kind(),
            ErrorKind::Response
        );
    }
}
