//! Error responses (RFC 6749 §5.2), and any other non-2xx answer, as typed
//! errors scrubbed of every secret of the request the server may echo.
#![forbid(unsafe_code)]

use zeroize::Zeroizing;

use super::form::encode_into;
use super::token::status_u16;
use crate::error::{Error, ErrorKind, OAuthDetails};
use crate::json::{parse_object, Member};

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
