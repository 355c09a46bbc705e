//! OpenID Connect and OAuth 2.0 authorization server pieces that need no
//! client: the metadata document (discovery). The client uses them in
//! `client::oidc`.
#![forbid(unsafe_code)]

mod authorization;
mod discovery;
mod id_token;

pub use authorization::Authorization;
pub use discovery::Metadata;
pub(crate) use discovery::{locations, DEFAULT_MAX_AGE, MAX_DOCUMENT_BYTES};
pub(crate) use id_token::{validate as validate_id_token, Expected};
