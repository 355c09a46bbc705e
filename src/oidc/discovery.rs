//! Authorization server metadata: OpenID Connect Discovery 1.0 and RFC 8414.
#![forbid(unsafe_code)]

use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::url::check_endpoint;

/// How long a metadata document is used when its answer said nothing of
/// its freshness.
pub(crate) const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

/// The largest metadata document read (they are a few KB).
pub(crate) const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// An authorization server's metadata, as far as tokenclient uses it; the
/// whole document is kept as `json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    pub issuer: String,
    pub token_endpoint: String,
    pub authorization_endpoint: Option<String>,
    pub pushed_authorization_request_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub introspection_endpoint: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub require_pushed_authorization_requests: bool,
    pub authorization_response_iss_parameter_supported: bool,
    /// `mtls_endpoint_aliases` (RFC 8705 §5): the endpoints to use instead
    /// when presenting a client certificate, by their metadata names.
    pub mtls_endpoint_aliases: Vec<(String, String)>,
    /// Whether the server binds access tokens to the client certificate
    /// they were obtained with (RFC 8705 §3).
    pub tls_client_certificate_bound_access_tokens: bool,
    /// The document as served.
    pub json: String,
}

/// Where the metadata of `issuer` is published: the OpenID Connect
/// location (`/.well-known/openid-configuration` appended to the issuer),
/// then RFC 8414's (`/.well-known/oauth-authorization-server` inserted
/// between the host and the issuer's path).
pub(crate) fn locations(issuer: &str) -> [String; 2] {
    let oidc = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    // The path starts at the first '/' after "scheme://".
    let after_scheme = issuer.find("://").map_or(0, |i| i + 3);
    let (origin, path) = match issuer[after_scheme..].find('/') {
        Some(i) => issuer.split_at(after_scheme + i),
        None => (issuer, ""),
    };
    let rfc8414 = format!(
        "{origin}/.well-known/oauth-authorization-server{}",
        path.trim_end_matches('/')
    );
    [oidc, rfc8414]
}

fn text(doc: &Value, name: &str) -> Result<Option<String>> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::config(format!(
            "the metadata's {name} is not a string"
        ))),
    }
}

fn endpoint(doc: &Value, name: &str) -> Result<Option<String>> {
    let Some(url) = text(doc, name)? else {
        return Ok(None);
    };
    check_endpoint(&format!("the metadata's {name}"), &url)
        .map_err(|e| Error::config(e.message().to_string()))?;
    Ok(Some(url))
}

fn strings(doc: &Value, name: &str) -> Result<Vec<String>> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    Error::config(format!("the metadata's {name} holds a non-string"))
                })
            })
            .collect(),
        Some(_) => Err(Error::config(format!(
            "the metadata's {name} is not an array"
        ))),
    }
}

fn flag(doc: &Value, name: &str) -> Result<bool> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(Error::config(format!(
            "the metadata's {name} is not a boolean"
        ))),
    }
}

