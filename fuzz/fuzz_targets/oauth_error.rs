//! `response::parse_error(status, body, redact)`: the error for a non-2xx
//! answer, scrubbed of the request's secrets should the server echo them.
//!
//! Input layout: `status` (2 bytes, little-endian), `off1 len1 off2 len2`
//! (1 byte each), then the body template. The secrets are slices of the
//! template (`len2 == 0`: only one secret), so a body naturally contains them,
//! and one secret may contain or overlap the other. In the template, bytes
//! 0x01..=0x06 are replaced to echo the secrets as a server or proxy might:
//! 0x01/0x02 secret 1/2 as is, 0x03/0x04 form-urlencoded (as the request
//! body carried it), 0x05/0x06 JSON-escaped (`\uXXXX`, so it decodes to the
//! secret inside a JSON string).
//!
//! Properties, for secrets of 8 bytes or more with at least 4 different
//! characters (the library scrubs secrets from 4 bytes):
//! - the message, OAuth code, description and URI never contain a secret, as
//!   is or form-urlencoded, that the body carries in that form (the body as
//!   the library reads it: the JSON object's strings for an OAuth error, the
//!   text otherwise);
//! - nor any 16-character piece (with at least 8 different characters) of
//!   such a secret: cutting a long text, or scrubbing one secret, must not
//!   leave part of another in clear;
//! - none of those texts contains a control character (they end up in C
//!   strings and logs);
//! - the error is `OAuth` or `Http` and carries the status.
//!
//! A secret or piece shown counts as echoed only if the body carries it
//! nowhere outside the occurrences of the secrets, with control characters
//! read as the spaces the library turns them into; and the outputs are read
//! apart from the library's own words (an OAuth error's message is checked
//! as its code and description; another error's message past the message
//! for an empty body) and in the parts between its own "[redacted]" and
//! "..." (and a "[redacted]" cut short by it). So text the library makes up,
//! by putting body text next to its own, is not taken for an echo.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tokenclient::fuzzing::parse_error;
use tokenclient::ErrorKind;

const CHECKED_LEN: usize = 8;
/// What the library puts in place of a secret.
const PLACEHOLDER: &str = "[redacted]";
/// What the library appends to a text it cuts.
const ELLIPSIS: &str = "...";
/// Secrets are random: a secret, or a piece of one, with fewer different
/// characters than this is too like filler (runs of one byte, which fuzzing
/// makes plenty of) to tell an echo from a coincidence.
const MIN_DISTINCT_SECRET: usize = 4;
const MIN_DISTINCT_PIECE: usize = 8;

fn distinct(text: &str) -> usize {
    let mut chars: Vec<char> = text.chars().collect();
    chars.sort_unstable();
    chars.dedup();
    chars.len()
}
const PIECE_CHARS: usize = 16;

