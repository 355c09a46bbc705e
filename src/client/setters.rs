//! The client's setters: credentials, assertion claims, transport, retries
//! and the token cache's policy. Each validates its input, then publishes
//! a new settings snapshot (`Client::update`); a refused value changes
//! nothing.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use super::{
    check_text, readable_file, AuthMethod, Client, Credentials, MAX_ASSERTION_LIFETIME,
    MAX_CLOCK_SKEW,
};
use crate::cache::{Clock, TokenCallback};
use crate::error::{Error, Result};
use crate::jose::JwsSigner;
use crate::keys::{Algorithm, PrivateKey};
use crate::oauth::RetryPolicy;
use crate::observe::{Level, LogCallback, LogSink};
use crate::transport::ClientCert;

impl Client {
    /// Authenticates with a client secret by `method`, one of
    /// `ClientSecretBasic`, `ClientSecretPost` or `ClientSecretJwt`.
    pub fn set_client_secret(&self, secret: &str, method: AuthMethod) -> Result<()> {
        crate::audit::secret(secret);
        if secret.is_empty() {
            return Err(Error::invalid_argument("the client secret is empty"));
        }
        if secret.len() > 4096 {
            return Err(Error::invalid_argument(
                "the client secret is longer than 4096 bytes",
            ));
        }
        if !matches!(
            method,
            AuthMethod::ClientSecretBasic
                | AuthMethod::ClientSecretPost
                | AuthMethod::ClientSecretJwt
        ) {
            return Err(Error::config(format!(
                "{} does not use a client secret: use client_secret_basic, client_secret_post or client_secret_jwt",
                method.name()
            )));
        }
        let secret = Arc::new(Zeroizing::new(secret.to_string()));
        self.update(|s| {
            let signer = match method {
                AuthMethod::ClientSecretJwt => {
                    Some(Arc::new(JwsSigner::hmac(secret.as_bytes(), s.hmac_alg)?))
                }
                _ => None,
            };
            s.credentials = Credentials::Secret {
                secret,
                method,
                signer,
            };
            Ok(())
        })
    }

    /// Chooses the HMAC algorithm of `client_secret_jwt` assertions: HS256
    /// (the default), HS384 or HS512. The secret must be at least as long as
    /// the hash output.
    pub fn set_hmac_algorithm(&self, alg: Algorithm) -> Result<()> {
        if !alg.is_hmac() {
            return Err(Error::invalid_argument(format!(
                "{alg} is not an HMAC algorithm: use HS256, HS384 or HS512"
            )));
        }
        self.update(|s| {
            if let Credentials::Secret {
                secret,
                method: AuthMethod::ClientSecretJwt,
                signer,
            } = &mut s.credentials
            {
                *signer = Some(Arc::new(JwsSigner::hmac(secret.as_bytes(), alg)?));
            }
            s.hmac_alg = alg;
            Ok(())
        })
    }

    /// Authenticates with `private_key_jwt`, signing with `key` (PEM,
    /// one-line PEM, bare base64 DER, or a private JWK). `key_id` becomes the
    /// JOSE `kid` (default: the JWK's `kid`, if any); `alg` must fit the key
    /// (default: inferred from it). The key is parsed here, once.
    pub fn set_private_key(
        &self,
        key: &str,
        key_id: Option<&str>,
        alg: Option<Algorithm>,
    ) -> Result<()> {
        crate::audit::key(key);
        if let Some(kid) = key_id {
            check_text("the key id", kid, 1024)?;
        }
        if let Some(alg) = alg {
            if alg.is_hmac() {
                return Err(Error::invalid_argument(format!(
                    "{alg} signs with a client secret: use set_client_secret with client_secret_jwt"
                )));
            }
        }
        if key.len() > 1 << 20 {
            return Err(Error::key("the key is larger than 1 MiB"));
        }
        if crate::signer::pkcs11::is_uri(key) {
            let (token_key, alg) = crate::signer::pkcs11::Pkcs11Key::open(key, alg)?;
            return self.set_signer(Arc::new(token_key), alg, key_id);
        }
        let parsed = PrivateKey::parse(key)?;
        let alg = parsed.choose_algorithm(alg)?;
        let kid = key_id
            .map(str::to_string)
            .or_else(|| parsed.jwk_kid.clone());
        let signer = Arc::new(JwsSigner::asymmetric(parsed, alg, kid.as_deref())?);
        self.update(|s| {
            s.credentials = Credentials::PrivateKey { signer };
            Ok(())
        })
    }

