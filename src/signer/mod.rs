//! Keys the library never sees: a signer that the caller provides (a
//! callback, a KMS client, a `crypto.Signer`), or a key inside a PKCS#11
//! token (`pkcs11`). Either signs the exact JWS signing input; the
//! signature is checked for the algorithm and brought to JOSE form here.
#![forbid(unsafe_code)]

pub(crate) mod pkcs11;

use crate::error::{Error, Result};
use crate::keys::Algorithm;

/// Signs JWS signing inputs with a key held elsewhere. Called from any
/// thread, concurrently; an error is reported as a `Key` error.
pub trait Signer: Send + Sync {
    /// The signature of `input` (the whole JWS signing input,
    /// `header.payload`): for ECDSA either JOSE's `r || s` or DER (see
    /// `jose_signature`), for RSA the modulus-sized signature, for EdDSA
    /// the 64 bytes.
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>>;
}

/// The JOSE signature of `alg` from what a signer returned: ECDSA
/// signatures of exactly twice the curve's size are taken as `r || s`,
/// anything else must be a DER `ECDSA-Sig-Value` and is converted (a DER
/// signature is never that long for P-256/P-384/P-521 but with odds of
/// about 2^-40); other algorithms must have their length.
pub(crate) fn jose_signature(alg: Algorithm, signature: Vec<u8>) -> Result<Vec<u8>> {
    let wrong = |expected: &str| {
        Err(Error::key(format!(
            "the signer returned {} bytes, not a {alg} signature ({expected})",
            signature.len()
        )))
    };
    match alg {
        Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
            let n = match alg {
                Algorithm::ES256 => 32,
                Algorithm::ES384 => 48,
                _ => 66,
            };
            if signature.len() == 2 * n {
                return Ok(signature);
            }
            match der_to_raw(&signature, n) {
                Some(raw) => Ok(raw),
                None => wrong(&format!("{} bytes r||s, or DER", 2 * n)),
            }
        }
        Algorithm::EdDSA if signature.len() == 64 => Ok(signature),
        Algorithm::EdDSA => wrong("64 bytes"),
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => {
            // RSA-2048 (the least accepted) to RSA-8192, whole bytes.
            if (256..=1024).contains(&signature.len()) {
                Ok(signature)
            } else {
                wrong("256 to 1024 bytes, the size of an RSA-2048 to RSA-8192 modulus")
            }
        }
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Err(Error::invalid_argument(
            "an external signer signs with a private key: HMAC algorithms are not allowed",
        )),
    }
}

/// `r || s`, each `n` bytes, from a DER `SEQUENCE { INTEGER r, INTEGER s }`
/// (short or one-byte long form lengths; nothing after it).
fn der_to_raw(der: &[u8], n: usize) -> Option<Vec<u8>> {
    let (&tag, rest) = der.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (len, body) = der_length(rest)?;
    if body.len() != len {
        return None;
    }
    let (r, body) = der_integer(body)?;
    let (s, body) = der_integer(body)?;
    if !body.is_empty() {
        return None;
    }
    let mut out = vec![0u8; 2 * n];
    for (value, at) in [(r, 0), (s, n)] {
        if value.len() > n {
            return None;
        }
        out[at + n - value.len()..at + n].copy_from_slice(value);
    }
    Some(out)
}

fn der_length(data: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = data.split_first()?;
    match first {
        0..=0x7f => Some((usize::from(first), rest)),
        0x81 => {
            let (&len, rest) = rest.split_first()?;
            (len >= 0x80).then_some((usize::from(len), rest))
        }
        _ => None,
    }
}

/// A positive INTEGER's magnitude (leading zero dropped) and what follows.
fn der_integer(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    if tag != 0x02 {
        return None;
    }
    let (len, rest) = der_length(rest)?;
    if len == 0 || rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    if value[0] & 0x80 != 0 {
        return None; // negative
    }
    let value = match value {
        [0, tail @ ..] if !tail.is_empty() => tail,
        v => v,
    };
    Some((value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::bn::BigNum;
    use openssl::ecdsa::EcdsaSig;

    #[test]
    fn der_and_raw_ecdsa_signatures() {
        for (alg, n) in [
            (Algorithm::ES256, 32),
            (Algorithm::ES384, 48),
            (Algorithm::ES512, 66),
        ] {
            // Small and large r, s: DER drops leading zeros and adds one
            // before a high bit.
            for (r, s) in [
                ("01", "ff"),
                ("7f", "80"),
                (&*"ab".repeat(n), &*"01".repeat(n)),
            ] {
                let sig = EcdsaSig::from_private_components(
                    BigNum::from_hex_str(r).unwrap(),
                    BigNum::from_hex_str(s).unwrap(),
                )
                .unwrap();
                let der = sig.to_der().unwrap();
                let raw = jose_signature(alg, der).unwrap();
                assert_eq!(raw.len(), 2 * n);
                let mut expected = sig.r().to_vec_padded(n as i32).unwrap();
                expected.extend(sig.s().to_vec_padded(n as i32).unwrap());
                assert_eq!(raw, expected);
                assert_eq!(jose_signature(alg, raw.clone()).unwrap(), raw);
            }
        }
        for bad in [
            vec![],
            vec![0x30],
            vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01],
            vec![0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01], // negative r
            vec![0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
            vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00], // trailing
            vec![0u8; 63],
        ] {
            let e = jose_signature(Algorithm::ES256, bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Key, "{e}");
        }
        // r longer than the curve
        let long = EcdsaSig::from_private_components(
            BigNum::from_hex_str(&"ab".repeat(33)).unwrap(),
            BigNum::from_u32(1).unwrap(),
        )
        .unwrap();
        assert!(jose_signature(Algorithm::ES256, long.to_der().unwrap()).is_err());
    }

    #[test]
    fn other_lengths() {
        assert!(jose_signature(Algorithm::EdDSA, vec![0; 64]).is_ok());
        assert!(jose_signature(Algorithm::EdDSA, vec![0; 65]).is_err());
        assert!(jose_signature(Algorithm::RS256, vec![0; 256]).is_ok());
        assert!(jose_signature(Algorithm::PS256, vec![0; 512]).is_ok());
        assert!(jose_signature(Algorithm::RS256, vec![0; 128]).is_err());
        assert!(jose_signature(Algorithm::RS256, vec![0; 1025]).is_err());
        assert_eq!(
            jose_signature(Algorithm::HS256, vec![0; 32])
                .unwrap_err()
                .kind(),
            crate::ErrorKind::InvalidArgument
        );
    }
}