/// Form-urlencoding (WHATWG application/x-www-form-urlencoded), written here
/// independently of the library's.
fn form_encode(text: &str) -> String {
    let mut out = String::new();
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Every UTF-16 unit as `\uXXXX`: decodes to `text` inside a JSON string.
fn json_escape(text: &str) -> String {
    text.encode_utf16().map(|u| format!("\\u{u:04x}")).collect()
}

fn slice(pool: &[u8], off: u8, len: u8) -> String {
    let start = usize::from(off).min(pool.len());
    let end = (start + usize::from(len)).min(pool.len());
    String::from_utf8_lossy(&pool[start..end]).into_owned()
}

/// Every string in a JSON value, member names included.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// The parts of `text` outside every occurrence (overlapping ones too) of
/// every needle, with control characters turned into spaces as the library
/// turns them: what the body shows apart from the secrets.
fn outside(text: &str, needles: &[String]) -> Vec<String> {
    let mut hidden = vec![false; text.len()];
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        let mut from = 0;
        while let Some(at) = text[from..].find(needle.as_str()) {
            let start = from + at;
            hidden[start..start + needle.len()].fill(true);
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    let mut parts = vec![String::new()];
    for (at, c) in text.char_indices() {
        if hidden[at] {
            if !parts.last().is_some_and(String::is_empty) {
                parts.push(String::new());
            }
        } else {
            let last = parts.last_mut().expect("never empty");
            last.push(if c.is_control() { ' ' } else { c });
        }
    }
    parts
}

/// Longest body (after the markers are expanded) worth parsing.
const MAX_BODY: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]);
    let template = &data[6..];
    let secret1 = slice(template, data[2], data[3]);
    let secret2 = slice(template, data[4], data[5]);
    let two = data[5] != 0;
    let form1 = form_encode(&secret1);
    let form2 = form_encode(&secret2);
    let mut body = Vec::with_capacity(template.len() * 2);
    for &b in template {
        match b {
            1 => body.extend_from_slice(secret1.as_bytes()),
            2 => body.extend_from_slice(secret2.as_bytes()),
            3 => body.extend_from_slice(form1.as_bytes()),
            4 => body.extend_from_slice(form2.as_bytes()),
            5 => body.extend_from_slice(json_escape(&secret1).as_bytes()),
            6 => body.extend_from_slice(json_escape(&secret2).as_bytes()),
            b => body.push(b),
        }
    }
    if body.len() > MAX_BODY {
        return;
    }
    let redact: Vec<&str> = if two {
        vec![secret1.as_str(), secret2.as_str()]
    } else {
        vec![secret1.as_str()]
    };

    let e = parse_error(u32::from(status), &body, &redact);

    assert!(
        matches!(e.kind(), ErrorKind::OAuth | ErrorKind::Http),
        "{:?}",
        e.kind()
    );
    assert_eq!(e.http_status(), status);
    assert_eq!(e.kind() == ErrorKind::OAuth, e.oauth().is_some());
    let mut outputs: Vec<&str> = vec![e.message()];
    if let Some(o) = e.oauth() {
        outputs.push(&o.code);
        outputs.extend(o.description.as_deref());
        outputs.extend(o.uri.as_deref());
    }
    for text in &outputs {
        assert!(
            !text.chars().any(char::is_control),
            "a control character in {text:?}"
        );
    }

    // The texts that come from the body, apart from the library's own words
    // around them. An OAuth error's message is made of its code and
    // description, checked as they are; another error's message is the one
    // for an empty body, then ": " and the body's text.
    let from_body: Vec<&str> = match e.oauth() {
        Some(o) => {
            let message = e.message();
            assert!(message.contains(&format!("\"{}\"", o.code)), "{message:?}");
            if let Some(d) = &o.description {
                assert!(message.ends_with(&format!(": {d}")), "{message:?}");
            }
            outputs[1..].to_vec()
        }
        None => {
            let plain = parse_error(u32::from(status), b"", &[]);
            let rest = e
                .message()
                .strip_prefix(plain.message())
                .unwrap_or_else(|| {
                    panic!(
                        "{:?} does not start with {:?}",
                        e.message(),
                        plain.message()
                    )
                });
            vec![rest.strip_prefix(": ").unwrap_or(rest)]
        }
    };
    // And in the parts between the library's insertions (the placeholder,
    // the ellipsis of a cut): body text that happens to spell part of a
    // secret once joined to them is no echo.
    // A cut can fall inside a placeholder ("[reda...").
    let from_body: Vec<String> = from_body
        .iter()
        .map(|t| {
            (1..PLACEHOLDER.len()).rev().fold(t.to_string(), |t, k| {
                t.replace(&format!("{}{ELLIPSIS}", &PLACEHOLDER[..k]), ELLIPSIS)
            })
        })
        .collect();
    let outputs: Vec<&str> = from_body
        .iter()
        .flat_map(|t| t.split(PLACEHOLDER))
        .flat_map(|t| t.split(ELLIPSIS))
        .filter(|t| !t.is_empty())
        .collect();

    // What the body says, read as the library read it: the strings of the
    // JSON object for an OAuth error (a secret spread over JSON syntax is
    // not echoed in any of them), the body as text otherwise.
    let mut views = Vec::new();
    if e.kind() == ErrorKind::OAuth {
        let value: Value = serde_json::from_slice(&body).expect("an OAuth error body is JSON");
        strings(&value, &mut views);
    } else {
        views.push(String::from_utf8_lossy(&body).into_owned());
    }
    // Everything the library is asked to scrub (it ignores secrets under 4 bytes).
    let needles: Vec<String> = redact
        .iter()
        .filter(|s| s.len() >= 4)
        .flat_map(|s| [s.to_string(), form_encode(s)])
        .collect();
    let mut outside_secrets: Option<Vec<String>> = None;

    for secret in redact
        .iter()
        .filter(|s| s.len() >= CHECKED_LEN && distinct(s) >= MIN_DISTINCT_SECRET)
    {
        for form in [secret.to_string(), form_encode(secret)] {
            if !views.iter().any(|v| v.contains(&form)) {
                continue; // the server did not echo it in this form
            }
            // The secret itself, then its pieces.
            let chars: Vec<(usize, char)> = form.char_indices().collect();
            let pieces = (0..chars.len().saturating_sub(PIECE_CHARS - 1)).map(|start| {
                let to = chars
                    .get(start + PIECE_CHARS)
                    .map_or(form.len(), |&(i, _)| i);
                &form[chars[start].0..to]
            });
            let candidates = std::iter::once(form.as_str())
                .chain(pieces.filter(|p| distinct(p) >= MIN_DISTINCT_PIECE));
            for piece in candidates {
                if piece.chars().any(char::is_control) {
                    continue; // no output can hold it
                }
                let Some(text) = outputs.iter().find(|t| t.contains(piece)) else {
                    continue;
                };
                let outside_secrets = outside_secrets.get_or_insert_with(|| {
                    views.iter().flat_map(|v| outside(v, &needles)).collect()
                });
                // Shown, yet the body carries it nowhere outside the secrets.
                assert!(
                    outside_secrets.iter().any(|b| b.contains(piece)),
                    "{piece:?}, of secret {form:?}, echoed in {text:?}"
                );
            }
        }
    }
});
