//! JWS compact verification (RFC 7515) with the public keys of a JWK Set
//! (RFC 7517): RS*, PS*, ES* and EdDSA, and HS* with a shared secret.
#![forbid(unsafe_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::memcmp;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Verifier};
use serde_json::Value;

use super::JwsSigner;
use crate::error::{Error, ErrorKind, Result};
use crate::keys::{Algorithm, Hash};

/// The smallest RSA key a signature is accepted from.
const MIN_RSA_BITS: u32 = 2048;

fn refused(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Response, message)
}

/// A compact JWS taken apart (not yet verified).
pub(crate) struct Compact<'a> {
    pub(crate) header: Value,
    pub(crate) payload: Vec<u8>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl<'a> Compact<'a> {
    /// Splits `jws` (`what` names it in errors) into its parts, decoded.
    pub(crate) fn parse(what: &str, jws: &'a str) -> Result<Compact<'a>> {
        let parts: Vec<&str> = jws.split('.').collect();
        if parts.len() == 5 {
            return Err(refused(format!("{what} is encrypted (JWE): not supported")));
        }
        let [header, payload, signature] = parts[..] else {
            return Err(refused(format!(
                "{what} is not a compact JWS (three parts)"
            )));
        };
        let decode = |part: &str, name: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| refused(format!("{what}: its {name} is not base64url")))
        };
        let header_bytes = decode(header, "header")?;
        let header: Value = serde_json::from_slice(&header_bytes)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| refused(format!("{what}: its header is not a JSON object")))?;
        Ok(Compact {
            header,
            payload: decode(payload, "payload")?,
            signing_input: &jws[..header_end(jws)],
            signature: decode(signature, "signature")?,
        })
    }

    /// The header's `alg`, as a known algorithm. A header with `crit` is
    /// refused: no extension is understood (RFC 7515 §4.1.11).
    pub(crate) fn algorithm(&self, what: &str) -> Result<Algorithm> {
        if self.header.get("crit").is_some() {
            return Err(refused(format!(
                "{what} names critical header extensions (crit), which are not supported"
            )));
        }
        match self.header.get("alg").and_then(Value::as_str) {
            None => Err(refused(format!("{what} has no alg in its header"))),
            Some("none") => Err(refused(format!("{what} is unsigned (alg none): refused"))),
            Some(name) => name.parse().map_err(|_| {
                refused(format!(
                    "{what} is signed with {name:?}, which is not supported"
                ))
            }),
        }
    }

    pub(crate) fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// Whether the signature verifies with `key` under `alg`.
    pub(crate) fn verifies_with(&self, alg: Algorithm, key: &PublicJwk) -> Result<bool> {
        let input = self.signing_input.as_bytes();
        match (&key.rsa, &key.ec, alg) {
            (Some(rsa), _, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512) => {
                Ok(pkcs1_v15_matches(rsa, alg, input, &self.signature))
            }
            (_, Some(ec), Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512) => {
                Ok(ecdsa_matches(ec, alg, input, &self.signature))
            }
            _ => verify(alg, &key.key, input, &self.signature),
        }
    }

    /// Whether the signature is the HMAC of `secret` under `alg`.
    pub(crate) fn verifies_with_secret(&self, alg: Algorithm, secret: &[u8]) -> Result<bool> {
        let signer = JwsSigner::hmac(secret, alg)?;
        let tag = signer.raw_signature(self.signing_input.as_bytes())?;
        Ok(tag.len() == self.signature.len() && memcmp::eq(&tag, &self.signature))
    }
}

/// The length of the signing input (header.payload) of a three-part `jws`.
fn header_end(jws: &str) -> usize {
    jws.rfind('.').unwrap_or(0)
}

fn digest(hash: Hash) -> MessageDigest {
    match hash {
        Hash::Sha256 => MessageDigest::sha256(),
        Hash::Sha384 => MessageDigest::sha384(),
        Hash::Sha512 => MessageDigest::sha512(),
    }
}

fn sha2(hash: Hash, input: &[u8]) -> Vec<u8> {
    match hash {
        Hash::Sha256 => openssl::sha::sha256(input).to_vec(),
        Hash::Sha384 => openssl::sha::sha384(input).to_vec(),
        Hash::Sha512 => openssl::sha::sha512(input).to_vec(),
    }
}

fn message_digest(hash: Hash) -> &'static openssl::md::MdRef {
    match hash {
        Hash::Sha256 => openssl::md::Md::sha256(),
        Hash::Sha384 => openssl::md::Md::sha384(),
        Hash::Sha512 => openssl::md::Md::sha512(),
    }
}

