//! RFC 7523 client assertions: the claims of a client's assertions,
//! encoded once, with a fresh `jti`, `iat` and `exp` for each one.
#![forbid(unsafe_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// `client_assertion_type` of RFC 7523 client authentication.
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The claims of a client's assertions (RFC 7523 §3): `iss` = `sub` = the
/// client id and `aud`, JSON-encoded once when the settings change; each
/// assertion only appends its `jti`, `iat` and `exp`.
#[derive(Debug, Clone)]
pub struct ClaimsTemplate {
    /// `{"iss":…,"sub":…,"aud":…,"jti":"`
    prefix: String,
}

/// One audience is a string; several are an array (RFC 7519 §4.1.3).
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience<'a> {
    One(&'a str),
    Many(&'a [String]),
}

#[derive(Serialize)]
struct FixedClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: Audience<'a>,
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ClaimsTemplate {
    pub fn new(client_id: &str, aud: Audience<'_>) -> Self {
        let fixed = FixedClaims {
            iss: client_id,
            sub: client_id,
            aud,
        };
        let mut prefix = serde_json::to_string(&fixed).expect("claims always serialize");
        prefix.pop(); // the closing brace
        prefix.push_str(r#","jti":""#);
        ClaimsTemplate { prefix }
    }

    /// Fresh claims as JSON: a new random `jti` (UUID v4), `iat` backdated
    /// by `clock_skew`, `exp` = now + `lifetime`.
    pub fn to_json(&self, lifetime: u32, clock_skew: u32) -> Vec<u8> {
        use std::io::Write;
        let now = now();
        let mut json = Vec::with_capacity(self.prefix.len() + 80);
        json.extend_from_slice(self.prefix.as_bytes());
        let mut jti = [0u8; uuid::fmt::Hyphenated::LENGTH];
        json.extend_from_slice(
            crate::random::uuid_v4()
                .hyphenated()
                .encode_lower(&mut jti)
                .as_bytes(),
        );
        let iat = now.saturating_sub(u64::from(clock_skew));
        let exp = now + u64::from(lifetime);
        write!(json, r#"","iat":{iat},"exp":{exp}}}"#).expect("writing to a Vec cannot fail");
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_template_is_json_with_fresh_jti() {
        let many = ["a\"b".to_string(), "https://x/y".to_string()];
        for (aud, expected) in [
            (
                Audience::One("https://as/token"),
                serde_json::json!("https://as/token"),
            ),
            (
                Audience::Many(&many),
                serde_json::json!(["a\"b", "https://x/y"]),
            ),
        ] {
            let template = ClaimsTemplate::new("client \"1\"\n", aud);
            let one: serde_json::Value = serde_json::from_slice(&template.to_json(300, 5)).unwrap();
            let two: serde_json::Value = serde_json::from_slice(&template.to_json(300, 5)).unwrap();
            assert_eq!(one["iss"], "client \"1\"\n");
            assert_eq!(one["sub"], one["iss"]);
            assert_eq!(one["aud"], expected);
            assert_eq!(
                one["exp"].as_u64().unwrap() - one["iat"].as_u64().unwrap(),
                305
            );
            assert_eq!(one.as_object().unwrap().len(), 6);
            assert_ne!(one["jti"], two["jti"]);
        }
    }
}
