//! Key formats -> a parsed signing key and its JOSE algorithm.
//!
//! Accepted, detected on their own: PKCS#8 PEM, SEC1 EC PEM, PKCS#1 RSA PEM
//! (also squeezed onto one line, with `\r\n`, or with literal `\n`
//! sequences as environment variables often carry them), bare base64 of a
//! DER key with no armour (what Talkdesk hands out), and a private JWK
//! (RSA, EC P-256/P-384/P-521, OKP Ed25519). Keys are parsed once; every
//! intermediate buffer holding key material is wiped when dropped.
//!
//! `mod.rs` dispatches on the text's shape and checks every parsed key;
//! `alg` names algorithms and what they fit, `pem`, `der` (with `asn1`, a
//! small DER reader) and `jwk` read the formats.
#![forbid(unsafe_code)]

mod alg;
mod asn1;
mod der;
mod jwk;
mod pem;
#[cfg(test)]
mod test_support;

use std::fmt;

use openssl::bn::BigNum;
use openssl::pkey::{Id, PKey, Private};

use crate::error::{Error, Result};
pub use alg::{Algorithm, Curve, Hash, KeyType, MIN_RSA_BITS};
pub(crate) use jwk::{parse_public_key, public_jwk, public_key_type};

/// `value` quoted for an error message when it is short and plainly a name
/// (e.g. "ES999"), otherwise a placeholder: a caller who passed a key or a
/// secret in the wrong argument must not find it echoed in a message.
pub(crate) fn shown(value: &str) -> String {
    let plain = value.len() <= 20
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'));
    if plain {
        format!("{value:?}")
    } else {
        "(value not shown)".to_string()
    }
}

/// A parsed private key, ready to sign, with what was learnt while parsing.
pub struct PrivateKey {
    pub pkey: PKey<Private>,
    pub key_type: KeyType,
    /// `alg` and `kid` found inside a JWK, if any.
    pub jwk_alg: Option<Algorithm>,
    pub jwk_kid: Option<String>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("PrivateKey")
            .field("key_type", &self.key_type)
            .field("jwk_alg", &self.jwk_alg)
            .field("jwk_kid", &self.jwk_kid)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Parses a key in any accepted format.
    pub fn parse(text: &str) -> Result<PrivateKey> {
        let text = text.trim_matches(|c: char| c.is_whitespace() || c == '"');
        if text.is_empty() {
            return Err(Error::key("the key is empty"));
        }
        if text.starts_with('{') {
            jwk::parse_jwk(text)
        } else if text.contains("-----BEGIN") {
            pem::parse_pem(text)
        } else {
            let der = pem::decode_base64(text).map_err(|_| {
                Error::key(
                    "the key is neither PEM, a JWK, nor base64 of a DER key \
                     (not valid base64)",
                )
            })?;
            der::parse_bare_der(&der)
        }
    }

    /// Picks the algorithm: the explicit one (checked against the key),
    /// otherwise the JWK's `alg`, otherwise the key type's default.
    pub fn choose_algorithm(&self, explicit: Option<Algorithm>) -> Result<Algorithm> {
        let alg = explicit
            .or(self.jwk_alg)
            .unwrap_or_else(|| self.key_type.default_algorithm());
        self.key_type.require(alg)?;
        Ok(alg)
    }
}

pub(super) fn encrypted_error() -> Error {
    Error::key("the key is an encrypted PKCS#8 key; decrypt it first")
}

pub(super) fn public_key_error() -> Error {
    Error::key("a public key was given; a private key is needed to sign")
}

pub(super) fn certificate_error() -> Error {
    Error::key("a certificate was given; a private key is needed to sign")
}

pub(super) fn openssl_key_error(_: openssl::error::ErrorStack) -> Error {
    Error::key("OpenSSL could not use the key")
}

/// Whether the RSA key's numbers fit together: n = p·q, and e·d, e·dP,
/// e·dQ and q·qInv are 1 modulo p−1, q−1, p−1 and p (for d, modulo both
/// p−1 and q−1). These are `RSA_check_key`'s checks without its primality
/// tests of p and q, which take about 35 ms for a 2048-bit key on every key
/// set; these take microseconds.
fn rsa_is_consistent(pkey: &PKey<Private>) -> bool {
    use openssl::bn::{BigNum, BigNumContext, BigNumRef};
    let check = || -> std::result::Result<bool, openssl::error::ErrorStack> {
        let rsa = pkey.rsa()?;
        let (Some(p), Some(q), Some(dp), Some(dq), Some(qinv)) =
            (rsa.p(), rsa.q(), rsa.dmp1(), rsa.dmq1(), rsa.iqmp())
        else {
            return Ok(false);
        };
        let mut ctx = BigNumContext::new()?;
        let one = BigNum::from_u32(1)?;
        let mut n = BigNum::new()?;
        n.checked_mul(p, q, &mut ctx)?;
        if n != *rsa.n() {
            return Ok(false);
        }
        let mut is_one_mod = |a: &BigNumRef, b: &BigNumRef, m: &BigNumRef| {
            let mut r = BigNum::new()?;
            r.mod_mul(a, b, m, &mut ctx)?;
            Ok::<bool, openssl::error::ErrorStack>(r == one)
        };
        let mut p1 = BigNum::new()?;
        p1.checked_sub(p, &one)?;
        let mut q1 = BigNum::new()?;
        q1.checked_sub(q, &one)?;
        Ok(is_one_mod(rsa.e(), dp, &p1)?
            && is_one_mod(rsa.e(), dq, &q1)?
            && is_one_mod(q, qinv, p)?
            && is_one_mod(rsa.e(), rsa.d(), &p1)?
            && is_one_mod(rsa.e(), rsa.d(), &q1)?)
    };
    check().unwrap_or(false)
}

