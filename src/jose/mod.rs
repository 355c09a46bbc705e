//! JOSE: JWS compact signing (`sign`), and verification with the public
//! keys of a JWK Set or a shared secret (`verify`).
#![forbid(unsafe_code)]

mod sign;
mod verify;

pub use sign::JwsSigner;
pub(crate) use verify::{Compact, Jwks};
