//! DER keys: PKCS#8 (taken apart by `asn1` when of a supported type,
//! otherwise by OpenSSL's generic decoder), SEC1 EC and PKCS#1 RSA, in a
//! PEM block or as bare base64 with no armour (what Talkdesk hands out).
#![forbid(unsafe_code)]

use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Rsa;

use super::{
    asn1, certificate_error, encrypted_error, finish, openssl_key_error, public_key_error,
    secret_bn, PrivateKey,
};
use crate::error::{Error, Result};

pub(super) fn parse_bare_der(der: &[u8]) -> Result<PrivateKey> {
    // A key that parses in one of the formats is final, usable or not.
    if let Some(pkey) = pkcs8_key(der) {
        return finish(pkey);
    }
    if let Ok(rsa) = Rsa::private_key_from_der(der) {
        return finish(PKey::from_rsa(rsa).map_err(openssl_key_error)?);
    }
    if let Ok(ec) = EcKey::private_key_from_der(der) {
        return finish(PKey::from_ec_key(ec).map_err(openssl_key_error)?);
    }
    // Not a private key: say what it is when we can tell.
    if PKey::public_key_from_der(der).is_ok() || Rsa::public_key_from_der_pkcs1(der).is_ok() {
        return Err(public_key_error());
    }
    if openssl::x509::X509::from_der(der).is_ok() {
        return Err(certificate_error());
    }
    if PKey::private_key_from_pkcs8_passphrase(der, b"").is_ok() || looks_encrypted_pkcs8(der) {
        return Err(encrypted_error());
    }
    Err(Error::key(
        "the base64 text does not decode to a private key (PKCS#8, PKCS#1 or SEC1 DER)",
    ))
}

/// EncryptedPrivateKeyInfo starts with SEQUENCE { SEQUENCE { OID 1.2.840.113549.1.5.13 (PBES2) ...
/// or another PKCS#5/#12 PBE OID (1.2.840.113549.1.5.* / 1.2.840.113549.1.12.1.*).
fn looks_encrypted_pkcs8(der: &[u8]) -> bool {
    const PKCS5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05];
    const PKCS12_PBE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01];
    let head = &der[..der.len().min(32)];
    head.windows(PKCS5.len()).any(|w| w == PKCS5)
        || head.windows(PKCS12_PBE.len()).any(|w| w == PKCS12_PBE)
}

pub(super) fn from_pkcs8(der: &[u8]) -> Result<PrivateKey> {
    match pkcs8_key(der) {
        Some(pkey) => finish(pkey),
        None if looks_encrypted_pkcs8(der) => Err(encrypted_error()),
        None => Err(Error::key(
            "the PRIVATE KEY block is not a valid PKCS#8 key",
        )),
    }
}

/// An unencrypted PKCS#8 key: directly when it is of a supported type,
/// otherwise through OpenSSL's generic decoder.
fn pkcs8_key(der: &[u8]) -> Option<PKey<Private>> {
    pkcs8_direct(der).or_else(|| PKey::private_key_from_pkcs8(der).ok())
}

/// A PKCS#8 key of a supported type built with OpenSSL's type-specific
/// parsers and constructors instead of its generic decoder (0.5 ms a key);
/// None leaves the key to that decoder, which also words its errors.
fn pkcs8_direct(der: &[u8]) -> Option<PKey<Private>> {
    match asn1::pkcs8(der)? {
        asn1::Pkcs8::Rsa(pkcs1) => PKey::from_rsa(Rsa::private_key_from_der(pkcs1).ok()?).ok(),
        asn1::Pkcs8::Ec { curve, sec1 } => {
            let parts = asn1::sec1(sec1)?;
            if parts.curve.is_some_and(|stated| stated != curve) {
                return None;
            }
            let group = EcGroup::from_curve_name(curve).ok()?;
            let private = secret_bn(parts.private).ok()?;
            let mut ctx = BigNumContext::new().ok()?;
            let public = match parts.public {
                Some(point) => EcPoint::from_bytes(&group, point, &mut ctx).ok()?,
                None => {
                    let mut point = EcPoint::new(&group).ok()?;
                    point.mul_generator2(&group, &private, &mut ctx).ok()?;
                    point
                }
            };
            // finish() checks that the public point is the private scalar's.
            let key = EcKey::from_private_components(&group, &private, &public).ok()?;
            PKey::from_ec_key(key).ok()
        }
        asn1::Pkcs8::Ed25519(seed) => PKey::private_key_from_raw_bytes(seed, Id::ED25519).ok(),
    }
}

pub(super) fn from_sec1(der: &[u8]) -> Result<PrivateKey> {
    let ec = EcKey::private_key_from_der(der)
        .map_err(|_| Error::key("the EC PRIVATE KEY block is not a valid SEC1 key"))?;
    finish(PKey::from_ec_key(ec).map_err(openssl_key_error)?)
}