/// Classifies a parsed key and checks it is one we can sign with.
pub(super) fn finish(pkey: PKey<Private>) -> Result<PrivateKey> {
    let key_type = match pkey.id() {
        Id::RSA => {
            let bits = pkey.bits();
            if bits < MIN_RSA_BITS {
                return Err(Error::key(format!(
                    "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
                )));
            }
            if !rsa_is_consistent(&pkey) {
                return Err(Error::key("the RSA key is inconsistent (check failed)"));
            }
            KeyType::Rsa { bits }
        }
        Id::EC => {
            let ec = pkey.ec_key().map_err(openssl_key_error)?;
            let curve = ec
                .group()
                .curve_name()
                .and_then(Curve::from_nid)
                .ok_or_else(|| Error::key("unsupported EC curve: expected P-256, P-384 or P-521"))?;
            ec.check_key()
                .map_err(|_| Error::key("the EC key is inconsistent (check failed)"))?;
            KeyType::Ec(curve)
        }
        Id::ED25519 => KeyType::Ed25519,
        Id::RSA_PSS => {
            return Err(Error::key(
                "RSASSA-PSS-only keys (id-RSASSA-PSS) are not supported; use a plain RSA key with PS256",
            ))
        }
        _ => return Err(Error::key("unsupported key type: expected RSA, EC or Ed25519")),
    };
    Ok(PrivateKey {
        pkey,
        key_type,
        jwk_alg: None,
        jwk_kid: None,
    })
}

