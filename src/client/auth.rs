//! Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7523
//! §2.2): the form fields or `Authorization` header of each method, and
//! the signed assertions of `private_key_jwt` and `client_secret_jwt`.
#![forbid(unsafe_code)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use super::{AuthMethod, Client, Credentials, Settings};
use crate::error::{Error, Result};
use crate::oauth::{encode_into, Form, JWT_BEARER_ASSERTION_TYPE};

impl Client {
    /// The authentication method the current credentials use, if any.
    pub fn auth_method(&self) -> Option<AuthMethod> {
        self.settings().auth_method()
    }

    /// A new signed client assertion (new `jti` every call).
    pub fn create_assertion(&self) -> Result<String> {
        self.assertion_with(&self.settings())
    }

    pub(crate) fn assertion_with(&self, settings: &Settings) -> Result<String> {
        let signer =
            match &settings.credentials {
                Credentials::PrivateKey { signer } => signer,
                Credentials::Secret {
                    signer: Some(signer),
                    ..
                } => signer,
                Credentials::Unset => return Err(Error::config(
                    "no credentials: set a private key, or a client secret with client_secret_jwt",
                )),
                _ => {
                    return Err(Error::config(
                        "the client's credentials do not sign assertions: set a private key, \
                     or a client secret with client_secret_jwt",
                    ))
                }
            };
        let claims = settings
            .claims
            .to_json(settings.assertion_lifetime, settings.clock_skew);
        let assertion = signer.sign_compact(&claims)?;
        crate::audit::secret(&assertion);
        Ok(assertion)
    }

    /// Adds the client authentication to `form`, or returns the
    /// `Authorization` header it needs.
    pub(super) fn authenticate(&self, settings: &Settings, form: &mut Form) -> Result<Auth> {
        let mut auth = Auth::default();
        match &settings.credentials {
            Credentials::Unset => {
                return Err(Error::config(
                    "no credentials: set a client secret, a private key, or make the client public",
                ))
            }
            Credentials::Public => form.push("client_id", self.client_id()),
            Credentials::Secret { secret, method, .. } => {
                auth.secret = Some(secret.clone());
                match method {
                    AuthMethod::ClientSecretBasic => {
                        // RFC 6749 §2.3.1: form-urlencode both, then join and base64.
                        let mut pair = Zeroizing::new(String::new());
                        encode_into(&mut pair, self.client_id());
                        pair.push(':');
                        encode_into(&mut pair, secret);
                        let mut header = Zeroizing::new(String::from("Basic "));
                        STANDARD.encode_string(pair.as_bytes(), &mut header);
                        auth.header = Some(header);
                    }
                    AuthMethod::ClientSecretPost => {
                        form.push("client_id", self.client_id());
                        form.push("client_secret", secret);
                    }
                    _ => self.push_assertion(settings, form, &mut auth)?,
                }
            }
            Credentials::PrivateKey { .. } => self.push_assertion(settings, form, &mut auth)?,
            Credentials::Tls { method } => {
                if settings.transport.client_cert.is_none() {
                    return Err(Error::config(format!(
                        "{} needs a client certificate: set one with set_client_cert",
                        method.name()
                    )));
                }
                form.push("client_id", self.client_id());
            }
        }
        Ok(auth)
    }

    /// A new assertion (new `jti`) for every request.
    fn push_assertion(&self, settings: &Settings, form: &mut Form, auth: &mut Auth) -> Result<()> {
        let assertion = Zeroizing::new(self.assertion_with(settings)?);
        form.push("client_id", self.client_id());
        form.push("client_assertion_type", JWT_BEARER_ASSERTION_TYPE);
        // base64url and dots: nothing to escape.
        form.push_unescaped("client_assertion", &assertion);
        auth.assertion = Some(assertion);
        Ok(())
    }
}

/// What the authentication of one request produced, kept so that error
/// messages can be scrubbed of it.
#[derive(Default)]
pub(super) struct Auth {
    pub(super) header: Option<Zeroizing<String>>,
    secret: Option<std::sync::Arc<Zeroizing<String>>>,
    assertion: Option<Zeroizing<String>>,
}

impl Auth {
    pub(super) fn redact(&self) -> Vec<&str> {
        let mut out = Vec::new();
        out.extend(self.secret.as_deref().map(|s| s.as_str()));
        out.extend(self.assertion.as_deref().map(|s| s.as_str()));
        out.extend(self.header.as_deref().map(|s| s.as_str()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    use std::collections::HashSet;

    #[test]
    fn claims_and_header() {
        let c = Client::new(URL, "client-1").unwrap();
        c.set_private_key(&p256_pem(), Some("kid-1"), None).unwrap();
        let before = crate::oauth::now();
        let (header, claims, sig) = decode(&c.create_assertion().unwrap());
        let after = crate::oauth::now();
        assert_eq!(
            header,
            serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": "kid-1"})
        );
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["aud"], URL);
        let iat = claims["iat"].as_u64().unwrap();
        let exp = claims["exp"].as_u64().unwrap();
        assert!(
            iat >= before - 5 && iat <= after - 5,
            "iat backdated by 5 s"
        );
        assert!(exp >= before + 300 && exp <= after + 300);
        let jti = claims["jti"].as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(jti).unwrap().get_version_num(), 4);
        assert_eq!(claims.as_object().unwrap().len(), 6);
        assert_eq!(sig.len(), 64, "ES256 signatures are raw r||s");
    }

    #[test]
    fn jti_unique_over_10000() {
        let c = Client::new(URL, "c").unwrap();
        c.set_client_secret(&"s".repeat(32), AuthMethod::ClientSecretJwt)
            .unwrap();
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let (_, claims, _) = decode(&c.create_assertion().unwrap());
            assert!(seen.insert(claims["jti"].as_str().unwrap().to_string()));
        }
    }
}
