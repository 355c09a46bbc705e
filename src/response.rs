//! Token responses (RFC 6749 §5.1) and error responses (§5.2).
#![forbid(unsafe_code)]

use std::ffi::{CStr, CString};
use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, ErrorKind, OAuthDetails, Result};
use crate::form::encode_into;
use crate::json::{parse_object, Member, NotAnObject};

/// A successful token response. Its strings are kept NUL-terminated, so
/// the C API hands them out without copying, and are wiped when it is
/// dropped. `Debug` never shows token values.
pub struct Token {
    json: CString,
    /// Every member whose value is a string, by name.
    strings: Vec<(String, CString)>,
    expires_in: Option<i64>,
}

impl Drop for Token {
    fn drop(&mut self) {
        std::mem::take(&mut self.json).into_bytes().zeroize();
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

fn response_error(status: u32, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Response, message).with_http_status(status_u16(status))
}

fn status_u16(status: u32) -> u16 {
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
    })
}

/// How many bytes of an unexpected body go into an error message.
const SNIPPET_BYTES: usize = 200;

/// The error for a non-2xx answer: `OAuth` when the body is an RFC 6749
/// §5.2 error object, `Http` otherwise. `redact` lists secrets of the
/// request that must never be echoed into a message, should the server
/// reflect them.
pub fn parse_error(status: u32, body: &[u8], redact: &[&str]) -> Error {
    // Each secret as sent, and as it looks form-encoded (a server or proxy
    // may echo the request body). The encoded copies are wiped when
    // dropped, in buffers that never grow (encoding at most triples a text).
    let mut encoded_copies: Vec<Zeroizing<String>> = Vec::new();
    let mut needles: Vec<&str> = Vec::new();
    for secret in redact.iter().filter(|s| s.len() >= 4) {
        needles.push(secret);
        let mut encoded = Zeroizing::new(String::with_capacity(3 * secret.len()));
        encode_into(&mut encoded, secret);
        if encoded.as_str() != *secret {
            encoded_copies.push(encoded);
        }
    }
    needles.extend(encoded_copies.iter().map(|e| e.as_str()));
    let scrub = |text: &str| -> String {
        redact_occurrences(text, &needles)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    if let Ok(object) = parse_object(body) {
        let map = &object.0;
        if let Some(Member::Str(code)) = map.get("error") {
            // Scrub, then cut (as below): cut first, and a secret across the
            // cut would lose its end, match no needle, and show its start.
            let text = |name: &str| match map.get(name) {
                Some(Member::Str(s)) => Some(truncate(&scrub(s), 1024)),
                _ => None,
            };
            let details = OAuthDetails {
                code: truncate(&scrub(code), 256),
                description: text("error_description"),
                uri: text("error_uri"),
            };
            let mut message = format!(
                "the token endpoint answered HTTP {status} with OAuth error \"{}\"",
                details.code
            );
            if let Some(d) = &details.description {
                message.push_str(": ");
                message.push_str(d);
            }
            return Error::new(ErrorKind::OAuth, message)
                .with_http_status(status_u16(status))
                .with_oauth(details);
        }
    }
    // Scrub the whole body first, then cut: a cut could split a secret so
    // that no needle matches the part that remains.
    let scrubbed = scrub(&String::from_utf8_lossy(body));
    let mut message = if (300..400).contains(&status) {
        format!("the token endpoint answered HTTP {status} (a redirect, which is not followed)")
    } else {
        format!("the token endpoint answered HTTP {status} without an OAuth error body")
    };
    let trimmed = scrubbed.trim();
    if !trimmed.is_empty() {
        message.push_str(": ");
        message.push_str(&truncate(trimmed, SNIPPET_BYTES));
    }
    Error::new(ErrorKind::Http, message).with_http_status(status_u16(status))
}

/// `text` with every occurrence of every needle hidden, overlapping ones
/// included: each run of hidden text becomes one "[redacted]". Replacing the
/// needles one after another would not do: replacing one secret can break
/// an occurrence of another that contains or overlaps it (or of itself,
/// when it overlaps itself), and leave the rest of that one in clear.
fn redact_occurrences(text: &str, needles: &[&str]) -> String {
    let bytes = text.as_bytes();
    let mut hidden = vec![false; bytes.len()];
    for needle in needles.iter().map(|n| n.as_bytes()) {
        if needle.is_empty() || needle.len() > bytes.len() {
            continue;
        }
        // Knuth-Morris-Pratt: every occurrence, overlapping ones too, in
        // time linear in the text, whatever the needle repeats.
        let mut fallback = vec![0usize; needle.len()];
        let mut k = 0;
        for i in 1..needle.len() {
            while k > 0 && needle[i] != needle[k] {
                k = fallback[k - 1];
            }
            if needle[i] == needle[k] {
                k += 1;
            }
            fallback[i] = k;
        }
        let mut matched = 0;
        let mut hidden_to = 0;
        for (i, &b) in bytes.iter().enumerate() {
            while matched > 0 && b != needle[matched] {
                matched = fallback[matched - 1];
            }
            if b == needle[matched] {
                matched += 1;
            }
            if matched == needle.len() {
                let start = (i + 1 - needle.len()).max(hidden_to);
                hidden[start..=i].fill(true);
                hidden_to = i + 1;
                matched = fallback[matched - 1];
            }
        }
    }
    if !hidden.contains(&true) {
        return text.to_string();
    }
    // A needle is UTF-8, so each occurrence starts and ends on a character
    // boundary of the text.
    let mut out = String::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        if !hidden[at] {
            out.push(c);
        } else if at == 0 || !hidden[at - 1] {
            out.push_str("[redacted]");
        }
    }
    out
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
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

    #[test]
    fn oauth_and_http_errors() {
        let e = parse_error(
            401,
            br#"{"error":"invalid_client","error_description":"bad secret s3cr3t!","error_uri":"https://x/e"}"#,
            &["s3cr3t!"],
        );
        assert_eq!(e.kind(), ErrorKind::OAuth);
        assert_eq!(e.http_status(), 401);
        let o = e.oauth().unwrap();
        assert_eq!(o.code, "invalid_client");
        assert_eq!(o.description.as_deref(), Some("bad secret [redacted]"));
        assert_eq!(o.uri.as_deref(), Some("https://x/e"));
        assert!(!e.message().contains("s3cr3t!"));

        let e = parse_error(500, b"<html>boom\n</html>", &[]);
        assert_eq!(e.kind(), ErrorKind::Http);
        assert_eq!(e.http_status(), 500);
        assert!(
            e.message().contains("<html>boom </html>"),
            "{}",
            e.message()
        );

        let e = parse_error(302, b"", &[]);
        assert_eq!(e.kind(), ErrorKind::Http);
        assert!(e.message().contains("redirect"));

        // A proxy echoing the request body: the secret, form-encoded, and
        // an assertion longer than the snippet are redacted before the cut.
        let assertion = format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", "A".repeat(300));
        let echoed = format!(
            "{}&client_secret=p%40ss+word%21secret&client_assertion={assertion}",
            "x".repeat(150)
        );
        let e = parse_error(400, echoed.as_bytes(), &["p@ss word!secret", &assertion]);
        assert!(
            !e.message().contains("p%40ss") && !e.message().contains("eyJhbGci"),
            "{}",
            e.message()
        );

        let long = "x".repeat(5000);
        let e = parse_error(503, long.as_bytes(), &[]);
        assert!(e.message().len() < 400);
        // An "error" that is not a string is not an OAuth error.
        assert_eq!(
            parse_error(400, br#"{"error":5}"#, &[]).kind(),
            ErrorKind::Http
        );
    }

    /// Found by fuzzing (fuzz/fuzz_targets/oauth_error.rs): the OAuth
    /// description (and code) were cut to length before being scrubbed, so
    /// a secret echoed across the cut showed its first part.
    #[test]
    fn oauth_fields_are_scrubbed_before_they_are_cut() {
        let secret = "Zq8-VbN3xR2mK7pT_w9YcL4hD0sF6gJ1aE5uO3iM";
        let body = format!(
            r#"{{"error":"{}{secret}","error_description":"{}client_secret={secret}"}}"#,
            "c".repeat(250),
            "request rejected; ".repeat(55),
        );
        let e = parse_error(400, body.as_bytes(), &[secret]);
        let o = e.oauth().unwrap();
        let description = o.description.as_deref().unwrap();
        assert!(
            description.ends_with("client_secret=[redacted]"),
            "{description}"
        );
        assert!(o.code.starts_with(&"c".repeat(250)) && o.code.ends_with("..."));
        for text in [description, &o.code, e.message()] {
            assert!(!text.contains(&secret[..6]), "{text}");
        }
        // A description still longer than the limit once scrubbed is cut.
        let body = format!(
            r#"{{"error":"e","error_description":"{secret} {}"}}"#,
            "x".repeat(2000)
        );
        let e = parse_error(400, body.as_bytes(), &[secret]);
        let description = e.oauth().unwrap().description.as_deref().unwrap();
        assert!(description.starts_with("[redacted] xxx") && description.ends_with("..."));
        assert_eq!(description.len(), 1024 + 3);
    }

    /// Found by fuzzing (fuzz/fuzz_targets/oauth_error.rs): secrets were
    /// replaced one after another, so a secret inside another (a client
    /// secret that happens to occur in the assertion), or an echo where a
    /// secret overlaps itself, left the rest of the longer text in clear.
    #[test]
    fn overlapping_secrets_are_redacted_whole() {
        let inner = "pw12345678";
        let outer = "outer-secret-pw12345678-tail-of-the-assertion";
        let body = format!(
            r#"{{"error":"invalid_client","error_description":"got {outer}","error_uri":"https://x/?a={outer}"}}"#
        );
        for redact in [[inner, outer], [outer, inner]] {
            let e = parse_error(401, body.as_bytes(), &redact);
            let o = e.oauth().unwrap();
            assert_eq!(o.description.as_deref(), Some("got [redacted]"));
            assert_eq!(o.uri.as_deref(), Some("https://x/?a=[redacted]"));
            assert!(!e.message().contains("tail-of"), "{}", e.message());
        }

        // A secret that overlaps itself, echoed in a longer run: every byte
        // of every occurrence goes, not every other occurrence.
        let e = parse_error(500, b"<p>abcabcabcabcab!</p>", &["abcabcab"]);
        assert!(
            e.message().ends_with(": <p>[redacted]!</p>"),
            "{}",
            e.message()
        );
        // Adjacent and partly overlapping secrets, raw and form-encoded.
        let e = parse_error(
            400,
            b"a=one+two+three&b=three+four+five&c=one two three four five",
            &["one two three", "three four five"],
        );
        assert!(
            e.message()
                .ends_with(": a=[redacted]&b=[redacted]&c=[redacted]"),
            "{}",
            e.message()
        );
    }
}
