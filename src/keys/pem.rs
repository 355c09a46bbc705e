//! PEM text (also squeezed onto one line, with `\r\n`, or with literal
//! `\n` sequences as environment variables often carry it) and the base64
//! inside it: the block's label decides the DER format.
#![forbid(unsafe_code)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use super::der::{from_pkcs1, from_pkcs8, from_sec1};
use super::{certificate_error, encrypted_error, public_key_error, shown, PrivateKey};
use crate::error::{Error, Result};

/// Base64 with or without padding, standard or URL-safe alphabet, ignoring
/// whitespace. The text is key material: each copy of it is made in a
/// buffer of its final size (growing one would free a copy unwiped).
pub(super) fn decode_base64(text: &str) -> std::result::Result<Zeroizing<Vec<u8>>, ()> {
    // At most the text's non-whitespace, then up to three '=' of padding.
    let mut standard = Zeroizing::new(String::with_capacity(text.len() + 3));
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        standard.push(match c {
            '-' => '+',
            '_' => '/',
            c => c,
        });
    }
    if standard.is_empty() {
        return Err(());
    }
    while standard.ends_with('=') {
        standard.pop();
    }
    while !standard.len().is_multiple_of(4) {
        standard.push('=');
    }
    STANDARD
        .decode(standard.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| ())
}

/// PEM text with each literal "\n" (two characters, as environment
/// variables and JSON strings often carry a key) turned into a newline and
/// each literal "\r" dropped, in a buffer that never grows: the result is
/// never longer than the text.
fn literal_newlines(text: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("\\n") {
            out.push('\n');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("\\r") {
            rest = after;
        } else {
            out.push('\\');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

pub(super) fn parse_pem(text: &str) -> Result<PrivateKey> {
    let text = literal_newlines(text);
    let malformed_begin =
        || Error::key("malformed PEM: the BEGIN line is not of the form -----BEGIN <LABEL>-----");
    // The caller saw "-----BEGIN", but not necessarily followed by a space
    // (e.g. "-----BEGIN!", a literal \n right after it, or nothing at all).
    let begin = text.find("-----BEGIN ").ok_or_else(malformed_begin)?;
    let after_begin = &text[begin + "-----BEGIN ".len()..];
    // The label sits on the BEGIN line, in capitals and spaces; anything
    // else is a broken BEGIN line, and is not quoted (it may be key text).
    let label_end = after_begin
        .find("-----")
        .filter(|&end| {
            end <= 40
                && after_begin[..end]
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b' ' || b.is_ascii_digit())
        })
        .ok_or_else(malformed_begin)?;
    let label = after_begin[..label_end].trim();
    let body_and_rest = &after_begin[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let body_end = body_and_rest
        .find(&end_marker)
        .ok_or_else(|| Error::key(format!("malformed PEM: no \"-----END {label}-----\" line")))?;
    let body = &body_and_rest[..body_end];
    if body.contains("Proc-Type:") || body.contains("DEK-Info:") {
        return Err(Error::key(
            "the key is encrypted (PEM with Proc-Type/DEK-Info); decrypt it first",
        ));
    }
    let der = decode_base64(body).map_err(|_| {
        Error::key(format!(
            "malformed PEM: the body of the {label} block is not base64"
        ))
    })?;
    match label {
        "PRIVATE KEY" => from_pkcs8(&der),
        "EC PRIVATE KEY" => from_sec1(&der),
        "RSA PRIVATE KEY" => from_pkcs1(&der),
        "ENCRYPTED PRIVATE KEY" => Err(encrypted_error()),
        "PUBLIC KEY" | "RSA PUBLIC KEY" | "EC PUBLIC KEY" => Err(public_key_error()),
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => Err(certificate_error()),
        other => Err(Error::key(format!(
            "unsupported PEM block {}: expected PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY",
            shown(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::KeyType;

    use openssl::nid::Nid;

    #[test]
    fn sec1_and_pkcs1_pem() {
        let ec = ec_key(Nid::X9_62_PRIME256V1);
        let sec1 = String::from_utf8(ec.ec_key().unwrap().private_key_to_pem().unwrap()).unwrap();
        assert!(sec1.contains("BEGIN EC PRIVATE KEY"));
        same_key(&parse_ok(&sec1), &ec);

        let rsa = rsa_key(2048);
        let pkcs1 = String::from_utf8(rsa.rsa().unwrap().private_key_to_pem().unwrap()).unwrap();
        assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"));
        let parsed = parse_ok(&pkcs1);
        assert_eq!(parsed.key_type, KeyType::Rsa { bits: 2048 });
        same_key(&parsed, &rsa);
    }

    #[test]
    fn pem_squeezed_crlf_and_escaped() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let text = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let one_line_spaces = text.trim().replace('\n', " ");
        let one_line_none = text.trim().replace('\n', "");
        let crlf = text.replace('\n', "\r\n");
        let escaped = text.trim().replace('\n', "\\n");
        let quoted = format!("\"{escaped}\"");
        for variant in [one_line_spaces, one_line_none, crlf, escaped, quoted] {
            same_key(&parse_ok(&variant), &key);
        }
    }

    /// Found by fuzzing (fuzz/fuzz_targets/key_parse.rs): "-----BEGIN" not
    /// followed by a space passed the dispatch in `parse` but panicked in
    /// `parse_pem` ("checked by the caller").
    #[test]
    fn begin_without_a_space_is_an_error_not_a_panic() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let text = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        for broken in [
            text.replace("-----BEGIN PRIVATE KEY-----", "-----BEGIN!PRIVATE KEY-----"),
            text.replace("-----BEGIN PRIVATE KEY-----", "-----BEGINPRIVATE KEY-----"),
            text.trim()
                .replace('\n', "\\n")
                .replace("BEGIN ", "BEGIN\\n"),
            "-----BEGIN".to_string(),
            "x -----BEGIN\t".to_string(),
        ] {
            let e = parse_err(&broken);
            assert!(e.message().contains("BEGIN line"), "{}", e.message());
        }
    }
}
