//! JWS compact signing (RFC 7515) with every algorithm of RFC 7518 and
//! RFC 8037 that tokenclient signs with.
#![forbid(unsafe_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::ec::EcKey;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Padding;
use openssl::sha::{Sha256, Sha384, Sha512};
use openssl::sign::{RsaPssSaltlen, Signer};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::{Algorithm, Hash, KeyType, PrivateKey};
use crate::signer::{jose_signature, Signer as ExternalSigner};
use std::sync::Arc;

/// A key ready to sign JWS with one algorithm, with the encoded JOSE header
/// computed once.
pub struct JwsSigner {
    kind: SignKind,
    alg: Algorithm,
    encoded_header: String,
}

/// The key in the form its algorithm signs fastest with: everything that
/// can be derived from the key is derived once, here, not per signature.
enum SignKind {
    RsaPkcs1(Hash, PKey<Private>),
    RsaPss(Hash, PKey<Private>),
    /// ECDSA over the digest with the EC key itself: no per-call EVP
    /// context set-up, and `r`, `s` straight from OpenSSL (no DER round trip).
    Ecdsa {
        hash: Hash,
        scalar_len: usize,
        key: EcKey<Private>,
    },
    Ed25519(PKey<Private>),
    Hmac(HmacKey),
    /// A key held elsewhere (a callback, a PKCS#11 token).
    External(Arc<dyn ExternalSigner>),
}

/// HMAC (RFC 2104) over OpenSSL's SHA-2: the key padded to the hash's block
/// size and XORed with ipad and opad, computed once. Per signature this
/// costs two hash computations and no context set-up, where an EVP HMAC
/// signer would be rebuilt for every call.
struct HmacKey {
    hash: Hash,
    inner_pad: Zeroizing<Vec<u8>>,
    outer_pad: Zeroizing<Vec<u8>>,
}

/// The SHA-2 digest of `parts`, concatenated; wiped when dropped (the
/// digest of a long HMAC secret is the key itself).
fn sha2(hash: Hash, parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(match hash {
        Hash::Sha256 => {
            let mut h = Sha256::new();
            parts.iter().for_each(|p| h.update(p));
            h.finish().to_vec()
        }
        Hash::Sha384 => {
            let mut h = Sha384::new();
            parts.iter().for_each(|p| h.update(p));
            h.finish().to_vec()
        }
        Hash::Sha512 => {
            let mut h = Sha512::new();
            parts.iter().for_each(|p| h.update(p));
            h.finish().to_vec()
        }
    })
}

