//! tokenclient: OAuth 2.0 / OpenID Connect tokens from a token endpoint,
//! with RFC 7523 client assertions (`private_key_jwt`, `client_secret_jwt`)
//! or client secrets, shipped as a C library.
//!
//! The Rust API here is the library; `ffi` is a thin C skin over it, and
//! the only module exempt from the `unsafe_code` lint.
#![deny(unsafe_code)]

pub mod assertion;
mod audit;
pub mod cache;
pub mod client;
mod der;
pub mod error;
pub mod exchange;
pub mod form;
mod json;
pub mod keys;
pub mod providers;
mod random;
pub mod response;
pub mod retry;
pub mod transport;
pub mod url;

mod ffi;

pub use cache::{Clock, RefreshPolicy, SystemClock, TokenCallback};
pub use client::{AuthMethod, Client};
pub use error::{Error, ErrorKind, OAuthDetails, Result};
pub use keys::Algorithm;
pub use providers::{pingone_token_url, talkdesk_token_url, TalkdeskRegion};
pub use response::Token;

/// The library version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