fn openssl_error(_: openssl::error::ErrorStack) -> Error {
    refused("the signature could not be checked (OpenSSL refused the key or the input)")
}

/// The DER `DigestInfo` prefix of PKCS#1 v1.5 signatures (RFC 8017 §9.2).
fn digest_info_prefix(hash: Hash) -> &'static [u8] {
    match hash {
        Hash::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        Hash::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        Hash::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

/// RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) as RSA_verify does it:
/// the signature opened with the public key (OpenSSL checks the padding),
/// and what it holds compared whole with the expected `DigestInfo`. On the
/// RSA key itself, so no provider context is fetched per signature.
fn pkcs1_v15_matches(rsa: &Rsa<Public>, alg: Algorithm, input: &[u8], signature: &[u8]) -> bool {
    let Some(hash) = alg.hash() else {
        return false;
    };
    let size = rsa.size() as usize;
    if signature.len() != size {
        return false;
    }
    let mut opened = vec![0u8; size];
    let Ok(n) = rsa.public_decrypt(signature, &mut opened, Padding::PKCS1) else {
        return false;
    };
    let prefix = digest_info_prefix(hash);
    let digest = sha2(hash, input);
    n == prefix.len() + digest.len()
        && opened[..prefix.len()] == *prefix
        && opened[prefix.len()..n] == digest[..]
}

/// ECDSA verification of a JOSE `r || s` signature on the EC key itself.
fn ecdsa_matches(ec: &EcKey<Public>, alg: Algorithm, input: &[u8], signature: &[u8]) -> bool {
    let (nid, len) = match alg {
        Algorithm::ES256 => (Nid::X9_62_PRIME256V1, 32),
        Algorithm::ES384 => (Nid::SECP384R1, 48),
        _ => (Nid::SECP521R1, 66),
    };
    if ec.group().curve_name() != Some(nid) || signature.len() != 2 * len {
        return false;
    }
    let (Ok(r), Ok(s)) = (
        BigNum::from_slice(&signature[..len]),
        BigNum::from_slice(&signature[len..]),
    ) else {
        return false;
    };
    let Ok(sig) = EcdsaSig::from_private_components(r, s) else {
        return false;
    };
    let digest = sha2(alg.hash().expect("ECDSA hashes"), input);
    sig.verify(&digest, ec).unwrap_or(false)
}

/// Whether `signature` over `input` verifies with `key` under `alg` (an
/// asymmetric algorithm; the key's type is checked against it).
pub(crate) fn verify(
    alg: Algorithm,
    key: &PKey<Public>,
    input: &[u8],
    signature: &[u8],
) -> Result<bool> {
    use Algorithm::*;
    let hash = alg.hash();
    match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => {
            if key.id() != Id::RSA {
                return Ok(false);
            }
            let hash = hash.expect("RSA algorithms hash");
            if matches!(alg, PS256 | PS384 | PS512) {
                let md = digest(hash);
                let mut v = Verifier::new(md, key).map_err(openssl_error)?;
                v.set_rsa_padding(Padding::PKCS1_PSS)
                    .map_err(openssl_error)?;
                v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                    .map_err(openssl_error)?;
                v.set_rsa_mgf1_md(md).map_err(openssl_error)?;
                return Ok(v.verify_oneshot(signature, input).unwrap_or(false));
            }
            // PKCS#1 v1.5 over a digest taken here: a bare key context costs
            // less to set up than a digest-verify one.
            let digest = sha2(hash, input);
            let mut ctx = PkeyCtx::new(key).map_err(openssl_error)?;
            ctx.verify_init().map_err(openssl_error)?;
            ctx.set_rsa_padding(Padding::PKCS1).map_err(openssl_error)?;
            ctx.set_signature_md(message_digest(hash))
                .map_err(openssl_error)?;
            Ok(ctx.verify(&digest, signature).unwrap_or(false))
        }
        ES256 | ES384 | ES512 => {
            let (nid, len) = match alg {
                ES256 => (Nid::X9_62_PRIME256V1, 32),
                ES384 => (Nid::SECP384R1, 48),
                _ => (Nid::SECP521R1, 66),
            };
            let Ok(ec) = key.ec_key() else {
                return Ok(false);
            };
            if ec.group().curve_name() != Some(nid) || signature.len() != 2 * len {
                return Ok(false);
            }
            let r = BigNum::from_slice(&signature[..len]).map_err(openssl_error)?;
            let s = BigNum::from_slice(&signature[len..]).map_err(openssl_error)?;
            let sig = EcdsaSig::from_private_components(r, s).map_err(openssl_error)?;
            let digest = sha2(hash.expect("ECDSA hashes"), input);
            Ok(sig.verify(&digest, &ec).unwrap_or(false))
        }
        EdDSA => {
            if key.id() != Id::ED25519 {
                return Ok(false);
            }
            let mut v = Verifier::new_without_digest(key).map_err(openssl_error)?;
            Ok(v.verify_oneshot(signature, input).unwrap_or(false))
        }
        HS256 | HS384 | HS512 => Ok(false),
    }
}

