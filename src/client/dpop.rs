//! Sender-constrained tokens: the client's DPoP key (RFC 9449) and its
//! proofs, mutual-TLS client authentication (RFC 8705 §2), and what a
//! token is bound to (`cnf`).
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::sync::Arc;

use super::{AuthMethod, Client, Credentials, Settings};
use crate::dpop::{asks_for_nonce, DpopKey};
use crate::error::{Error, ErrorKind, Result};
use crate::keys::{shown, Algorithm};
use crate::oauth::Token;
use crate::transport::Response;

impl Client {
    /// Signs every token request with a DPoP proof of `key` (any format
    /// the library reads; `None`: a new P-256 key made in memory, wiped
    /// when the client goes), with `alg` (`None`: the key's default, ES256
    /// for P-256). Tokens are then bound to the key (`token_type` DPoP);
    /// the cache keeps them apart from tokens of another key.
    pub fn set_dpop_key(&self, key: Option<&str>, alg: Option<&str>) -> Result<()> {
        key.into_iter().for_each(crate::audit::key);
        let alg = alg.map(str::parse::<Algorithm>).transpose()?;
        let key = match key {
            Some(uri) if crate::signer::pkcs11::is_uri(uri) => {
                let (token_key, alg) = crate::signer::pkcs11::Pkcs11Key::open(uri, alg)?;
                let public = token_key.public_key()?;
                let key_type = crate::keys::public_key_type(&public)?;
                DpopKey::external(Arc::new(token_key), alg, &public, key_type)?
            }
            Some(text) => DpopKey::parse(text, alg)?,
            None if alg.is_some_and(|a| a != Algorithm::ES256) => {
                return Err(Error::invalid_argument(
                    "a generated DPoP key is P-256 (ES256): give a key for another algorithm",
                ))
            }
            None => DpopKey::generate()?,
        };
        let key = Arc::new(key);
        self.update(|s| {
            s.dpop = Some(key);
            Ok(())
        })
    }

    /// Signs DPoP proofs with `signer`, a key the library never sees, as
    /// `alg`; `public_key` is its public half (PEM `PUBLIC KEY`, or base64
    /// of its DER), which every proof carries.
    pub fn set_dpop_signer(
        &self,
        signer: Arc<dyn crate::signer::Signer>,
        alg: Algorithm,
        public_key: &str,
    ) -> Result<()> {
        let (public, key_type) = crate::keys::parse_public_key(public_key)?;
        let key = Arc::new(DpopKey::external(signer, alg, &public, key_type)?);
        self.update(|s| {
            s.dpop = Some(key);
            Ok(())
        })
    }

    /// Whether a token of another type than DPoP is accepted when a DPoP
    /// proof was sent (a server that does not bind tokens). Default: no,
    /// such an answer is a `Response` error.
    pub fn set_dpop_allow_bearer(&self, allow: bool) -> Result<()> {
        self.update(|s| {
            s.dpop_allow_bearer = allow;
            Ok(())
        })
    }

    /// The JWK thumbprint (RFC 7638, base64url SHA-256) of the DPoP key:
    /// the `jkt` of tokens bound to it, and the `dpop_jkt` authorization
    /// parameter. `None` without a DPoP key.
    pub fn dpop_thumbprint(&self) -> Option<String> {
        self.settings()
            .dpop
            .as_ref()
            .map(|k| k.thumbprint().to_string())
    }

    /// A DPoP proof for a request of `method` to `url`: with `access_token`
    /// for a resource request (its hash is the proof's `ath`), and `nonce`,
    /// or when `None` the nonce `url`'s origin gave last (see
    /// `dpop_answer`). Send it as the `DPoP` header, with
    /// `Authorization: DPoP <access token>`. A new proof every request.
    pub fn dpop_proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String> {
        let settings = self.settings();
        let key = settings.dpop.as_ref().ok_or_else(|| {
            Error::config("the client has no DPoP key: set one with set_dpop_key")
        })?;
        if access_token.is_some_and(str::is_empty) {
            return Err(Error::invalid_argument("the access token is empty"));
        }
        let remembered = match nonce {
            Some(_) => None,
            None => self.inner.dpop_nonces.get(url),
        };
        let proof = key.proof(method, url, access_token, nonce.or(remembered.as_deref()))?;
        crate::audit::secret(&proof);
        Ok(proof)
    }