    /// Signs assertions (`private_key_jwt`) with `signer`, a key the
    /// library never sees, as `alg` with `key_id` as the `kid`. The signer
    /// is called from any thread, concurrently, with the exact JWS signing
    /// input; see `Signer` for the signature forms it may return.
    pub fn set_signer(
        &self,
        signer: Arc<dyn crate::signer::Signer>,
        alg: Algorithm,
        key_id: Option<&str>,
    ) -> Result<()> {
        if let Some(kid) = key_id {
            check_key_id(kid)?;
        }
        let signer = Arc::new(JwsSigner::external(signer, alg, key_id)?);
        self.update(|s| {
            s.credentials = Credentials::PrivateKey { signer };
            Ok(())
        })
    }

    /// Makes this a public client (auth method `none`).
    pub fn set_public(&self) -> Result<()> {
        self.update(|s| {
            s.credentials = Credentials::Public;
            Ok(())
        })
    }

    /// Sets the assertion audience; `None` restores the default, the token
    /// URL.
    pub fn set_audience(&self, audience: Option<&str>) -> Result<()> {
        if let Some(aud) = audience {
            check_text("the audience", aud, 8192)?;
        }
        self.update(|s| {
            s.audience = audience.map(|a| vec![a.to_string()]).unwrap_or_default();
            Ok(())
        })
    }

    /// Adds one more audience; with two or more, `aud` is a JSON array. The
    /// first added to the default adds to the token URL.
    pub fn add_audience(&self, audience: &str) -> Result<()> {
        check_text("the audience", audience, 8192)?;
        self.update(|s| {
            if s.audience.is_empty() {
                s.audience.push(self.inner.token_url.clone());
            }
            if s.audience.len() >= 16 {
                return Err(Error::invalid_argument("at most 16 audiences"));
            }
            s.audience.push(audience.to_string());
            Ok(())
        })
    }

    /// Sets `exp - now` of assertions, 1 to 3600 seconds (default 300).
    pub fn set_assertion_lifetime(&self, seconds: u32) -> Result<()> {
        if seconds == 0 || seconds > MAX_ASSERTION_LIFETIME {
            return Err(Error::invalid_argument(format!(
                "the assertion lifetime must be 1 to {MAX_ASSERTION_LIFETIME} seconds"
            )));
        }
        self.update(|s| {
            s.assertion_lifetime = seconds;
            Ok(())
        })
    }

    /// Sets how many seconds `iat` is backdated, 0 to 600 (default 5).
    pub fn set_clock_skew(&self, seconds: u32) -> Result<()> {
        if seconds > MAX_CLOCK_SKEW {
            return Err(Error::invalid_argument(format!(
                "the clock skew must be 0 to {MAX_CLOCK_SKEW} seconds"
            )));
        }
        self.update(|s| {
            s.clock_skew = seconds;
            Ok(())
        })
    }

    /// Sets the connect timeout and the total timeout, in milliseconds
    /// (defaults 10,000 and 30,000; each 1 to 600,000). The total timeout
    /// is one deadline for a whole call, retries and backoff included (see
    /// [`Client::grant`]).
    pub fn set_timeouts_ms(&self, connect_ms: u32, total_ms: u32) -> Result<()> {
        for (what, v) in [("connect", connect_ms), ("total", total_ms)] {
            if v == 0 || v > 600_000 {
                return Err(Error::invalid_argument(format!(
                    "the {what} timeout must be 1 to 600000 ms"
                )));
            }
        }
        self.update(|s| {
            s.transport.connect_timeout = Duration::from_millis(u64::from(connect_ms));
            s.transport.total_timeout = Duration::from_millis(u64::from(total_ms));
            Ok(())
        })
    }

    /// Trusts the CA certificates in the PEM file at `path` instead of the
    /// system's (for a private CA). `None` restores the system's.
    pub fn set_ca_file(&self, path: Option<&str>) -> Result<()> {
        let path = path.map(|p| readable_file("the CA file", p)).transpose()?;
        self.update(|s| {
            s.transport.ca_file = path;
            Ok(())
        })
    }

    /// Presents the client certificate with its private key in TLS
    /// handshakes (mTLS, RFC 8705): each either a PEM file's path or PEM
    /// text (told apart by `-----BEGIN`; text is kept in memory and wiped
    /// when replaced or freed). The certificate is read now, so an
    /// unreadable or malformed one fails here. `None` stops presenting one.
    pub fn set_client_cert(&self, cert_and_key: Option<(&str, &str)>) -> Result<()> {
        let is_pem = |s: &str| s.trim_start().starts_with("-----BEGIN");
        let cert = match cert_and_key {
            None => None,
            Some((cert, key)) if is_pem(cert) || is_pem(key) => {
                if is_pem(key) {
                    // Key text (a path is not a secret).
                    crate::audit::key(key);
                }
                if !(is_pem(cert) && is_pem(key)) {
                    return Err(Error::invalid_argument(
                        "give the client certificate and its key both as PEM text, \
                         or both as file paths",
                    ));
                }
                if cert.len().max(key.len()) > 1 << 20 {
                    return Err(Error::invalid_argument(
                        "the client certificate or key is longer than 1 MiB",
                    ));
                }
                Some(ClientCert::pem(cert, key)?)
            }
            Some((cert, key)) => Some(ClientCert::files(
                readable_file("the client certificate", cert)?,
                readable_file("the client key", key)?,
            )?),
        };
        self.update(|s| {
            s.transport.client_cert = cert;
            Ok(())
        })
    }

