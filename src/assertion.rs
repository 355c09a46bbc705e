//! RFC 7523 client assertions: claims and JWS compact signing.
#![forbid(unsafe_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::keys::{Algorithm, Hash, KeyType, PrivateKey};

/// A key ready to sign JWS with one algorithm, with the encoded JOSE header
/// computed once.
pub struct JwsSigner {
    key: PKey<Private>,
    kind: SignKind,
    alg: Algorithm,
    encoded_header: String,
}

#[derive(Clone, Copy)]
enum SignKind {
    RsaPkcs1(Hash),
    RsaPss(Hash),
    Ecdsa { hash: Hash, scalar_len: usize },
    Ed25519,
    Hmac(Hash),
}

impl std::fmt::Debug for JwsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwsSigner")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

fn digest(hash: Hash) -> MessageDigest {
    match hash {
        Hash::Sha256 => MessageDigest::sha256(),
        Hash::Sha384 => MessageDigest::sha384(),
        Hash::Sha512 => MessageDigest::sha512(),
    }
}

fn encoded_header(alg: Algorithm, kid: Option<&str>) -> String {
    let header = Header {
        alg: alg.name(),
        typ: "JWT",
        kid,
    };
    let json = serde_json::to_vec(&header).expect("a header always serializes");
    URL_SAFE_NO_PAD.encode(json)
}

fn sign_error(_: openssl::error::ErrorStack) -> Error {
    Error::key("OpenSSL failed to sign with the key")
}

impl JwsSigner {
    /// A signer for an asymmetric key; `alg` must already fit the key.
    pub fn asymmetric(key: PrivateKey, alg: Algorithm, kid: Option<&str>) -> Result<JwsSigner> {
        let kind = match (key.key_type, alg) {
            (KeyType::Rsa { .. }, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512) => {
                SignKind::RsaPkcs1(alg.hash().expect("RSA algorithms hash"))
            }
            (KeyType::Rsa { .. }, Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512) => {
                SignKind::RsaPss(alg.hash().expect("RSA algorithms hash"))
            }
            (KeyType::Ec(curve), _) if key.key_type.fits(alg) => SignKind::Ecdsa {
                hash: alg.hash().expect("ECDSA algorithms hash"),
                scalar_len: curve.scalar_len(),
            },
            (KeyType::Ed25519, Algorithm::EdDSA) => SignKind::Ed25519,
            _ => {
                return Err(Error::key(format!(
                    "algorithm {alg} does not fit {}",
                    key.key_type.describe()
                )))
            }
        };
        Ok(JwsSigner {
            key: key.pkey,
            kind,
            alg,
            encoded_header: encoded_header(alg, kid),
        })
    }

    /// A signer for `client_secret_jwt`: HMAC over the client secret.
    /// RFC 7518 §3.2: the key must be at least as long as the hash output.
    pub fn hmac(secret: &[u8], alg: Algorithm) -> Result<JwsSigner> {
        let hash = match alg.hash() {
            Some(hash) if alg.is_hmac() => hash,
            _ => {
                return Err(Error::invalid_argument(format!(
                    "{alg} is not an HMAC algorithm: use HS256, HS384 or HS512 with a client secret"
                )))
            }
        };
        if secret.len() < hash.output_len() {
            return Err(Error::key(format!(
                "the client secret has {} bytes; {alg} needs at least {} (RFC 7518 §3.2)",
                secret.len(),
                hash.output_len()
            )));
        }
        let key = PKey::hmac(secret).map_err(sign_error)?;
        Ok(JwsSigner {
            key,
            kind: SignKind::Hmac(hash),
            alg,
            encoded_header: encoded_header(alg, None),
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Signs `payload` (already JSON) into a JWS compact serialization.
    pub fn sign_compact(&self, payload: &[u8]) -> Result<String> {
        let payload_len = base64::encoded_len(payload.len(), false).unwrap_or(0);
        let mut out = String::with_capacity(self.encoded_header.len() + payload_len + 200);
        out.push_str(&self.encoded_header);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut out);
        let signature = self.sign(out.as_bytes())?;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut out);
        Ok(out)
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>> {
        match self.kind {
            SignKind::RsaPkcs1(hash) => {
                let mut signer = Signer::new(digest(hash), &self.key).map_err(sign_error)?;
                signer.set_rsa_padding(Padding::PKCS1).map_err(sign_error)?;
                signer.sign_oneshot_to_vec(input).map_err(sign_error)
            }
            SignKind::RsaPss(hash) => {
                let md = digest(hash);
                let mut signer = Signer::new(md, &self.key).map_err(sign_error)?;
                signer
                    .set_rsa_padding(Padding::PKCS1_PSS)
                    .map_err(sign_error)?;
                signer
                    .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                    .map_err(sign_error)?;
                signer.set_rsa_mgf1_md(md).map_err(sign_error)?;
                signer.sign_oneshot_to_vec(input).map_err(sign_error)
            }
            SignKind::Ecdsa { hash, scalar_len } => {
                let mut signer = Signer::new(digest(hash), &self.key).map_err(sign_error)?;
                let der = signer.sign_oneshot_to_vec(input).map_err(sign_error)?;
                // JOSE wants r || s, each left-padded to the curve size.
                let sig = EcdsaSig::from_der(&der).map_err(sign_error)?;
                let len = i32::try_from(scalar_len).expect("small");
                let mut raw = sig.r().to_vec_padded(len).map_err(sign_error)?;
                raw.extend(sig.s().to_vec_padded(len).map_err(sign_error)?);
                Ok(raw)
            }
            SignKind::Ed25519 => {
                let mut signer = Signer::new_without_digest(&self.key).map_err(sign_error)?;
                signer.sign_oneshot_to_vec(input).map_err(sign_error)
            }
            SignKind::Hmac(hash) => {
                let mut signer = Signer::new(digest(hash), &self.key).map_err(sign_error)?;
                signer.sign_oneshot_to_vec(input).map_err(sign_error)
            }
        }
    }
}

/// The claims of a client assertion (RFC 7523 §3).
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Claims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: Audience<'a>,
    pub jti: String,
    pub iat: u64,
    pub exp: u64,
}

/// One audience is a string; several are an array (RFC 7519 §4.1.3).
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience<'a> {
    One(&'a str),
    Many(&'a [String]),
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl<'a> Claims<'a> {
    /// Fresh claims: a new random `jti`, `iat` backdated by `clock_skew`,
    /// `exp` = now + `lifetime`.
    pub fn new(client_id: &'a str, aud: Audience<'a>, lifetime: u32, clock_skew: u32) -> Self {
        let now = now();
        Claims {
            iss: client_id,
            sub: client_id,
            aud,
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now.saturating_sub(u64::from(clock_skew)),
            exp: now + u64::from(lifetime),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("claims always serialize")
    }
}
