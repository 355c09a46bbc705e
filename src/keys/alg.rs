//! JOSE algorithm names and the key types and curves they fit.
#![forbid(unsafe_code)]

use std::fmt;
use std::str::FromStr;

use openssl::nid::Nid;

use super::shown;
use crate::error::{Error, Result};

/// Smallest RSA modulus we sign with (RFC 7518 §3.3 requires 2048 bits).
pub const MIN_RSA_BITS: u32 = 2048;

/// A JWS algorithm tokenclient can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
    HS256,
    HS384,
    HS512,
}

/// The hash behind an algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }
}

impl Algorithm {
    pub const ALL: [Algorithm; 13] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// The hash the algorithm signs with; `None` for EdDSA (Ed25519 hashes
    /// internally).
    pub fn hash(self) -> Option<Hash> {
        use Algorithm::*;
        match self {
            RS256 | PS256 | ES256 | HS256 => Some(Hash::Sha256),
            RS384 | PS384 | ES384 | HS384 => Some(Hash::Sha384),
            RS512 | PS512 | ES512 | HS512 => Some(Hash::Sha512),
            EdDSA => None,
        }
    }

    pub fn is_hmac(self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                Error::invalid_argument(format!(
                    "unknown algorithm {}: expected one of RS256, RS384, RS512, PS256, PS384, \
                     PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512",
                    shown(s)
                ))
            })
    }
}

/// The family of an asymmetric key, which decides the algorithms it fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Rsa { bits: u32 },
    Ec(Curve),
    Ed25519,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    pub(crate) fn from_nid(nid: Nid) -> Option<Curve> {
        match nid {
            Nid::X9_62_PRIME256V1 => Some(Curve::P256),
            Nid::SECP384R1 => Some(Curve::P384),
            Nid::SECP521R1 => Some(Curve::P521),
            _ => None,
        }
    }

    pub(super) fn from_jwk(crv: &str) -> Option<Curve> {
        match crv {
            "P-256" => Some(Curve::P256),
            "P-384" => Some(Curve::P384),
            "P-521" => Some(Curve::P521),
            _ => None,
        }
    }

    pub(crate) fn nid(self) -> Nid {
        match self {
            Curve::P256 => Nid::X9_62_PRIME256V1,
            Curve::P384 => Nid::SECP384R1,
            Curve::P521 => Nid::SECP521R1,
        }
    }

    /// Bytes of one coordinate / scalar, the size of `r` and `s` in a JOSE
    /// ECDSA signature.
    pub fn scalar_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    fn algorithm(self) -> Algorithm {
        match self {
            Curve::P256 => Algorithm::ES256,
            Curve::P384 => Algorithm::ES384,
            Curve::P521 => Algorithm::ES512,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }
}

impl KeyType {
    /// The algorithm used when the caller names none.
    pub fn default_algorithm(self) -> Algorithm {
        match self {
            KeyType::Rsa { .. } => Algorithm::RS256,
            KeyType::Ec(curve) => curve.algorithm(),
            KeyType::Ed25519 => Algorithm::EdDSA,
        }
    }

    /// Whether `alg` can be used with a key of this type.
    pub fn fits(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyType::Rsa { .. } => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyType::Ec(curve) => curve.algorithm() == alg,
            KeyType::Ed25519 => alg == EdDSA,
        }
    }

    /// `Ok` when `alg` can be used with a key of this type, else a `Key`
    /// error saying so.
    pub(crate) fn require(self, alg: Algorithm) -> crate::error::Result<()> {
        if self.fits(alg) {
            Ok(())
        } else {
            Err(crate::error::Error::key(format!(
                "algorithm {alg} does not fit {}",
                self.describe()
            )))
        }
    }

    pub fn describe(self) -> String {
        match self {
            KeyType::Rsa { bits } => format!("an RSA-{bits} key"),
            KeyType::Ec(curve) => format!("an EC {} key", curve.name()),
            KeyType::Ed25519 => "an Ed25519 key".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn algorithm_names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.name().parse::<Algorithm>().unwrap(), alg);
        }
        assert_eq!(
            "es256".parse::<Algorithm>().unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        assert!("none".parse::<Algorithm>().is_err());
    }
}