    /// Sends requests through `proxy` (a URL as libcurl takes it, e.g.
    /// `http://proxy:3128`); `Some("")` disables proxies, `None` restores
    /// the default (the `*_proxy` and `NO_PROXY` environment variables).
    pub fn set_proxy(&self, proxy: Option<&str>) -> Result<()> {
        if let Some(p) = proxy {
            if p.chars().any(|c| c.is_control() || c.is_whitespace()) || p.len() > 4096 {
                return Err(Error::invalid_argument("the proxy URL is malformed"));
            }
        }
        self.update(|s| {
            s.transport.proxy = proxy.map(str::to_string);
            Ok(())
        })
    }

    /// Caps the size of a response body (default 1 MiB), 1 KiB to 64 MiB.
    pub fn set_max_response_bytes(&self, bytes: usize) -> Result<()> {
        if !(1024..=64 << 20).contains(&bytes) {
            return Err(Error::invalid_argument(
                "the response limit must be 1024 bytes to 64 MiB",
            ));
        }
        self.update(|s| {
            s.transport.max_response_bytes = bytes;
            Ok(())
        })
    }

    /// Adds a header to every request. Headers that tokenclient sets itself
    /// (Authorization, Content-Type, Content-Length, Host, Transfer-Encoding)
    /// are refused.
    pub fn add_header(&self, name: &str, value: &str) -> Result<()> {
        let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token_char) {
            return Err(Error::invalid_argument(
                "the header name is not an HTTP token",
            ));
        }
        if value.chars().any(|c| c.is_control() && c != '\t') || value.len() > 8192 {
            return Err(Error::invalid_argument(
                "the header value contains a control character or is too long",
            ));
        }
        const OWN: [&str; 5] = [
            "authorization",
            "content-type",
            "content-length",
            "host",
            "transfer-encoding",
        ];
        if OWN.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(Error::invalid_argument(format!(
                "the header {name} is set by tokenclient itself"
            )));
        }
        self.update(|s| {
            if s.transport.headers.len() >= 32 {
                return Err(Error::invalid_argument("at most 32 extra headers"));
            }
            s.transport.headers.push(format!("{name}: {value}"));
            Ok(())
        })
    }

    /// Sets the retry policy: up to `max_retries` retries (0 to 10; default
    /// 2), backoff starting at `base_delay_ms` and doubling (default 200),
    /// no wait longer than `max_delay_ms` (default 10,000; a longer
    /// `Retry-After` ends the retries).
    pub fn set_retry_policy(
        &self,
        max_retries: u32,
        base_delay_ms: u32,
        max_delay_ms: u32,
    ) -> Result<()> {
        if max_retries > 10
            || base_delay_ms > 60_000
            || max_delay_ms > 600_000
            || base_delay_ms > max_delay_ms
        {
            return Err(Error::invalid_argument(
                "retry policy: at most 10 retries, base delay up to 60000 ms and not above the maximum delay, \
                 maximum delay up to 600000 ms",
            ));
        }
        self.update(|s| {
            s.retry = RetryPolicy {
                max_retries,
                base_delay: Duration::from_millis(u64::from(base_delay_ms)),
                max_delay: Duration::from_millis(u64::from(max_delay_ms)),
            };
            Ok(())
        })
    }

    /// Sets when `get_token` refreshes: once `fraction` (0 < f <= 1;
    /// default 0.8) of a token's lifetime has passed, or `margin` before it
    /// expires (default 10 s), whichever comes first; a token is never
    /// handed out within `margin` of its expiry.
    pub fn set_refresh_policy(&self, fraction: f64, margin: Duration) -> Result<()> {
        if !(fraction > 0.0 && fraction <= 1.0) || margin > Duration::from_secs(3600) {
            return Err(Error::invalid_argument(
                "the refresh fraction must be in (0, 1] and the margin at most 3600 s",
            ));
        }
        self.update(|s| {
            s.refresh.fraction = fraction;
            s.refresh.margin = margin;
            Ok(())
        })
    }

    /// Calls `callback` with every token `get_token` obtains, so that new
    /// tokens and rotated refresh tokens can be persisted. `None` removes it.
    pub fn set_token_callback(&self, callback: Option<TokenCallback>) -> Result<()> {
        self.update(|s| {
            s.on_token = callback;
            Ok(())
        })
    }

    /// Hands the client's events at `level` and above to `callback`;
    /// `None` removes it. Events never hold a secret.
    pub fn set_log_callback(&self, level: Level, callback: Option<LogCallback>) -> Result<()> {
        self.update(|s| {
            s.log = callback.map(|callback| LogSink { level, callback });
            Ok(())
        })
    }

    /// Replaces the clock the token cache reads (tests move time with it).
    pub fn set_clock(&self, clock: Arc<dyn Clock>) -> Result<()> {
        self.update(|s| {
            s.clock = clock;
            Ok(())
        })
    }
}