pub(super) fn from_pkcs1(der: &[u8]) -> Result<PrivateKey> {
    let rsa = Rsa::private_key_from_der(der)
        .map_err(|_| Error::key("the RSA PRIVATE KEY block is not a valid PKCS#1 key"))?;
    finish(PKey::from_rsa(rsa).map_err(openssl_key_error)?)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Algorithm, Curve, KeyType};
    use super::*;
    use crate::ErrorKind;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;
    use openssl::bn::BigNumContext;
    use openssl::ec::PointConversionForm;
    use openssl::nid::Nid;

    #[test]
    fn pkcs8_pem_of_every_type() {
        for (key, ty) in [
            (ec_key(Nid::X9_62_PRIME256V1), KeyType::Ec(Curve::P256)),
            (ec_key(Nid::SECP384R1), KeyType::Ec(Curve::P384)),
            (ec_key(Nid::SECP521R1), KeyType::Ec(Curve::P521)),
            (rsa_key(2048), KeyType::Rsa { bits: 2048 }),
            (ed_key(), KeyType::Ed25519),
        ] {
            let text = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
            let parsed = parse_ok(&text);
            assert_eq!(parsed.key_type, ty);
            same_key(&parsed, &key);
        }
    }

    #[test]
    fn pkcs8_of_every_supported_type_skips_openssls_decoder() {
        for key in [
            ec_key(Nid::X9_62_PRIME256V1),
            ec_key(Nid::SECP384R1),
            ec_key(Nid::SECP521R1),
            rsa_key(2048),
            ed_key(),
        ] {
            let direct = pkcs8_direct(&key.private_key_to_pkcs8().unwrap())
                .expect("built without the generic decoder");
            assert!(direct.public_eq(&key));
        }
    }

    /// PKCS#8 of a P-256 key whose SEC1 part holds `public` (DER of the
    /// BIT STRING content) or no public key at all.
    fn p256_pkcs8(private: &[u8; 32], public: Option<&[u8]>) -> Vec<u8> {
        fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            if content.len() < 0x80 {
                out.push(content.len() as u8);
            } else {
                out.extend([0x81, content.len() as u8]);
            }
            out.extend_from_slice(content);
            out
        }
        let mut sec1 = tlv(0x02, &[1]);
        sec1.extend(tlv(0x04, private));
        if let Some(point) = public {
            let bits: Vec<u8> = [&[0u8][..], point].concat();
            sec1.extend(tlv(0xa1, &tlv(0x03, &bits)));
        }
        let mut algorithm = tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]);
        algorithm.extend(tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]));
        let mut info = tlv(0x02, &[0]);
        info.extend(tlv(0x30, &algorithm));
        info.extend(tlv(0x04, &tlv(0x30, &sec1)));
        tlv(0x30, &info)
    }

    #[test]
    fn pkcs8_ec_public_key_is_derived_when_absent_and_checked_when_present() {
        let original = ec_key(Nid::X9_62_PRIME256V1);
        let ec = original.ec_key().unwrap();
        let mut private = [0u8; 32];
        private.copy_from_slice(&ec.private_key().to_vec_padded(32).unwrap());
        let mut ctx = BigNumContext::new().unwrap();
        let point = ec
            .public_key()
            .to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)
            .unwrap();

        let without_public = STANDARD.encode(p256_pkcs8(&private, None));
        same_key(&parse_ok(&without_public), &original);
        let with_public = STANDARD.encode(p256_pkcs8(&private, Some(&point)));
        same_key(&parse_ok(&with_public), &original);

        // Someone else's public key beside this private key is refused.
        let other = ec_key(Nid::X9_62_PRIME256V1).ec_key().unwrap();
        let other_point = other
            .public_key()
            .to_bytes(other.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)
            .unwrap();
        let mismatched = STANDARD.encode(p256_pkcs8(&private, Some(&other_point)));
        assert_eq!(parse_err(&mismatched).kind(), ErrorKind::Key);
        // A scalar of zero is not a key.
        assert_eq!(
            parse_err(&STANDARD.encode(p256_pkcs8(&[0; 32], None))).kind(),
            ErrorKind::Key
        );
    }

    #[test]
    fn bare_base64_der_like_talkdesk() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let der = key.private_key_to_pkcs8().unwrap();
        let text = b64(&der);
        assert!(!text.contains('\n') && !text.contains('-'));
        let parsed = parse_ok(&text);
        assert_eq!(parsed.key_type, KeyType::Ec(Curve::P256));
        assert_eq!(parsed.choose_algorithm(None).unwrap(), Algorithm::ES256);
        same_key(&parsed, &key);
        // Wrapped at 64 columns, without armour, and URL-safe / unpadded.
        let wrapped: String = text
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap().to_string() + "\n")
            .collect();
        same_key(&parse_ok(&wrapped), &key);
        same_key(&parse_ok(&URL_SAFE_NO_PAD.encode(&der)), &key);
        // Bare PKCS#1 and SEC1 DER too.
        let rsa = rsa_key(2048);
        same_key(
            &parse_ok(&b64(&rsa.rsa().unwrap().private_key_to_der().unwrap())),
            &rsa,
        );
        same_key(
            &parse_ok(&b64(&key.ec_key().unwrap().private_key_to_der().unwrap())),
            &key,
        );
    }
}
