//! Just enough DER to take apart an unencrypted PKCS#8 `PrivateKeyInfo`
//! (RFC 5208, RFC 5958) and the SEC1 `ECPrivateKey` inside an EC one.
//!
//! OpenSSL 3 parses PKCS#8 through its generic decoder framework, which
//! costs about 0.5 ms per key (and 2 ms for the first key of a process);
//! its type-specific parsers and constructors take tens of microseconds.
//! This module only finds the pieces; keys.rs hands them to OpenSSL and
//! checks the result exactly as it checks any other key. Anything this
//! reader does not recognise is left to OpenSSL's decoder.

#![forbid(unsafe_code)]

use openssl::nid::Nid;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;
const NULL: u8 = 0x05;
const OID: u8 = 0x06;
const EXPLICIT_0: u8 = 0xa0;
const EXPLICIT_1: u8 = 0xa1;
/// PKCS#8 `[0] IMPLICIT Attributes` and `[1] IMPLICIT BIT STRING`.
const ATTRIBUTES: u8 = 0xa0;
const PUBLIC_KEY: u8 = 0x81;

const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];

/// The key inside a PKCS#8 `PrivateKeyInfo`, by type.
#[derive(Debug, PartialEq, Eq)]
pub enum Pkcs8<'a> {
    /// A PKCS#1 `RSAPrivateKey`.
    Rsa(&'a [u8]),
    /// A SEC1 `ECPrivateKey` on a named curve.
    Ec { curve: Nid, sec1: &'a [u8] },
    /// The 32-byte Ed25519 private key (RFC 8410).
    Ed25519(&'a [u8]),
}

/// The parts of a SEC1 `ECPrivateKey` (RFC 5915).
#[derive(Debug, PartialEq, Eq)]
pub struct Sec1<'a> {
    /// The private scalar, big-endian.
    pub private: &'a [u8],
    /// The named curve, when the key states one.
    pub curve: Option<Nid>,
    /// The encoded public point, when the key carries it.
    pub public: Option<&'a [u8]>,
}

/// A cursor over DER content octets.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element's tag and content. Only definite, minimal lengths
    /// of up to four octets are accepted, as DER requires.
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.rest.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count || rest[0] == 0 {
                return None;
            }
            let (octets, after) = rest.split_at(count);
            rest = after;
            let len = octets
                .iter()
                .fold(0usize, |len, &b| len << 8 | usize::from(b));
            if len < 0x80 {
                return None;
            }
            len
        };
        if rest.len() < len {
            return None;
        }
        let (content, after) = rest.split_at(len);
        self.rest = after;
        Some((tag, content))
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (t, content) if t == tag => Some(content),
            _ => None,
        }
    }
}

/// The content of `bytes` if it is exactly one element with this tag.
fn only(bytes: &[u8], tag: u8) -> Option<&[u8]> {
    let mut reader = Reader::new(bytes);
    let content = reader.expect(tag)?;
    reader.is_empty().then_some(content)
}

fn named_curve(oid: &[u8]) -> Option<Nid> {
    match oid {
        OID_P256 => Some(Nid::X9_62_PRIME256V1),
        OID_P384 => Some(Nid::SECP384R1),
        OID_P521 => Some(Nid::SECP521R1),
        _ => None,
    }
}

/// A one-octet version INTEGER with one of the `allowed` values.
fn small_version(content: &[u8], allowed: &[u8]) -> Option<()> {
    match content {
        [v] if allowed.contains(v) => Some(()),
        _ => None,
    }
}

/// Splits an unencrypted PKCS#8 key of a supported type; None for anything
/// else (other types or curves, encrypted keys, malformed DER).
pub fn pkcs8(der: &[u8]) -> Option<Pkcs8<'_>> {
    let mut info = Reader::new(only(der, SEQUENCE)?);
    small_version(info.expect(INTEGER)?, &[0, 1])?;
    let mut algorithm = Reader::new(info.expect(SEQUENCE)?);
    let oid = algorithm.expect(OID)?;
    let parameters = if algorithm.is_empty() {
        None
    } else {
        let parameters = algorithm.next()?;
        if !algorithm.is_empty() {
            return None;
        }
        Some(parameters)
    };
    let private_key = info.expect(OCTET_STRING)?;
    // What may follow is not needed, but must be what RFC 5958 allows:
    // [0] attributes, then [1] the public key.
    let mut last = 0;
    while let Some((tag, _)) = info.next() {
        let order = match tag {
            ATTRIBUTES => 1,
            PUBLIC_KEY => 2,
            _ => return None,
        };
        if order <= last {
            return None;
        }
        last = order;
    }
    if !info.is_empty() {
        return None;
    }
    match (oid, parameters) {
        (OID_RSA_ENCRYPTION, None | Some((NULL, []))) => Some(Pkcs8::Rsa(private_key)),
        (OID_EC_PUBLIC_KEY, Some((OID, curve))) => Some(Pkcs8::Ec {
            curve: named_curve(curve)?,
            sec1: private_key,
        }),
        (OID_ED25519, None) => Some(Pkcs8::Ed25519(only(private_key, OCTET_STRING)?)),
        _ => None,
    }
}

