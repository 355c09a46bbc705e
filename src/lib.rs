//! tokenclient: OAuth 2.0 / OpenID Connect tokens from a token endpoint,
//! with RFC 7523 client assertions (`private_key_jwt`, `client_secret_jwt`)
//! or client secrets, shipped as a C library.
//!
//! The tree follows a token's way: `keys` (key formats) → `jose` (JWS
//! signing) → `oauth` (assertion claims, forms, grants, token and error
//! responses, retries) → `transport` (libcurl) → `cache` (single-flight
//! token cache) → `client` (the `Client` type, which puts them together).
//! `observe` (events and counters) watches the client at work. `ffi` is
//! the C ABI over `client`. Every module is private; the Rust API
//! is what this file re-exports.
//!
//! Unsafe code is denied everywhere but in `ffi` (the C ABI) and in the
//! two modules of `transport` that call C directly (`libcurl`, `fork`).
#![deny(unsafe_code)]

mod audit;
mod cache;
mod client;
mod dpop;
mod error;
mod jose;
mod json;
mod keys;
mod oauth;
mod observe;
mod oidc;
mod providers;
mod random;
mod signer;
mod store;
mod transport;
mod url;

mod ffi;

pub use cache::{Clock, RefreshPolicy, SystemClock, TokenCallback};
pub use client::{AuthMethod, Call, Client, DeviceAuthorization};
pub use error::{Error, ErrorKind, OAuthDetails, Result};
pub use keys::Algorithm;
pub use oauth::{Token, JWT_BEARER_ASSERTION_TYPE};
pub use observe::{Counters, Event, Level, LogCallback};
pub use oidc::{Authorization, Metadata};
pub use providers::{pingone_token_url, talkdesk_token_url, TalkdeskRegion};
pub use signer::Signer;
pub use transport::{CallOptions, Cancel};

/// The library version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Internals the fuzz targets (`fuzz/`) call directly. Not part of the API:
/// anything here may change in any release.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::jose::JwsSigner;
    pub use crate::keys::{Algorithm, PrivateKey};
    pub use crate::oauth::{parse_error, parse_token};
    pub use crate::url::check_endpoint;

    /// Whether a `WWW-Authenticate` value is a DPoP nonce challenge.
    pub fn dpop_challenge(www_authenticate: &str) -> bool {
        crate::dpop::asks_for_nonce(www_authenticate)
    }

    /// Checks a `DPoP-Nonce` value as a server's answer is checked.
    pub fn dpop_nonce(nonce: &str) -> crate::Result<()> {
        crate::dpop::check_nonce(nonce)
    }

    /// The signature keys a JWK Set document yields.
    pub fn jwks_keys(body: &[u8]) -> crate::Result<usize> {
        crate::jose::Jwks::parse(body).map(|set| set.keys.len())
    }

    /// Validates `id_token` as an ID token of `issuer` for `client_id`, with
    /// the keys of the JWK Set `jwks` (or the HMAC `secret`), at the
    /// current time, as `Client::validate_id_token` does.
    pub fn validate_id_token(
        id_token: &str,
        issuer: &str,
        client_id: &str,
        jwks: &[u8],
        secret: Option<&[u8]>,
    ) -> crate::Result<String> {
        let set = std::sync::Arc::new(crate::jose::Jwks::parse(jwks)?);
        let expected = crate::oidc::Expected {
            issuer,
            client_id,
            nonce: None,
            max_age: None,
            access_token: None,
            code: None,
            algorithms: &[],
            secret,
            now: std::time::SystemTime::now(),
            skew: std::time::Duration::from_secs(5),
        };
        crate::oidc::validate_id_token(id_token, &expected, &mut |_| Ok(set.clone()))
    }
}