/// One public key of a JWK Set.
pub(crate) struct PublicJwk {
    pub(crate) kid: Option<String>,
    /// The `alg` the set restricts the key to, if any.
    pub(crate) alg: Option<String>,
    pub(crate) key: PKey<Public>,
    /// The RSA or EC key itself, taken out of `key` once: the fast
    /// verifications work on it.
    rsa: Option<Rsa<Public>>,
    ec: Option<EcKey<Public>>,
}

impl PublicJwk {
    /// Whether the key may verify `alg` (its type, curve and `alg` fit).
    pub(crate) fn fits(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        if self.alg.as_deref().is_some_and(|a| a != alg.name()) {
            return false;
        }
        match alg {
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => self.key.id() == Id::RSA,
            ES256 | ES384 | ES512 => {
                let want = match alg {
                    ES256 => Nid::X9_62_PRIME256V1,
                    ES384 => Nid::SECP384R1,
                    _ => Nid::SECP521R1,
                };
                self.ec
                    .as_ref()
                    .is_some_and(|ec| ec.group().curve_name() == Some(want))
            }
            EdDSA => self.key.id() == Id::ED25519,
            HS256 | HS384 | HS512 => false,
        }
    }
}

/// A JWK Set's signature keys (RFC 7517 §5). Keys it cannot use (another
/// `kty` or curve, `use: enc`, private members) are left out, not refused:
/// a set may hold keys for other purposes.
pub(crate) struct Jwks {
    pub(crate) keys: Vec<PublicJwk>,
}

fn member<'a>(jwk: &'a Value, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

fn b64(jwk: &Value, name: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(member(jwk, name)?).ok()
}

fn public_key(jwk: &Value) -> Option<PKey<Public>> {
    match member(jwk, "kty")? {
        "RSA" => {
            let n = BigNum::from_slice(&b64(jwk, "n")?).ok()?;
            let e = BigNum::from_slice(&b64(jwk, "e")?).ok()?;
            let rsa = Rsa::from_public_components(n, e).ok()?;
            (rsa.size() * 8 >= MIN_RSA_BITS).then_some(())?;
            PKey::from_rsa(rsa).ok()
        }
        "EC" => {
            let nid = match member(jwk, "crv")? {
                "P-256" => Nid::X9_62_PRIME256V1,
                "P-384" => Nid::SECP384R1,
                "P-521" => Nid::SECP521R1,
                _ => return None,
            };
            let group = EcGroup::from_curve_name(nid).ok()?;
            let x = BigNum::from_slice(&b64(jwk, "x")?).ok()?;
            let y = BigNum::from_slice(&b64(jwk, "y")?).ok()?;
            // Checks that the point is on the curve.
            let ec = EcKey::from_public_key_affine_coordinates(&group, &x, &y).ok()?;
            ec.check_key().ok()?;
            PKey::from_ec_key(ec).ok()
        }
        "OKP" if member(jwk, "crv")? == "Ed25519" => {
            PKey::public_key_from_raw_bytes(&b64(jwk, "x")?, Id::ED25519).ok()
        }
        _ => None,
    }
}

