//! JOSE: JWS compact signing (`sign`); verification and JWKS come next.
#![forbid(unsafe_code)]

mod sign;

pub use sign::JwsSigner;