impl Metadata {
    /// Reads a metadata document fetched for `issuer`: its `issuer` must be
    /// `issuer` exactly (OpenID Connect Discovery §4.3, RFC 8414 §3.3), its
    /// endpoints valid URLs, and it must name a token endpoint.
    pub fn parse(issuer: &str, body: &[u8]) -> Result<Metadata> {
        let json = std::str::from_utf8(body)
            .map_err(|_| Error::config("the metadata document is not UTF-8"))?;
        let doc: Value = serde_json::from_str(json)
            .map_err(|e| Error::config(format!("the metadata document is not JSON: {e}")))?;
        if !doc.is_object() {
            return Err(Error::config("the metadata document is not a JSON object"));
        }
        let served = text(&doc, "issuer")?
            .ok_or_else(|| Error::config("the metadata document has no issuer"))?;
        if served != issuer {
            return Err(Error::config(format!(
                "the metadata document is for the issuer {served:?}, not {issuer:?}: \
                 refused (an issuer must publish its own metadata)"
            )));
        }
        Ok(Metadata {
            issuer: served,
            token_endpoint: endpoint(&doc, "token_endpoint")?
                .ok_or_else(|| Error::config("the metadata names no token_endpoint"))?,
            authorization_endpoint: endpoint(&doc, "authorization_endpoint")?,
            pushed_authorization_request_endpoint: endpoint(
                &doc,
                "pushed_authorization_request_endpoint",
            )?,
            revocation_endpoint: endpoint(&doc, "revocation_endpoint")?,
            introspection_endpoint: endpoint(&doc, "introspection_endpoint")?,
            device_authorization_endpoint: endpoint(&doc, "device_authorization_endpoint")?,
            userinfo_endpoint: endpoint(&doc, "userinfo_endpoint")?,
            jwks_uri: endpoint(&doc, "jwks_uri")?,
            token_endpoint_auth_methods_supported: strings(
                &doc,
                "token_endpoint_auth_methods_supported",
            )?,
            token_endpoint_auth_signing_alg_values_supported: strings(
                &doc,
                "token_endpoint_auth_signing_alg_values_supported",
            )?,
            id_token_signing_alg_values_supported: strings(
                &doc,
                "id_token_signing_alg_values_supported",
            )?,
            require_pushed_authorization_requests: flag(
                &doc,
                "require_pushed_authorization_requests",
            )?,
            authorization_response_iss_parameter_supported: flag(
                &doc,
                "authorization_response_iss_parameter_supported",
            )?,
            mtls_endpoint_aliases: aliases(&doc)?,
            tls_client_certificate_bound_access_tokens: flag(
                &doc,
                "tls_client_certificate_bound_access_tokens",
            )?,
            json: json.to_string(),
        })
    }

    /// The endpoint named `name` (e.g. `revocation_endpoint`), its mTLS
    /// alias when `mtls` (a client certificate is presented) and the
    /// metadata has one.
    pub fn endpoint(&self, name: &str, mtls: bool) -> Option<&str> {
        if mtls {
            if let Some((_, url)) = self.mtls_endpoint_aliases.iter().find(|(n, _)| n == name) {
                return Some(url);
            }
        }
        match name {
            "token_endpoint" => Some(&self.token_endpoint),
            "authorization_endpoint" => self.authorization_endpoint.as_deref(),
            "pushed_authorization_request_endpoint" => {
                self.pushed_authorization_request_endpoint.as_deref()
            }
            "revocation_endpoint" => self.revocation_endpoint.as_deref(),
            "introspection_endpoint" => self.introspection_endpoint.as_deref(),
            "device_authorization_endpoint" => self.device_authorization_endpoint.as_deref(),
            "userinfo_endpoint" => self.userinfo_endpoint.as_deref(),
            "jwks_uri" => self.jwks_uri.as_deref(),
            _ => None,
        }
    }
}

/// The endpoints whose mTLS aliases the library uses.
const USED: &[&str] = &[
    "token_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "userinfo_endpoint",
    "device_authorization_endpoint",
    "pushed_authorization_request_endpoint",
];