impl Jwks {
    /// Reads a JWK Set document.
    pub(crate) fn parse(body: &[u8]) -> Result<Jwks> {
        let doc: Value =
            serde_json::from_slice(body).map_err(|_| refused("the issuer's JWKS is not JSON"))?;
        let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
            return Err(refused("the issuer's JWKS has no \"keys\" array"));
        };
        let keys = keys
            .iter()
            .filter(|jwk| member(jwk, "use").is_none_or(|u| u == "sig"))
            // A private member in a published set is a mistake; never use it.
            .filter(|jwk| jwk.get("d").is_none())
            .filter_map(|jwk| {
                let key = public_key(jwk)?;
                Some(PublicJwk {
                    kid: member(jwk, "kid").map(str::to_string),
                    alg: member(jwk, "alg").map(str::to_string),
                    rsa: key.rsa().ok(),
                    ec: key.ec_key().ok(),
                    key,
                })
            })
            .collect();
        Ok(Jwks { keys })
    }

    /// The keys that may verify a signature with `kid` (when given) under `alg`.
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a PublicJwk> + 'a {
        self.keys
            .iter()
            .filter(move |k| kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)))
            .filter(move |k| k.fits(alg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::bn::BigNumContext;
    use openssl::pkey::Private;
    use openssl::sign::Signer;

    fn jws(alg: &str, kid: &str, payload: &str, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#));
        let body = URL_SAFE_NO_PAD.encode(payload);
        let input = format!("{header}.{body}");
        let sig = URL_SAFE_NO_PAD.encode(sign(input.as_bytes()));
        format!("{input}.{sig}")
    }

    fn rsa() -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
    }

    fn jwk_of_rsa(key: &PKey<Private>, kid: &str) -> String {
        let rsa = key.rsa().unwrap();
        format!(
            r#"{{"kty":"RSA","kid":"{kid}","n":"{}","e":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
            URL_SAFE_NO_PAD.encode(rsa.e().to_vec())
        )
    }

    /// RS256 signed by OpenSSL directly verifies; a changed payload and a
    /// key of the wrong type do not; alg none is refused.
    #[test]
    fn rs256_from_openssl() {
        let key = rsa();
        let token = jws("RS256", "k1", r#"{"sub":"a"}"#, |input| {
            let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
            s.sign_oneshot_to_vec(input).unwrap()
        });
        let set =
            Jwks::parse(format!(r#"{{"keys":[{}]}}"#, jwk_of_rsa(&key, "k1")).as_bytes()).unwrap();
        let c = Compact::parse("the token", &token).unwrap();
        let alg = c.algorithm("t").unwrap();
        let k = set.candidates(c.kid(), alg).next().unwrap();
        assert!(c.verifies_with(alg, k).unwrap());
        assert!(!c.verifies_with(Algorithm::ES256, k).unwrap());
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode(r#"{"sub":"b"}"#);
        parts[1] = &other;
        let tampered = parts.join(".");
        let t = Compact::parse("the token", &tampered).unwrap();
        assert!(!t.verifies_with(alg, k).unwrap());

        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            parts[1]
        );
        let e = Compact::parse("the token", &none)
            .unwrap()
            .algorithm("the token")
            .unwrap_err();
        assert!(e.message().contains("alg none"), "{e}");
    }

    #[test]
    fn es256_r_s_from_openssl() {
        let ec =
            EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap();
        let token = jws("ES256", "e1", "{}", |input| {
            let d = openssl::sha::sha256(input);
            let sig = EcdsaSig::sign(&d, &ec).unwrap();
            let mut raw = sig.r().to_vec_padded(32).unwrap();
            raw.extend(sig.s().to_vec_padded(32).unwrap());
            raw
        });
        let mut ctx = BigNumContext::new().unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        ec.public_key()
            .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
            .unwrap();
        let set = format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"e1","x":"{}","y":"{}"}},{{"kty":"EC","crv":"P-256","use":"enc","kid":"e1","x":"{}","y":"{}"}}]}}"#,
            URL_SAFE_NO_PAD.encode(x.to_vec_padded(32).unwrap()),
            URL_SAFE_NO_PAD.encode(y.to_vec_padded(32).unwrap()),
            URL_SAFE_NO_PAD.encode(x.to_vec_padded(32).unwrap()),
            URL_SAFE_NO_PAD.encode(y.to_vec_padded(32).unwrap()),
        );
        let set = Jwks::parse(set.as_bytes()).unwrap();
        assert_eq!(set.keys.len(), 1, "the encryption key is left out");
        let c = Compact::parse("t", &token).unwrap();
        let k = set.candidates(Some("e1"), Algorithm::ES256).next().unwrap();
        assert!(c.verifies_with(Algorithm::ES256, k).unwrap());
        assert_eq!(set.candidates(Some("e1"), Algorithm::ES384).count(), 0);
        assert_eq!(set.candidates(Some("other"), Algorithm::ES256).count(), 0);
    }

    #[test]
    fn bad_sets_and_tokens() {
        assert!(Jwks::parse(b"[]").is_err());
        assert!(Jwks::parse(b"{}").is_err());
        // A short RSA key and an unknown kty are left out.
        let small = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        let set = format!(
            r#"{{"keys":[{},{{"kty":"oct","k":"AAAA"}}]}}"#,
            jwk_of_rsa(&small, "s")
        );
        assert_eq!(Jwks::parse(set.as_bytes()).unwrap().keys.len(), 0);
        for bad in ["a.b", "a.b.c.d.e", "!!.e30.AA", "e30.!!.AA", "WzFd.e30.AA"] {
            assert_eq!(
                Compact::parse("t", bad).err().unwrap().kind(),
                ErrorKind::Response,
                "{bad}"
            );
        }
    }
}