    /// Reads a resource server's answer to a DPoP request to `url`: the
    /// `DPoP-Nonce` header (`dpop_nonce`) is remembered for `url`'s origin,
    /// and `Ok(true)` says the answer was a nonce challenge (401 with
    /// `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a nonce): send
    /// the request once more with a new proof. A malformed or oversized
    /// nonce is a `Response` error and is not kept.
    pub fn dpop_answer(
        &self,
        url: &str,
        status: u16,
        www_authenticate: Option<&str>,
        dpop_nonce: Option<&str>,
    ) -> Result<bool> {
        let Some(nonce) = dpop_nonce else {
            return Ok(false);
        };
        self.inner.dpop_nonces.set(url, nonce)?;
        Ok(status == 401 && www_authenticate.is_some_and(asks_for_nonce))
    }

    /// Authenticates with the client certificate (set with
    /// `set_client_cert`): `method` is `TlsClientAuth` or
    /// `SelfSignedTlsClientAuth`. Replaces other credentials.
    pub fn set_tls_client_auth(&self, method: AuthMethod) -> Result<()> {
        if !matches!(
            method,
            AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth
        ) {
            return Err(Error::invalid_argument(format!(
                "{} is not a TLS client authentication method",
                method.name()
            )));
        }
        self.update(|s| {
            s.credentials = Credentials::Tls { method };
            Ok(())
        })
    }

    /// Where token requests go: the token endpoint, or its mTLS alias
    /// (RFC 8705 §5) for a client made from an issuer that presents a
    /// client certificate.
    pub(super) fn token_endpoint<'a>(&'a self, settings: &Settings) -> Cow<'a, str> {
        if settings.transport.client_cert.is_some() {
            if let Some(alias) = self.published_metadata().and_then(|m| {
                m.endpoint("token_endpoint", true)
                    .filter(|u| *u != m.token_endpoint)
                    .map(str::to_string)
            }) {
                return Cow::Owned(alias);
            }
        }
        Cow::Borrowed(self.token_url())
    }

    /// The cache slot of `scope`'s token: tokens bound to a DPoP key or a
    /// client certificate are kept apart from those of another (or none).
    pub(super) fn cache_key<'a>(settings: &Settings, scope: &'a str) -> Cow<'a, str> {
        let cert = settings.transport.client_cert.as_ref();
        if settings.dpop.is_none() && cert.is_none() {
            return Cow::Borrowed(scope);
        }
        let mut key = scope.to_string();
        if let Some(dpop) = &settings.dpop {
            key.push_str("\u{0}dpop:");
            key.push_str(dpop.thumbprint());
        }
        if let Some(cert) = cert {
            key.push_str("\u{0}x5t:");
            key.push_str(&cert.thumbprint);
        }
        Cow::Owned(key)
    }

    /// Checks a token obtained with `proof_sent` and `settings`, and
    /// records what it is bound to (`cnf`).
    pub(super) fn check_binding(
        &self,
        settings: &Settings,
        proof_sent: bool,
        token: Token,
    ) -> Result<Token> {
        let mut cnf = serde_json::Map::new();
        if let (true, Some(key)) = (proof_sent, &settings.dpop) {
            let token_type = token.token_type();
            if token_type.eq_ignore_ascii_case("DPoP") {
                cnf.insert("jkt".into(), key.thumbprint().into());
            } else if !settings.dpop_allow_bearer {
                return Err(Error::new(
                    ErrorKind::Response,
                    format!(
                        "a DPoP proof was sent but the server answered with a token of type {}, \
                         not DPoP: refused (set_dpop_allow_bearer accepts it)",
                        shown(token_type)
                    ),
                ));
            }
        }
        if let Some(cert) = &settings.transport.client_cert {
            // A client not made from an issuer has no metadata to say.
            let binds = self
                .published_metadata()
                .is_none_or(|m| m.tls_client_certificate_bound_access_tokens);
            if binds {
                cnf.insert("x5t#S256".into(), cert.thumbprint.clone().into());
            }
        }
        if !cnf.is_empty() {
            token.set_cnf(&serde_json::Value::Object(cnf).to_string());
        }
        Ok(token)
    }

    /// The nonce of a token endpoint's answer, remembered for its origin;
    /// `Err` for a malformed one.
    pub(super) fn take_nonce(&self, url: &str, response: &Response) -> Option<Result<String>> {
        let nonce = response.dpop_nonce.as_deref()?;
        Some(
            self.inner
                .dpop_nonces
                .set(url, nonce)
                .map(|()| nonce.to_string()),
        )
    }
}
