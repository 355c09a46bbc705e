//! JSON objects (token responses, error responses, JWKs) parsed so that no
//! copy of their strings, which are tokens and private keys, is left in
//! freed memory.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;

use serde_json::value::RawValue;
use zeroize::Zeroizing;

/// A member of a parsed JSON object.
pub(crate) enum Member<'a> {
    /// A string, unescaped into a buffer that is wiped when dropped.
    Str(Zeroizing<String>),
    Null,
    /// A number, as its JSON text.
    Number(&'a str),
    /// `true`, `false`, an array or an object.
    Other,
}

/// A top-level JSON object whose member names are all different (a token
/// response that names `access_token` twice, or a JWK that names `d`
/// twice, is ambiguous, and refused).
///
/// serde_json only checks the syntax and hands each value over as a slice
/// of the body: asked for strings, it would unescape them into a scratch
/// buffer of its own, which it grows and frees without wiping, tokens and
/// all. String values are unescaped here instead, each into a buffer of
/// its final size.
pub(crate) struct Object<'a>(pub(crate) BTreeMap<String, Member<'a>>);

/// The members as serde_json found them, names unique.
struct RawMembers<'a>(BTreeMap<String, &'a RawValue>);

impl<'de> serde::Deserialize<'de> for RawMembers<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RawMembers<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<RawMembers<'de>, A::Error> {
                let mut map = BTreeMap::new();
                while let Some((name, value)) = access.next_entry::<String, &'de RawValue>()? {
                    if map.insert(name, value).is_some() {
                        return Err(serde::de::Error::custom(DUPLICATE));
                    }
                }
                Ok(RawMembers(map))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// The text of a JSON string token (quotes included) that serde_json has
/// checked, unescaped. The result is never longer than the token (every
/// escape is longer than what it stands for), so its buffer never grows.
/// `None` for an unpaired surrogate escape, which serde_json refuses in a
/// string too.
fn unescape(token: &str) -> Option<Zeroizing<String>> {
    fn hex4(s: &str) -> Option<u32> {
        let digits = s.get(..4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    }
    let mut rest = token.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = Zeroizing::new(String::with_capacity(rest.len()));
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = *rest.as_bytes().get(at + 1)?;
        if !escape.is_ascii() {
            return None;
        }
        rest = &rest[at + 2..];
        let c = match escape {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = hex4(rest)?;
                rest = &rest[4..];
                match unit {
                    0xD800..=0xDBFF => {
                        let low = hex4(rest.strip_prefix("\\u")?)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        rest = &rest[6..];
                        char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?
                    }
                    _ => char::from_u32(unit)?, // None for a lone low surrogate
                }
            }
            _ => return None,
        };
        out.push(c);
    }
    out.push_str(rest);
    Some(out)
}

const DUPLICATE: &str = "a member name appears twice";

/// Why a text is not a usable JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotAnObject {
    /// Not JSON, and where or why (never a quote of the text, which may be
    /// a key or a token).
    NotJson(String),
    NotObject,
    Duplicate,
}

/// How deep a member's value may nest: as deep as serde_json parses one
/// into a `Value` (its recursion limit leaves 126 levels inside the object
/// around it), as before this parser, and so that whoever parses the text
/// again (a binding reading the raw response) can.
const MAX_DEPTH: usize = 126;