/// A `kid` as assertions carry it: at most 1024 bytes, no control character.
pub(crate) fn check_key_id(kid: &str) -> Result<()> {
    check_text("the key id", kid, 1024)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn settings_change_claims() {
        let c = Client::new(URL, "c").unwrap();
        c.set_private_key(&p256_pem(), None, None).unwrap();
        c.set_assertion_lifetime(60).unwrap();
        c.set_clock_skew(0).unwrap();
        c.set_audience(Some("https://issuer.example")).unwrap();
        let (header, claims, _) = decode(&c.create_assertion().unwrap());
        assert!(header.get("kid").is_none());
        assert_eq!(claims["aud"], "https://issuer.example");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            60
        );
        c.set_audience(None).unwrap();
        c.add_audience("https://issuer.example").unwrap();
        let (_, claims, _) = decode(&c.create_assertion().unwrap());
        assert_eq!(
            claims["aud"],
            serde_json::json!([URL, "https://issuer.example"])
        );
        for bad in [0, 3601] {
            assert_eq!(
                c.set_assertion_lifetime(bad).unwrap_err().kind(),
                ErrorKind::InvalidArgument
            );
        }
        assert_eq!(
            c.set_clock_skew(601).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            c.set_audience(Some("")).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn hmac_secret_length_and_algorithms() {
        let c = Client::new(URL, "c").unwrap();
        let e = c
            .set_client_secret(&"s".repeat(31), AuthMethod::ClientSecretJwt)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Key);
        assert!(!e.message().contains("sss"), "the secret is not echoed");
        c.set_client_secret(&"s".repeat(32), AuthMethod::ClientSecretJwt)
            .unwrap();
        let (header, _, sig) = decode(&c.create_assertion().unwrap());
        assert_eq!(header["alg"], "HS256");
        assert_eq!(sig.len(), 32);
        // HS512 needs 64 bytes: refused, and the old settings stay.
        assert_eq!(
            c.set_hmac_algorithm(Algorithm::HS512).unwrap_err().kind(),
            ErrorKind::Key
        );
        assert_eq!(decode(&c.create_assertion().unwrap()).0["alg"], "HS256");
        c.set_client_secret(&"s".repeat(64), AuthMethod::ClientSecretJwt)
            .unwrap();
        c.set_hmac_algorithm(Algorithm::HS512).unwrap();
        let (header, _, sig) = decode(&c.create_assertion().unwrap());
        assert_eq!(header["alg"], "HS512");
        assert_eq!(sig.len(), 64);
        assert_eq!(
            c.set_hmac_algorithm(Algorithm::ES256).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn credentials_and_methods() {
        let c = Client::new(URL, "c").unwrap();
        assert_eq!(c.auth_method(), None);
        assert_eq!(c.create_assertion().unwrap_err().kind(), ErrorKind::Config);
        c.set_client_secret("pw", AuthMethod::ClientSecretBasic)
            .unwrap();
        assert_eq!(c.auth_method(), Some(AuthMethod::ClientSecretBasic));
        assert_eq!(c.create_assertion().unwrap_err().kind(), ErrorKind::Config);
        for m in [AuthMethod::None, AuthMethod::PrivateKeyJwt] {
            assert_eq!(
                c.set_client_secret("pw", m).unwrap_err().kind(),
                ErrorKind::Config
            );
        }
        assert_eq!(
            c.set_client_secret("", AuthMethod::ClientSecretPost)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidArgument
        );
        c.set_public().unwrap();
        assert_eq!(c.auth_method(), Some(AuthMethod::None));
        let e = c
            .set_private_key(&p256_pem(), None, Some(Algorithm::RS256))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Key);
        assert_eq!(
            c.auth_method(),
            Some(AuthMethod::None),
            "a refused key changes nothing"
        );
        let e = c
            .set_private_key(&p256_pem(), None, Some(Algorithm::HS256))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        c.set_private_key(&p256_pem(), None, Some(Algorithm::ES256))
            .unwrap();
        assert_eq!(c.auth_method(), Some(AuthMethod::PrivateKeyJwt));
    }
}