/// Splits a SEC1 `ECPrivateKey`; None if it is not one.
pub fn sec1(der: &[u8]) -> Option<Sec1<'_>> {
    let mut key = Reader::new(only(der, SEQUENCE)?);
    small_version(key.expect(INTEGER)?, &[1])?;
    let private = key.expect(OCTET_STRING)?;
    let mut curve = None;
    let mut public = None;
    if key.peek_tag() == Some(EXPLICIT_0) {
        curve = Some(named_curve(only(key.expect(EXPLICIT_0)?, OID)?)?);
    }
    if key.peek_tag() == Some(EXPLICIT_1) {
        match only(key.expect(EXPLICIT_1)?, BIT_STRING)? {
            [0, point @ ..] if !point.is_empty() => public = Some(point),
            _ => return None,
        }
    }
    key.is_empty().then_some(Sec1 {
        private,
        curve,
        public,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;

    fn pkcs8_of(pkey: &PKey<openssl::pkey::Private>) -> Vec<u8> {
        pkey.private_key_to_pkcs8().unwrap()
    }

    #[test]
    fn splits_openssl_pkcs8_of_every_supported_type() {
        let rsa = Rsa::generate(2048).unwrap();
        let der = pkcs8_of(&PKey::from_rsa(rsa.clone()).unwrap());
        assert_eq!(
            pkcs8(&der),
            Some(Pkcs8::Rsa(&rsa.private_key_to_der().unwrap()[..]))
        );

        for nid in [Nid::X9_62_PRIME256V1, Nid::SECP384R1, Nid::SECP521R1] {
            let ec = EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap();
            let der = pkcs8_of(&PKey::from_ec_key(ec.clone()).unwrap());
            let Some(Pkcs8::Ec { curve, sec1: inner }) = pkcs8(&der) else {
                panic!("{nid:?} not split");
            };
            assert_eq!(curve, nid);
            let parts = sec1(inner).unwrap();
            // SEC1 pads the scalar to the curve size; compare numbers.
            let private = openssl::bn::BigNum::from_slice(parts.private).unwrap();
            assert_eq!(&*private, ec.private_key());
            let mut ctx = openssl::bn::BigNumContext::new().unwrap();
            let point = ec
                .public_key()
                .to_bytes(
                    ec.group(),
                    openssl::ec::PointConversionForm::UNCOMPRESSED,
                    &mut ctx,
                )
                .unwrap();
            assert_eq!(parts.public, Some(&point[..]));
        }

        let ed = PKey::generate_ed25519().unwrap();
        let der = pkcs8_of(&ed);
        assert_eq!(
            pkcs8(&der),
            Some(Pkcs8::Ed25519(&ed.raw_private_key().unwrap()[..]))
        );
    }

    #[test]
    fn sec1_with_curve_and_without_public_key() {
        let ec =
            EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap();
        let der = ec.private_key_to_der().unwrap(); // SEC1 with [0] curve and [1] point
        let parts = sec1(&der).unwrap();
        assert_eq!(parts.curve, Some(Nid::X9_62_PRIME256V1));
        assert!(parts.public.is_some());
        // version 1, a 1-byte scalar, nothing else
        assert_eq!(
            sec1(&[0x30, 0x06, 0x02, 0x01, 0x01, 0x04, 0x01, 0x07]),
            Some(Sec1 {
                private: &[0x07],
                curve: None,
                public: None
            })
        );
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        let ec = EcKey::generate(&EcGroup::from_curve_name(Nid::SECP256K1).unwrap()).unwrap();
        let der = pkcs8_of(&PKey::from_ec_key(ec).unwrap());
        assert_eq!(pkcs8(&der), None, "secp256k1 is left to OpenSSL");
        let ed448 = PKey::generate_ed448().unwrap();
        assert_eq!(pkcs8(&pkcs8_of(&ed448)), None);

        let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let good = pkcs8_of(&rsa);
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(pkcs8(&trailing), None, "trailing bytes");
        for cut in [0, 1, 2, 10, good.len() / 2, good.len() - 1] {
            assert_eq!(pkcs8(&good[..cut]), None, "cut at {cut}");
        }
        // After the private key only [0] attributes and a [1] public key,
        // once each and in that order, may follow.
        let with = |extra: &[u8]| {
            let mut info = good[4..].to_vec(); // 30 82 xx xx: a 2-byte length
            info.extend_from_slice(extra);
            let mut der = vec![0x30, 0x82];
            der.extend_from_slice(&u16::try_from(info.len()).unwrap().to_be_bytes());
            der.extend(info);
            der
        };
        assert!(pkcs8(&with(&[])).is_some());
        assert!(pkcs8(&with(&[0xa0, 0x00])).is_some(), "attributes");
        assert!(
            pkcs8(&with(&[0xa0, 0x00, 0x81, 0x02, 0x00, 0x04])).is_some(),
            "attributes, public key"
        );
        assert_eq!(pkcs8(&with(&[0x04, 0x00])), None, "an OCTET STRING");
        assert_eq!(
            pkcs8(&with(&[0x81, 0x01, 0x00, 0xa0, 0x00])),
            None,
            "out of order"
        );
        assert_eq!(pkcs8(&with(&[0xa0, 0x00, 0xa0, 0x00])), None, "twice");
        assert_eq!(pkcs8(&with(&[0xa0, 0x05])), None, "cut short");

        let mut version2 = good.clone();
        version2[6] = 2; // 30 82 xx xx 02 01 <version>
        assert_eq!(pkcs8(&version2), None, "version 2");

        // Non-minimal length encodings are not DER.
        assert_eq!(Reader::new(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]).next(), None);
        assert_eq!(Reader::new(&[0x04, 0x82, 0x00, 0x80]).next(), None);
        assert_eq!(Reader::new(&[0x04, 0x80]).next(), None, "indefinite length");
        assert_eq!(
            Reader::new(&[0x04, 0x85, 1, 0, 0, 0, 0]).next(),
            None,
            "5 length octets"
        );
        assert_eq!(Reader::new(&[0x04, 0x02, 1]).next(), None, "short content");
        assert_eq!(
            Reader::new(&[0x04, 0x01, 9]).next(),
            Some((0x04, &[9u8][..]))
        );
    }
}