/// A BigNum that OpenSSL wipes when it is freed (a plain one is not).
pub(super) fn secret_bn(bytes: &[u8]) -> std::result::Result<BigNum, openssl::error::ErrorStack> {
    let mut n = BigNum::new_secure()?;
    n.copy_from_slice(bytes)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::ErrorKind;

    use openssl::nid::Nid;
    use openssl::rsa::Rsa;

    /// A key whose private exponents do not match its modulus signs
    /// garbage: refused when it is set, not at the first token request.
    #[test]
    fn inconsistent_rsa_key_is_refused() {
        let good = Rsa::generate(2048).unwrap();
        let plus_two = |n: &openssl::bn::BigNumRef| {
            let mut out = openssl::bn::BigNum::new().unwrap();
            out.checked_add(n, &openssl::bn::BigNum::from_u32(2).unwrap())
                .unwrap();
            out
        };
        let bad = Rsa::from_private_components(
            good.n().to_owned().unwrap(),
            good.e().to_owned().unwrap(),
            plus_two(good.d()),
            good.p().unwrap().to_owned().unwrap(),
            good.q().unwrap().to_owned().unwrap(),
            plus_two(good.dmp1().unwrap()),
            plus_two(good.dmq1().unwrap()),
            good.iqmp().unwrap().to_owned().unwrap(),
        )
        .unwrap();
        let pem = PKey::from_rsa(bad)
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap();
        let err = PrivateKey::parse(std::str::from_utf8(&pem).unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Key);
        assert!(err.message().contains("inconsistent"), "{}", err.message());
        let pem = PKey::from_rsa(good)
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap();
        assert!(PrivateKey::parse(std::str::from_utf8(&pem).unwrap()).is_ok());
    }

    #[test]
    fn refused_keys_say_what_they_saw() {
        let rsa = rsa_key(2048);
        let public_pem = String::from_utf8(rsa.public_key_to_pem().unwrap()).unwrap();
        assert!(parse_err(&public_pem).message().contains("public key"));
        let public_der = b64(&rsa.public_key_to_der().unwrap());
        assert!(parse_err(&public_der).message().contains("public key"));

        let encrypted = rsa
            .private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_256_cbc(), b"pw")
            .unwrap();
        let encrypted = String::from_utf8(encrypted).unwrap();
        assert!(parse_err(&encrypted).message().contains("encrypted"));
        let body: String = encrypted
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert!(parse_err(&body).message().contains("encrypted"));
        let legacy = rsa
            .rsa()
            .unwrap()
            .private_key_to_pem_passphrase(openssl::symm::Cipher::aes_128_cbc(), b"pw")
            .unwrap();
        assert!(parse_err(std::str::from_utf8(&legacy).unwrap())
            .message()
            .contains("encrypted"));

        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "test").unwrap();
        let name = name.build();
        let mut cert = openssl::x509::X509Builder::new().unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&rsa).unwrap();
        cert.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        cert.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        cert.sign(&rsa, MessageDigestForTests::sha256()).unwrap();
        let cert = cert.build();
        assert!(
            parse_err(std::str::from_utf8(&cert.to_pem().unwrap()).unwrap())
                .message()
                .contains("certificate")
        );
        assert!(parse_err(&b64(&cert.to_der().unwrap()))
            .message()
            .contains("certificate"));

        let small = rsa_key(1024);
        let small = String::from_utf8(small.private_key_to_pem_pkcs8().unwrap()).unwrap();
        assert!(parse_err(&small).message().contains("2048"));
    }

    use openssl::hash::MessageDigest as MessageDigestForTests;

    #[test]
    fn garbage_is_a_key_error() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let pem_text = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let b64_text = b64(&key.private_key_to_pkcs8().unwrap());
        let truncated_b64 = &b64_text[..b64_text.len() / 2];
        let truncated_pem = &pem_text[..pem_text.len() / 2];
        let wrong_armour = pem_text.replace("PRIVATE KEY", "SECRET THING");
        let mismatched = pem_text.replace("END PRIVATE KEY", "END EC PRIVATE KEY");
        let label_lies = pem_text.replace("PRIVATE KEY", "RSA PRIVATE KEY");
        for bad in [
            "",
            "   \n ",
            "hello world",
            "!!!!",
            "QUJD",
            truncated_b64,
            truncated_pem,
            &wrong_armour,
            &mismatched,
            &label_lies,
            "-----BEGIN PRIVATE KEY-----\n%%%%\n-----END PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY",
            &pem("PRIVATE KEY", b"not a key at all"),
        ] {
            let e = parse_err(bad);
            assert!(!e.message().is_empty());
        }
        // The message never quotes the key text.
        let e = parse_err(truncated_b64);
        assert!(!e.message().contains(&truncated_b64[..20]));
    }

    #[test]
    fn algorithm_inference_and_mismatch() {
        let p256 = parse_ok(&b64(&ec_key(Nid::X9_62_PRIME256V1)
            .private_key_to_pkcs8()
            .unwrap()));
        assert_eq!(p256.choose_algorithm(None).unwrap(), Algorithm::ES256);
        for alg in [
            Algorithm::ES384,
            Algorithm::ES512,
            Algorithm::RS256,
            Algorithm::EdDSA,
            Algorithm::PS256,
        ] {
            let e = p256.choose_algorithm(Some(alg)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Key);
        }
        let rsa = parse_ok(&b64(&rsa_key(2048).private_key_to_pkcs8().unwrap()));
        assert_eq!(rsa.choose_algorithm(None).unwrap(), Algorithm::RS256);
        for alg in [
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ] {
            assert_eq!(rsa.choose_algorithm(Some(alg)).unwrap(), alg);
        }
        assert!(rsa.choose_algorithm(Some(Algorithm::ES256)).is_err());
        let ed = parse_ok(&b64(&ed_key().private_key_to_pkcs8().unwrap()));
        assert_eq!(ed.choose_algorithm(None).unwrap(), Algorithm::EdDSA);
        assert!(ed.choose_algorithm(Some(Algorithm::ES256)).is_err());
        let p384 = parse_ok(&b64(&ec_key(Nid::SECP384R1)
            .private_key_to_pkcs8()
            .unwrap()));
        assert_eq!(p384.choose_algorithm(None).unwrap(), Algorithm::ES384);
        let p521 = parse_ok(&b64(&ec_key(Nid::SECP521R1)
            .private_key_to_pkcs8()
            .unwrap()));
        assert_eq!(p521.choose_algorithm(None).unwrap(), Algorithm::ES512);
    }

    #[test]
    fn unsupported_curves_and_types() {
        let k256 = ec_key(Nid::SECP256K1);
        let e = parse_err(&b64(&k256.private_key_to_pkcs8().unwrap()));
        assert!(e.message().contains("curve"), "{e}");
        let x25519 = PKey::generate_x25519().unwrap();
        parse_err(&b64(&x25519.private_key_to_pkcs8().unwrap()));
    }

    #[test]
    fn messages_never_quote_key_text() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let text = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let body_line = text.lines().nth(1).unwrap();
        for broken in [
            text.replace("-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY"),
            text.replace("-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY----"),
            text.replace("PRIVATE KEY", &body_line[..30]),
        ] {
            let e = parse_err(&broken);
            assert!(!e.message().contains(&body_line[..20]), "{}", e.message());
            assert!(!e.message().contains('\n'));
        }
        let b64 = b64(&key.private_key_to_pkcs8().unwrap());
        let e = b64.parse::<Algorithm>().unwrap_err();
        assert!(!e.message().contains(&b64[..20]) && e.message().contains("not shown"));
        assert!("ES999"
            .parse::<Algorithm>()
            .unwrap_err()
            .message()
            .contains("\"ES999\""));
        let jwk = ec_jwk(&key, "P-256", r#","kid":"""#);
        assert!(parse_err(&jwk).message().contains("kid"));
        let jwk = ec_jwk(&key, "P-256", r#","kid":"a\nb""#);
        parse_err(&jwk);
    }
}