/// `mtls_endpoint_aliases`: an object of endpoint URLs, each checked as
/// the endpoints are.
fn aliases(doc: &Value) -> Result<Vec<(String, String)>> {
    let aliases = match doc.get("mtls_endpoint_aliases") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(aliases @ Value::Object(_)) => aliases,
        Some(_) => {
            return Err(Error::config(
                "the metadata's mtls_endpoint_aliases is not an object",
            ))
        }
    };
    let names = aliases.as_object().into_iter().flat_map(|o| o.keys());
    let mut out = Vec::new();
    for name in names {
        match endpoint(aliases, name) {
            Ok(Some(url)) => out.push((name.clone(), url)),
            Ok(None) => {}
            // An alias of an endpoint this library uses must be valid; a
            // malformed one of another (a vendor's) is left out.
            Err(e) if USED.contains(&name.as_str()) => return Err(e),
            Err(_) => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://idp.example.com";

    fn doc(extra: &str) -> String {
        format!(r#"{{"issuer":"{ISSUER}","token_endpoint":"{ISSUER}/oauth/token"{extra}}}"#)
    }

    #[test]
    fn where_metadata_is_published() {
        assert_eq!(
            locations("https://idp.example.com"),
            [
                "https://idp.example.com/.well-known/openid-configuration".to_string(),
                "https://idp.example.com/.well-known/oauth-authorization-server".to_string(),
            ]
        );
        assert_eq!(
            locations("https://auth.pingone.eu/env-1/as/"),
            [
                "https://auth.pingone.eu/env-1/as/.well-known/openid-configuration".to_string(),
                "https://auth.pingone.eu/.well-known/oauth-authorization-server/env-1/as"
                    .to_string(),
            ]
        );
    }

    #[test]
    fn a_document_is_read() {
        let m = Metadata::parse(
            ISSUER,
            doc(&format!(
                r#","revocation_endpoint":"{ISSUER}/revoke","token_endpoint_auth_methods_supported":["private_key_jwt"],"require_pushed_authorization_requests":true"#
            ))
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(m.token_endpoint, format!("{ISSUER}/oauth/token"));
        assert_eq!(
            m.revocation_endpoint.as_deref(),
            Some("https://idp.example.com/revoke")
        );
        assert_eq!(m.introspection_endpoint, None);
        assert_eq!(m.token_endpoint_auth_methods_supported, ["private_key_jwt"]);
        assert!(m.require_pushed_authorization_requests);
        assert!(!m.authorization_response_iss_parameter_supported);
        assert!(m.mtls_endpoint_aliases.is_empty());
        assert_eq!(
            m.endpoint("revocation_endpoint", true),
            Some("https://idp.example.com/revoke")
        );
    }

    #[test]
    fn mtls_aliases_are_used_with_a_certificate() {
        let m = Metadata::parse(
            ISSUER,
            doc(r#","revocation_endpoint":"https://idp.example.com/revoke","mtls_endpoint_aliases":{"token_endpoint":"https://mtls.idp.example.com/token","x_unknown":"https://mtls.idp.example.com/x","x_vendor":5},"tls_client_certificate_bound_access_tokens":true"#)
                .as_bytes(),
        )
        .unwrap();
        assert!(m.tls_client_certificate_bound_access_tokens);
        assert_eq!(
            m.endpoint("token_endpoint", true),
            Some("https://mtls.idp.example.com/token")
        );
        assert_eq!(
            m.endpoint("token_endpoint", false),
            Some("https://idp.example.com/oauth/token")
        );
        assert_eq!(
            m.endpoint("revocation_endpoint", true),
            Some("https://idp.example.com/revoke")
        );
        for bad in [
            r#","mtls_endpoint_aliases":[]"#,
            r#","mtls_endpoint_aliases":{"token_endpoint":"http://evil.example.com/t"}"#,
            r#","mtls_endpoint_aliases":{"token_endpoint":5}"#,
        ] {
            assert_eq!(
                Metadata::parse(ISSUER, doc(bad).as_bytes())
                    .unwrap_err()
                    .kind(),
                crate::ErrorKind::Config,
                "{bad}"
            );
        }
    }

    /// Every way a document can be wrong is a CONFIG error that says what.
    #[test]
    fn bad_documents_are_refused() {
        let cases: [(String, &str); 9] = [
            ("not json".into(), "not JSON"),
            ("[]".into(), "not a JSON object"),
            (r#"{"token_endpoint":"https://idp.example.com/t"}"#.into(), "no issuer"),
            (
                r#"{"issuer":"https://evil.example.com","token_endpoint":"https://idp.example.com/t"}"#.into(),
                "not \"https://idp.example.com\"",
            ),
            (format!(r#"{{"issuer":"{ISSUER}/","token_endpoint":"{ISSUER}/t"}}"#), "refused"),
            (format!(r#"{{"issuer":"{ISSUER}"}}"#), "no token_endpoint"),
            (doc(r#","revocation_endpoint":"http://evil.example.com/r""#), "revocation_endpoint"),
            (doc(r#","jwks_uri":7"#), "jwks_uri is not a string"),
            (doc(r#","require_pushed_authorization_requests":"yes""#), "not a boolean"),
        ];
        for (body, needle) in cases {
            let e = Metadata::parse(ISSUER, body.as_bytes()).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config, "{body}");
            assert!(e.message().contains(needle), "{body}: {e}");
        }
    }
}