/// Checks the JSON text of a value that is not a string, as serde_json
/// would when parsing it into a `Value`, which its syntax check skips: no
/// nesting deeper than `MAX_DEPTH`, no number too large for an `f64`, and
/// no unpaired surrogate escape in a string.
fn check_value(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    // Where the string being read starts, and whether it has an escape.
    let mut string: Option<(usize, bool)> = None;
    let mut escaped = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some((start, has_escape)) = string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => {
                    escaped = true;
                    string = Some((start, true));
                }
                (false, b'"') => {
                    // Unescaped only to be checked; wiped when dropped.
                    if has_escape && unescape(&text[start..=i]).is_none() {
                        return Err("a string has an unpaired surrogate escape".into());
                    }
                    string = None;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => string = Some((i, false)),
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("a value is nested more than {MAX_DEPTH} deep"));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .map_or(bytes.len(), |n| i + n);
                // ASCII on both ends, so both are character boundaries.
                if !text[i..end].parse::<f64>().is_ok_and(f64::is_finite) {
                    return Err("a number is out of range".into());
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Parses a JSON object whose member names are all different.
pub(crate) fn parse_object(text: &[u8]) -> Result<Object<'_>, NotAnObject> {
    let raw = match serde_json::from_slice::<RawMembers>(text) {
        Ok(raw) => raw,
        Err(e) if e.to_string().starts_with(DUPLICATE) => return Err(NotAnObject::Duplicate),
        Err(e) if e.is_data() => return Err(NotAnObject::NotObject),
        Err(e) => {
            let at = format!("line {}, column {}", e.line(), e.column());
            return Err(NotAnObject::NotJson(at));
        }
    };
    let mut members = BTreeMap::new();
    for (name, value) in raw.0 {
        let text = value.get();
        let member = match text.as_bytes().first() {
            Some(b'"') => Member::Str(unescape(text).ok_or_else(|| {
                NotAnObject::NotJson("a string has an unpaired surrogate escape".into())
            })?),
            first => {
                check_value(text).map_err(NotAnObject::NotJson)?;
                match first {
                    Some(b'n') => Member::Null,
                    Some(b'-' | b'0'..=b'9') => Member::Number(text),
                    _ => Member::Other,
                }
            }
        };
        members.insert(name, member);
    }
    Ok(Object(members))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unescaper agrees with serde_json on every string serde_json
    /// accepts, and refuses what it refuses (unpaired surrogates).
    #[test]
    fn unescaping_agrees_with_serde_json() {
        let pieces = [
            "",
            "a",
            "é",
            "😀",
            "\\\"",
            "\\\\",
            "\\/",
            "\\b\\f\\n\\r\\t",
            "\\u0041",
            "\\u00e9",
            "\\u20AC",
            "\\u0000",
            "\\ud83d\\ude00",
            "\\uD800",
            "\\uDC00",
            "\\uD800\\u0041",
            "\\uDBFF\\uDFFF",
            "\\uD800x",
            "/*",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let token = format!("\"{a}{b}{c}\"");
                    let ours = unescape(&token).map(|s| s.to_string());
                    let theirs = serde_json::from_str::<String>(&token).ok();
                    assert_eq!(ours, theirs, "{token}");
                    if let Some(s) = ours {
                        assert!(s.len() <= token.len() - 2, "{token}");
                    }
                }
            }
        }
    }

    #[test]
    fn nesting_is_bounded_and_strings_do_not_count() {
        let nested = |n: usize| format!("{{\"x\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        assert!(parse_object(nested(MAX_DEPTH).as_bytes()).is_ok());
        // The same bound as serde_json's, one level on either side.
        for n in [MAX_DEPTH, MAX_DEPTH + 1] {
            let ours = parse_object(nested(n).as_bytes()).is_ok();
            let theirs = serde_json::from_str::<serde_json::Value>(&nested(n)).is_ok();
            assert_eq!(ours, theirs, "{n}");
        }
        assert_eq!(
            parse_object(nested(MAX_DEPTH + 1).as_bytes()).err(),
            Some(NotAnObject::NotJson(format!(
                "a value is nested more than {MAX_DEPTH} deep"
            )))
        );
        let deep = |inner: &str| {
            format!(
                "{}{inner}{}",
                "[".repeat(MAX_DEPTH - 1),
                "]".repeat(MAX_DEPTH - 1)
            )
        };
        assert!(check_value(&deep(r#"["[[[\"]]]", {"a": "\\"}, "{{"]"#)).is_err());
        assert!(check_value(&deep(r#"["[[[\"]]]", "\\", "{{"]"#)).is_ok());
    }

    /// Numbers out of an f64's range and unpaired surrogate escapes are
    /// refused wherever they are, as serde_json refuses them in a Value;
    /// strings that look like numbers are not numbers.
    #[test]
    fn numbers_and_nested_strings_are_checked_like_serde_json() {
        for value in [
            "3E600",
            "-1e309",
            "1e308",
            "1e-400",
            "0",
            "-0.5",
            "18446744073709551616",
            &"9".repeat(400),
            "[1,2e999]",
            r#"{"a":[-3E600]}"#,
            r#""3E600""#,
            r#"["1e999"]"#,
            r#"["\ud800"]"#,
            r#"{"k":"\udc00x"}"#,
            r#"["\ud83d\ude00", "\\ud800"]"#,
            r#"{"\ud800":1}"#,
        ] {
            let body = format!(r#"{{"x":{value}}}"#);
            let ours = parse_object(body.as_bytes()).is_ok();
            let theirs = serde_json::from_str::<serde_json::Value>(&body).is_ok();
            assert_eq!(ours, theirs, "{value}");
        }
    }
}
