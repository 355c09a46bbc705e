//! An authorization request (RFC 6749 §4.1, OpenID Connect Core §3.1.2):
//! `state`, `nonce` and a PKCE S256 pair (RFC 7636) from the OS's random
//! source, the parameters to send, and what the callback must match. It can
//! be exported to text and imported again (it holds the PKCE verifier: the
//! text is a secret), so a web app can keep it between the redirect and
//! the callback.
#![forbid(unsafe_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::oauth::encode_into;

/// Parameters the authorization object sets itself.
const RESERVED: [&str; 10] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "request_uri",
    "request",
];

/// Most extra parameters an authorization request takes.
const MAX_PARAMS: usize = 64;

/// The version of the exported text.
const EXPORT_VERSION: u64 = 1;

/// 32 random bytes from the OS, base64url: 43 characters of RFC 7636's
/// unreserved set (256 bits).
fn random_text() -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut bytes[..])
        .map_err(|e| Error::config(format!("the OS gave no random bytes: {e}")))?;
    let mut out = Zeroizing::new(String::with_capacity(43));
    URL_SAFE_NO_PAD.encode_string(&bytes[..], &mut out);
    Ok(out)
}

/// One authorization request of a client.
pub struct Authorization {
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scope: Option<String>,
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) verifier: Zeroizing<String>,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) max_age: Option<u64>,
    /// Send the parameters by PAR (RFC 9126), even if not required.
    pub(crate) par: bool,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

fn checked<'a>(what: &str, value: &'a str) -> Result<&'a str> {
    if value.is_empty() || value.len() > 8192 || value.chars().any(char::is_control) {
        return Err(Error::invalid_argument(format!(
            "{what} is empty, longer than 8192 bytes or has a control character"
        )));
    }
    Ok(value)
}

impl Authorization {
    /// A new request of `client_id` at `issuer`, to come back to
    /// `redirect_uri`, asking for `scope`.
    pub(crate) fn new(
        issuer: &str,
        client_id: &str,
        redirect_uri: &str,
        scope: Option<&str>,
    ) -> Result<Authorization> {
        checked("the redirect URI", redirect_uri)?;
        if let Some(scope) = scope {
            checked("the scope", scope)?;
        }
        Ok(Authorization {
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
            redirect_uri: redirect_uri.to_string(),
            scope: scope.map(str::to_string),
            state: random_text()?.to_string(),
            nonce: random_text()?.to_string(),
            verifier: random_text()?,
            params: Vec::new(),
            max_age: None,
            par: false,
        })
    }

    /// Adds a parameter (`prompt`, `login_hint`, `acr_values`, `resource`,
    /// `claims`, `max_age`, ...; a name may repeat). Those the object sets
    /// itself are refused. `max_age` is also checked on the ID token.
    pub fn set_param(&mut self, name: &str, value: &str) -> Result<()> {
        checked("the parameter name", name)?;
        checked("the parameter value", value)?;
        if RESERVED.contains(&name) {
            return Err(Error::invalid_argument(format!(
                "{name} is set by the authorization request itself"
            )));
        }
        if self.params.len() == MAX_PARAMS {
            return Err(Error::invalid_argument(format!(
                "more than {MAX_PARAMS} parameters"
            )));
        }
        if name == "max_age" {
            self.max_age = Some(value.parse().map_err(|_| {
                Error::invalid_argument("max_age must be a whole number of seconds")
            })?);
        }
        self.params.push((name.to_string(), value.to_string()));
        Ok(())
    }

    /// Sends the request by PAR (RFC 9126) even when the issuer does not
    /// require it.
    pub fn set_par(&mut self, par: bool) {
        self.par = par;
    }