impl HmacKey {
    fn new(hash: Hash, secret: &[u8]) -> HmacKey {
        let block = match hash {
            Hash::Sha256 => 64,
            Hash::Sha384 | Hash::Sha512 => 128,
        };
        // A key longer than a block is replaced by its hash (RFC 2104 §2),
        // then padded with zeros to a block, in a buffer that never grows
        // (growing would free a copy of the key without wiping it).
        let mut key = Zeroizing::new(Vec::with_capacity(block));
        if secret.len() > block {
            key.extend_from_slice(&sha2(hash, &[secret]));
        } else {
            key.extend_from_slice(secret);
        }
        key.resize(block, 0);
        HmacKey {
            hash,
            inner_pad: Zeroizing::new(key.iter().map(|b| b ^ 0x36).collect()),
            outer_pad: Zeroizing::new(key.iter().map(|b| b ^ 0x5c).collect()),
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        let inner = sha2(self.hash, &[&self.inner_pad, input]);
        std::mem::take(&mut *sha2(self.hash, &[&self.outer_pad, &inner]))
    }
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
                SignKind::RsaPkcs1(alg.hash().expect("RSA algorithms hash"), key.pkey)
            }
            (KeyType::Rsa { .. }, Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512) => {
                SignKind::RsaPss(alg.hash().expect("RSA algorithms hash"), key.pkey)
            }
            (KeyType::Ec(curve), _) if key.key_type.fits(alg) => SignKind::Ecdsa {
                hash: alg.hash().expect("ECDSA algorithms hash"),
                scalar_len: curve.scalar_len(),
                key: key.pkey.ec_key().map_err(sign_error)?,
            },
            (KeyType::Ed25519, Algorithm::EdDSA) => SignKind::Ed25519(key.pkey),
            _ => {
                return Err(Error::key(format!(
                    "algorithm {alg} does not fit {}",
                    key.key_type.describe()
                )))
            }
        };
        Ok(JwsSigner {
            kind,
            alg,
            encoded_header: encoded_header(alg, kid),
        })
    }

    /// A signer whose key is held elsewhere: `signer` signs each signing
    /// input; its signature is checked for `alg` (and DER ECDSA converted).
    pub fn external(
        signer: Arc<dyn ExternalSigner>,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<JwsSigner> {
        if alg.is_hmac() {
            return Err(Error::invalid_argument(format!(
                "{alg} signs with a client secret, not with an external signer"
            )));
        }
        Ok(JwsSigner {
            kind: SignKind::External(signer),
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
        Ok(JwsSigner {
            kind: SignKind::Hmac(HmacKey::new(hash, secret)),
            alg,
            encoded_header: encoded_header(alg, None),
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key's private material, for deriving the token store's keys
    /// (`store::seal`); None for a key held elsewhere.
    pub(crate) fn secret_material(&self) -> Option<Zeroizing<Vec<u8>>> {
        match &self.kind {
            SignKind::RsaPkcs1(_, key) | SignKind::RsaPss(_, key) => {
                key.private_key_to_der().ok().map(Zeroizing::new)
            }
            SignKind::Ecdsa { key, .. } => Some(Zeroizing::new(key.private_key().to_vec())),
            SignKind::Ed25519(key) => key.raw_private_key().ok().map(Zeroizing::new),
            SignKind::Hmac(hmac) => Some(Zeroizing::new(hmac.inner_pad.to_vec())),
            SignKind::External(_) => None,
        }
    }

    /// The signer with `header` (JSON, e.g. a DPoP proof's, with its
    /// `typ` and `jwk`) as its JOSE header instead of the default one.
    pub(crate) fn with_header(mut self, header: &str) -> JwsSigner {
        self.encoded_header = URL_SAFE_NO_PAD.encode(header);
        self
    }

    /// Signs `payload` (already JSON) into a JWS compact serialization.
    pub fn sign_compact(&self, payload: &[u8]) -> Result<String> {
        let payload_len = base64::encoded_len(payload.len(), false).unwrap_or(0);
        let mut out = String::with_capacity(self.encoded_header.len() + 1 + payload_len);
        out.push_str(&self.encoded_header);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut out);
        let signature = Zeroizing::new(self.sign(out.as_bytes())?);
        // Grown before the signature goes in, so no freed copy of the whole
        // assertion is left behind; room too for the NUL of a C string.
        let signature_len = base64::encoded_len(signature.len(), false).unwrap_or(0);
        out.reserve_exact(1 + signature_len + 1);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut out);
        Ok(out)
    }

    /// The raw signature (or HMAC tag) of `input`, for verifying an HMAC.
    pub(super) fn raw_signature(&self, input: &[u8]) -> Result<Vec<u8>> {
        self.sign(input)
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>> {
        match &self.kind {
            SignKind::RsaPkcs1(hash, key) => {
                let mut signer = Signer::new(digest(*hash), key).map_err(sign_error)?;
                signer.set_rsa_padding(Padding::PKCS1).map_err(sign_error)?;
                signer.sign_oneshot_to_vec(input).map_err(sign_error)
            }
            SignKind::RsaPss(hash, key) => {
                let md = digest(*hash);
                let mut signer = Signer::new(md, key).map_err(sign_error)?;
                signer
                    .set_rsa_padding(Padding::PKCS1_PSS)
                    .map_err(sign_error)?;
                signer
                    .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                    .map_err(sign_error)?;
                signer.set_rsa_mgf1_md(md).map_err(sign_error)?;
                signer.sign_oneshot_to_vec(input).map_err(sign_error)
            }
            SignKind::Ecdsa {
                hash,
                scalar_len,
                key,
            } => {
                let sig = EcdsaSig::sign(&sha2(*hash, &[input]), key).map_err(sign_error)?;
                // JOSE wants r || s, each left-padded to the curve size.
                let len = i32::try_from(*scalar_len).expect("small");
                let mut raw = sig.r().to_vec_padded(len).map_err(sign_error)?;
                raw.extend(sig.s().to_vec_padded(len).map_err(sign_error)?);
                Ok(raw)
            }
            SignKind::Ed25519(key) => {
                let mut signer = Signer::new_without_digest(key).map_err(sign_error)?;
                signer.sign_oneshot_to_vec(input).map_err(sign_error)
            }
            SignKind::Hmac(key) => Ok(key.sign(input)),
            SignKind::External(signer) => jose_signature(self.alg, signer.sign(input)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our HMAC equals OpenSSL's, for every hash, keys shorter than, equal
    /// to and longer than the block, and messages of several lengths.
    #[test]
    fn hmac_matches_openssl() {
        for hash in [Hash::Sha256, Hash::Sha384, Hash::Sha512] {
            for key_len in [32, 48, 63, 64, 65, 127, 128, 129, 300] {
                let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + key_len) as u8).collect();
                for msg_len in [0, 1, 55, 64, 300, 1000] {
                    let msg: Vec<u8> = (0..msg_len).map(|i| (i * 13) as u8).collect();
                    let pkey = PKey::hmac(&key).unwrap();
                    let mut signer = Signer::new(digest(hash), &pkey).unwrap();
                    let expected = signer.sign_oneshot_to_vec(&msg).unwrap();
                    assert_eq!(HmacKey::new(hash, &key).sign(&msg), expected);
                }
            }
        }
    }
}