    pub fn state(&self) -> &str {
        &self.state
    }

    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The PKCE S256 challenge of the verifier.
    pub fn code_challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(openssl::sha::sha256(self.verifier.as_bytes()))
    }

    /// Whether `scope` asks for an ID token.
    pub(crate) fn is_openid(&self) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|s| s == "openid"))
    }

    /// The request's parameters, form-encoded (for the URL's query or the
    /// PAR body), with `client_id`.
    pub(crate) fn form(&self) -> String {
        let challenge = self.code_challenge();
        let mut pairs: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
        ];
        pairs.extend(self.scope.as_deref().map(|s| ("scope", s)));
        pairs.extend([
            ("state", self.state.as_str()),
            ("nonce", self.nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]);
        pairs.extend(self.params.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let mut out = String::new();
        for (i, (name, value)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            encode_into(&mut out, name);
            out.push('=');
            encode_into(&mut out, value);
        }
        out
    }

    /// The request as text, to keep between the redirect and the callback.
    /// It holds the PKCE verifier: keep it as a secret (a server-side
    /// session, or an encrypted cookie).
    pub fn export(&self) -> Zeroizing<String> {
        let doc = json!({
            "v": EXPORT_VERSION,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
            "code_verifier": self.verifier.as_str(),
            "params": self.params.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
            "par": self.par,
        });
        Zeroizing::new(doc.to_string())
    }

    /// Reads an exported request of `client_id` at `issuer`.
    pub(crate) fn import(issuer: &str, client_id: &str, text: &str) -> Result<Authorization> {
        let bad =
            |what: &str| Error::invalid_argument(format!("the exported authorization {what}"));
        let doc: Value = serde_json::from_str(text).map_err(|_| bad("is not JSON"))?;
        if doc.get("v").and_then(Value::as_u64) != Some(EXPORT_VERSION) {
            return Err(bad("is of another version"));
        }
        let text_of = |name: &str| -> Result<String> {
            doc.get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| bad(&format!("has no {name}")))
        };
        if text_of("issuer")? != issuer || text_of("client_id")? != client_id {
            return Err(bad("belongs to another issuer or client"));
        }
        let scope = match doc.get("scope") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(bad("has a scope that is not a string")),
        };
        let mut auth = Authorization::new(issuer, client_id, &text_of("redirect_uri")?, scope)?;
        auth.state = text_of("state")?;
        auth.nonce = text_of("nonce")?;
        auth.verifier = Zeroizing::new(text_of("code_verifier")?);
        let valid_verifier = (43..=128).contains(&auth.verifier.len())
            && auth
                .verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !valid_verifier || auth.state.is_empty() || auth.nonce.is_empty() {
            return Err(bad("has a malformed state, nonce or code_verifier"));
        }
        for pair in doc
            .get("params")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("has no params"))?
        {
            match pair.as_array().map(Vec::as_slice) {
                Some([Value::String(n), Value::String(v)]) => auth.set_param(n, v)?,
                _ => return Err(bad("has a malformed parameter")),
            }
        }
        auth.par = doc.get("par").and_then(Value::as_bool).unwrap_or(false);
        Ok(auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Authorization {
        Authorization::new(
            "https://idp.example.com",
            "c1",
            "https://app.example.com/cb",
            Some("openid read"),
        )
        .unwrap()
    }

    #[test]
    fn pkce_state_and_nonce() {
        let a = auth();
        let b = auth();
        assert_eq!(a.verifier.len(), 43);
        assert!(a
            .verifier
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a.state, b.state);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(*a.verifier, *b.verifier);
        // S256 = base64url(SHA-256(verifier)), the pair computed apart with
        // Python's hashlib and base64.
        let mut x = auth();
        x.verifier = Zeroizing::new("dBjftJeZ4CVP-mJ92K9PsqFGaZ8D3RRk5SBtNnEZk_Q".into());
        assert_eq!(
            x.code_challenge(),
            "G_GId1C061ExuAB1llkFctz8Iewl1U5mGj2XUUDtAmk"
        );
        assert!(a.is_openid());
    }

    #[test]
    fn the_form_and_its_parameters() {
        let mut a = auth();
        a.set_param("prompt", "login").unwrap();
        a.set_param("resource", "https://api.example.com/a b")
            .unwrap();
        a.set_param("max_age", "300").unwrap();
        assert_eq!(a.max_age, Some(300));
        let form = a.form();
        assert!(form.starts_with("response_type=code&client_id=c1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&scope=openid+read&state="), "{form}");
        assert!(form.contains("&code_challenge_method=S256&prompt=login&resource=https%3A%2F%2Fapi.example.com%2Fa+b&max_age=300"), "{form}");
        for name in RESERVED {
            assert!(a.set_param(name, "x").is_err(), "{name}");
        }
        assert!(a.set_param("max_age", "soon").is_err());
        assert!(a.set_param("x", "a\nb").is_err());
    }

    #[test]
    fn export_and_import() {
        let mut a = auth();
        a.set_param("login_hint", "alice").unwrap();
        a.set_par(true);
        let text = a.export();
        let b = Authorization::import("https://idp.example.com", "c1", &text).unwrap();
        assert_eq!(
            (b.state.as_str(), b.nonce.as_str(), b.verifier.as_str()),
            (a.state.as_str(), a.nonce.as_str(), a.verifier.as_str())
        );
        assert_eq!(b.form(), a.form());
        assert!(b.par);
        assert!(Authorization::import("https://other.example.com", "c1", &text).is_err());
        assert!(Authorization::import("https://idp.example.com", "c2", &text).is_err());
        for bad in ["", "{}", "[1]", r#"{"v":2}"#] {
            assert!(
                Authorization::import("https://idp.example.com", "c1", bad).is_err(),
                "{bad}"
            );
        }
        let short = text.replace(a.verifier.as_str(), "short");
        assert!(Authorization::import("https://idp.example.com", "c1", &short).is_err());
        // Debug shows no secret.
        let shown = format!("{a:?}");
        assert!(!shown.contains(a.verifier.as_str()) && !shown.contains(&a.state));
    }
}
