//! Key formats -> a parsed signing key and its JOSE algorithm.
//!
//! Accepted, detected on their own: PKCS#8 PEM, SEC1 EC PEM, PKCS#1 RSA PEM
//! (also squeezed onto one line, with `\r\n`, or with literal `\n`
//! sequences as environment variables often carry them), bare base64 of a
//! DER key with no armour (what Talkdesk hands out), and a private JWK
//! (RSA, EC P-256/P-384/P-521, OKP Ed25519). Keys are parsed once; every
//! intermediate buffer holding key material is wiped when dropped.
#![forbid(unsafe_code)]

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Rsa;
use zeroize::Zeroizing;

use crate::der;
use crate::error::{Error, Result};
use crate::json::{parse_object, Member, NotAnObject};

/// A JWK's members.
type Members<'a> = std::collections::BTreeMap<String, Member<'a>>;

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
    fn from_nid(nid: Nid) -> Option<Curve> {
        match nid {
            Nid::X9_62_PRIME256V1 => Some(Curve::P256),
            Nid::SECP384R1 => Some(Curve::P384),
            Nid::SECP521R1 => Some(Curve::P521),
            _ => None,
        }
    }

    fn from_jwk(crv: &str) -> Option<Curve> {
        match crv {
            "P-256" => Some(Curve::P256),
            "P-384" => Some(Curve::P384),
            "P-521" => Some(Curve::P521),
            _ => None,
        }
    }

    fn nid(self) -> Nid {
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

    fn name(self) -> &'static str {
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

    pub fn describe(self) -> String {
        match self {
            KeyType::Rsa { bits } => format!("an RSA-{bits} key"),
            KeyType::Ec(curve) => format!("an EC {} key", curve.name()),
            KeyType::Ed25519 => "an Ed25519 key".to_string(),
        }
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
            parse_jwk(text)
        } else if text.contains("-----BEGIN") {
            parse_pem(text)
        } else {
            let der = decode_base64(text).map_err(|_| {
                Error::key(
                    "the key is neither PEM, a JWK, nor base64 of a DER key \
                     (not valid base64)",
                )
            })?;
            parse_bare_der(&der)
        }
    }

    /// Picks the algorithm: the explicit one (checked against the key),
    /// otherwise the JWK's `alg`, otherwise the key type's default.
    pub fn choose_algorithm(&self, explicit: Option<Algorithm>) -> Result<Algorithm> {
        let alg = explicit
            .or(self.jwk_alg)
            .unwrap_or_else(|| self.key_type.default_algorithm());
        if !self.key_type.fits(alg) {
            return Err(Error::key(format!(
                "algorithm {alg} does not fit {}",
                self.key_type.describe()
            )));
        }
        Ok(alg)
    }
}

/// Base64 with or without padding, standard or URL-safe alphabet, ignoring
/// whitespace. The text is key material: each copy of it is made in a
/// buffer of its final size (growing one would free a copy unwiped).
fn decode_base64(text: &str) -> std::result::Result<Zeroizing<Vec<u8>>, ()> {
    // At most the text's non-whitespace, then up to three '=' of padding.
    let mut standard = Zeroizing::new(String::with_capacity(text.len() + 3));
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        standard.push(match c {
            '-' => '+',
            '_' => '/',
            c => c,
        });
    }
    if standard.is_empty() {
        return Err(());
    }
    while standard.ends_with('=') {
        standard.pop();
    }
    while standard.len() % 4 != 0 {
        standard.push('=');
    }
    STANDARD
        .decode(standard.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| ())
}

/// PEM text with each literal "\n" (two characters, as environment
/// variables and JSON strings often carry a key) turned into a newline and
/// each literal "\r" dropped, in a buffer that never grows: the result is
/// never longer than the text.
fn literal_newlines(text: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("\\n") {
            out.push('\n');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("\\r") {
            rest = after;
        } else {
            out.push('\\');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

fn parse_pem(text: &str) -> Result<PrivateKey> {
    let text = literal_newlines(text);
    let malformed_begin =
        || Error::key("malformed PEM: the BEGIN line is not of the form -----BEGIN <LABEL>-----");
    // The caller saw "-----BEGIN", but not necessarily followed by a space
    // (e.g. "-----BEGIN!", a literal \n right after it, or nothing at all).
    let begin = text.find("-----BEGIN ").ok_or_else(malformed_begin)?;
    let after_begin = &text[begin + "-----BEGIN ".len()..];
    // The label sits on the BEGIN line, in capitals and spaces; anything
    // else is a broken BEGIN line, and is not quoted (it may be key text).
    let label_end = after_begin
        .find("-----")
        .filter(|&end| {
            end <= 40
                && after_begin[..end]
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b' ' || b.is_ascii_digit())
        })
        .ok_or_else(malformed_begin)?;
    let label = after_begin[..label_end].trim();
    let body_and_rest = &after_begin[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let body_end = body_and_rest
        .find(&end_marker)
        .ok_or_else(|| Error::key(format!("malformed PEM: no \"-----END {label}-----\" line")))?;
    let body = &body_and_rest[..body_end];
    if body.contains("Proc-Type:") || body.contains("DEK-Info:") {
        return Err(Error::key(
            "the key is encrypted (PEM with Proc-Type/DEK-Info); decrypt it first",
        ));
    }
    let der = decode_base64(body).map_err(|_| {
        Error::key(format!(
            "malformed PEM: the body of the {label} block is not base64"
        ))
    })?;
    match label {
        "PRIVATE KEY" => from_pkcs8(&der),
        "EC PRIVATE KEY" => from_sec1(&der),
        "RSA PRIVATE KEY" => from_pkcs1(&der),
        "ENCRYPTED PRIVATE KEY" => Err(encrypted_error()),
        "PUBLIC KEY" | "RSA PUBLIC KEY" | "EC PUBLIC KEY" => Err(public_key_error()),
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => Err(certificate_error()),
        other => Err(Error::key(format!(
            "unsupported PEM block {}: expected PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY",
            shown(other)
        ))),
    }
}

fn encrypted_error() -> Error {
    Error::key("the key is an encrypted PKCS#8 key; decrypt it first")
}

fn public_key_error() -> Error {
    Error::key("a public key was given; a private key is needed to sign")
}

fn certificate_error() -> Error {
    Error::key("a certificate was given; a private key is needed to sign")
}

fn parse_bare_der(der: &[u8]) -> Result<PrivateKey> {
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

fn from_pkcs8(der: &[u8]) -> Result<PrivateKey> {
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
    match der::pkcs8(der)? {
        der::Pkcs8::Rsa(pkcs1) => PKey::from_rsa(Rsa::private_key_from_der(pkcs1).ok()?).ok(),
        der::Pkcs8::Ec { curve, sec1 } => {
            let parts = der::sec1(sec1)?;
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
        der::Pkcs8::Ed25519(seed) => PKey::private_key_from_raw_bytes(seed, Id::ED25519).ok(),
    }
}

fn from_sec1(der: &[u8]) -> Result<PrivateKey> {
    let ec = EcKey::private_key_from_der(der)
        .map_err(|_| Error::key("the EC PRIVATE KEY block is not a valid SEC1 key"))?;
    finish(PKey::from_ec_key(ec).map_err(openssl_key_error)?)
}

fn from_pkcs1(der: &[u8]) -> Result<PrivateKey> {
    let rsa = Rsa::private_key_from_der(der)
        .map_err(|_| Error::key("the RSA PRIVATE KEY block is not a valid PKCS#1 key"))?;
    finish(PKey::from_rsa(rsa).map_err(openssl_key_error)?)
}

fn openssl_key_error(_: openssl::error::ErrorStack) -> Error {
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
fn finish(pkey: PKey<Private>) -> Result<PrivateKey> {
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

fn parse_jwk(text: &str) -> Result<PrivateKey> {
    // Its strings (the private members among them) are wiped when dropped.
    let object = parse_object(text.as_bytes()).map_err(|why| match why {
        NotAnObject::NotJson(why) => Error::key(format!("the JWK is not valid JSON ({why})")),
        NotAnObject::NotObject => Error::key("the JWK is not a JSON object"),
        NotAnObject::Duplicate => Error::key("the JWK names a member twice"),
    })?;
    let obj = &object.0;
    if obj.contains_key("keys") {
        return Err(Error::key("a JWK Set was given; pass one private JWK"));
    }
    let kty = jwk_str(obj, "kty")?.ok_or_else(|| Error::key("the JWK has no \"kty\""))?;
    if !obj.contains_key("d") {
        return Err(public_key_error());
    }
    let pkey = match kty {
        "RSA" => jwk_rsa(obj)?,
        "EC" => jwk_ec(obj)?,
        "OKP" => jwk_okp(obj)?,
        other => {
            return Err(Error::key(format!(
                "unsupported JWK kty {}: expected RSA, EC or OKP",
                shown(other)
            )))
        }
    };
    let mut key = finish(pkey)?;
    if let Some(alg) = jwk_str(obj, "alg")? {
        let alg: Algorithm = alg
            .parse()
            .map_err(|_| Error::key(format!("the JWK names an unknown \"alg\" {}", shown(alg))))?;
        if !key.key_type.fits(alg) {
            return Err(Error::key(format!(
                "the JWK's alg {alg} does not fit {}",
                key.key_type.describe()
            )));
        }
        key.jwk_alg = Some(alg);
    }
    if let Some(kid) = jwk_str(obj, "kid")? {
        if kid.is_empty() || kid.len() > 1024 || kid.chars().any(char::is_control) {
            return Err(Error::key(
                "the JWK's \"kid\" is empty, longer than 1024 bytes, or has control characters",
            ));
        }
        key.jwk_kid = Some(kid.to_string());
    }
    Ok(key)
}

fn jwk_str<'a>(obj: &'a Members, name: &str) -> Result<Option<&'a str>> {
    match obj.get(name) {
        None => Ok(None),
        Some(Member::Str(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(Error::key(format!(
            "the JWK member \"{name}\" is not a string"
        ))),
    }
}

fn jwk_bytes(obj: &Members, name: &str) -> Result<Zeroizing<Vec<u8>>> {
    let text =
        jwk_str(obj, name)?.ok_or_else(|| Error::key(format!("the JWK has no \"{name}\"")))?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map(Zeroizing::new)
        .map_err(|_| Error::key(format!("the JWK member \"{name}\" is not base64url")))
}

fn jwk_bn(obj: &Members, name: &str) -> Result<BigNum> {
    let bytes = jwk_bytes(obj, name)?;
    secret_bn(&bytes).map_err(openssl_key_error)
}

/// A BigNum that OpenSSL wipes when it is freed (a plain one is not).
fn secret_bn(bytes: &[u8]) -> std::result::Result<BigNum, openssl::error::ErrorStack> {
    let mut n = BigNum::new_secure()?;
    n.copy_from_slice(bytes)?;
    Ok(n)
}

fn jwk_rsa(obj: &Members) -> Result<PKey<Private>> {
    let needed = ["p", "q", "dp", "dq", "qi"];
    if needed.iter().any(|n| !obj.contains_key(*n)) {
        return Err(Error::key(
            "the RSA JWK lacks the CRT members p, q, dp, dq, qi, which are required",
        ));
    }
    let rsa = Rsa::from_private_components(
        jwk_bn(obj, "n")?,
        jwk_bn(obj, "e")?,
        jwk_bn(obj, "d")?,
        jwk_bn(obj, "p")?,
        jwk_bn(obj, "q")?,
        jwk_bn(obj, "dp")?,
        jwk_bn(obj, "dq")?,
        jwk_bn(obj, "qi")?,
    )
    .map_err(openssl_key_error)?;
    PKey::from_rsa(rsa).map_err(openssl_key_error)
}

fn jwk_ec(obj: &Members) -> Result<PKey<Private>> {
    let crv = jwk_str(obj, "crv")?.ok_or_else(|| Error::key("the EC JWK has no \"crv\""))?;
    let curve = Curve::from_jwk(crv).ok_or_else(|| {
        Error::key(format!(
            "unsupported EC JWK curve {}: expected P-256, P-384 or P-521",
            shown(crv)
        ))
    })?;
    let group = EcGroup::from_curve_name(curve.nid()).map_err(openssl_key_error)?;
    let d = jwk_bytes(obj, "d")?;
    let x = jwk_bytes(obj, "x")?;
    let y = jwk_bytes(obj, "y")?;
    let n = curve.scalar_len();
    if d.len() != n || x.len() != n || y.len() != n {
        return Err(Error::key(format!(
            "the EC JWK members d, x, y must each be {n} bytes for {crv}"
        )));
    }
    let x = BigNum::from_slice(&x).map_err(openssl_key_error)?;
    let y = BigNum::from_slice(&y).map_err(openssl_key_error)?;
    let d = secret_bn(&d).map_err(openssl_key_error)?;
    let public = EcKey::from_public_key_affine_coordinates(&group, &x, &y)
        .map_err(|_| Error::key("the EC JWK's x and y are not a point on the curve"))?;
    let private = EcKey::from_private_components(&group, &d, public.public_key())
        .map_err(openssl_key_error)?;
    // The public point must belong to d.
    let mut ctx = BigNumContext::new().map_err(openssl_key_error)?;
    let mut derived = openssl::ec::EcPoint::new(&group).map_err(openssl_key_error)?;
    derived
        .mul_generator2(&group, private.private_key(), &mut ctx)
        .map_err(openssl_key_error)?;
    if !derived
        .eq(&group, public.public_key(), &mut ctx)
        .map_err(openssl_key_error)?
    {
        return Err(Error::key("the EC JWK's x and y do not belong to its d"));
    }
    PKey::from_ec_key(private).map_err(openssl_key_error)
}

fn jwk_okp(obj: &Members) -> Result<PKey<Private>> {
    let crv = jwk_str(obj, "crv")?.ok_or_else(|| Error::key("the OKP JWK has no \"crv\""))?;
    if crv != "Ed25519" {
        return Err(Error::key(format!(
            "unsupported OKP JWK curve {}: expected Ed25519",
            shown(crv)
        )));
    }
    let d = jwk_bytes(obj, "d")?;
    if d.len() != 32 {
        return Err(Error::key("the Ed25519 JWK member d must be 32 bytes"));
    }
    let pkey = PKey::private_key_from_raw_bytes(&d, Id::ED25519).map_err(openssl_key_error)?;
    if obj.contains_key("x") {
        let x = jwk_bytes(obj, "x")?;
        let derived = pkey.raw_public_key().map_err(openssl_key_error)?;
        if derived.as_slice() != x.as_slice() {
            return Err(Error::key("the Ed25519 JWK's x does not belong to its d"));
        }
    }
    Ok(pkey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use openssl::ec::{EcGroup, PointConversionForm};
    use serde_json::Value;

    fn b64(der: &[u8]) -> String {
        STANDARD.encode(der)
    }

    fn b64url(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn pem(label: &str, der: &[u8]) -> String {
        let body = b64(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    fn ec_key(nid: Nid) -> PKey<Private> {
        PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap())
            .unwrap()
    }

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

    fn rsa_key(bits: u32) -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
    }

    fn ed_key() -> PKey<Private> {
        PKey::generate_ed25519().unwrap()
    }

    fn parse_ok(text: &str) -> PrivateKey {
        match PrivateKey::parse(text) {
            Ok(k) => k,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    fn parse_err(text: &str) -> Error {
        let e = PrivateKey::parse(text).expect_err("parse should fail");
        assert_eq!(e.kind(), ErrorKind::Key, "{e}");
        e
    }

    fn same_key(parsed: &PrivateKey, original: &PKey<Private>) {
        assert!(
            parsed.pkey.public_eq(original),
            "the parsed key is a different key"
        );
    }

    fn ec_jwk(key: &PKey<Private>, crv: &str, extra: &str) -> String {
        let ec = key.ec_key().unwrap();
        let n = Curve::from_jwk(crv).unwrap().scalar_len() as i32;
        let mut ctx = BigNumContext::new().unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        ec.public_key()
            .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
            .unwrap();
        format!(
            r#"{{"kty":"EC","crv":"{crv}","x":"{}","y":"{}","d":"{}"{extra}}}"#,
            b64url(&x.to_vec_padded(n).unwrap()),
            b64url(&y.to_vec_padded(n).unwrap()),
            b64url(&ec.private_key().to_vec_padded(n).unwrap()),
        )
    }

    fn rsa_jwk(key: &PKey<Private>, extra: &str) -> String {
        let r = key.rsa().unwrap();
        let f = |b: Option<&openssl::bn::BigNumRef>| b64url(&b.unwrap().to_vec());
        format!(
            r#"{{"kty":"RSA","n":"{}","e":"{}","d":"{}","p":"{}","q":"{}","dp":"{}","dq":"{}","qi":"{}"{extra}}}"#,
            f(Some(r.n())),
            f(Some(r.e())),
            f(Some(r.d())),
            f(r.p()),
            f(r.q()),
            f(r.dmp1()),
            f(r.dmq1()),
            f(r.iqmp()),
        )
    }

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
    fn sec1_and_pkcs1_pem() {
        let ec = ec_key(Nid::X9_62_PRIME256V1);
        let sec1 = String::from_utf8(ec.ec_key().unwrap().private_key_to_pem().unwrap()).unwrap();
        assert!(sec1.contains("BEGIN EC PRIVATE KEY"));
        same_key(&parse_ok(&sec1), &ec);

        let rsa = rsa_key(2048);
        let pkcs1 = String::from_utf8(rsa.rsa().unwrap().private_key_to_pem().unwrap()).unwrap();
        assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"));
        let parsed = parse_ok(&pkcs1);
        assert_eq!(parsed.key_type, KeyType::Rsa { bits: 2048 });
        same_key(&parsed, &rsa);
    }

    #[test]
    fn pem_squeezed_crlf_and_escaped() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let text = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let one_line_spaces = text.trim().replace('\n', " ");
        let one_line_none = text.trim().replace('\n', "");
        let crlf = text.replace('\n', "\r\n");
        let escaped = text.trim().replace('\n', "\\n");
        let quoted = format!("\"{escaped}\"");
        for variant in [one_line_spaces, one_line_none, crlf, escaped, quoted] {
            same_key(&parse_ok(&variant), &key);
        }
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

    #[test]
    fn jwks_of_every_type() {
        for (nid, crv, alg) in [
            (Nid::X9_62_PRIME256V1, "P-256", Algorithm::ES256),
            (Nid::SECP384R1, "P-384", Algorithm::ES384),
            (Nid::SECP521R1, "P-521", Algorithm::ES512),
        ] {
            let key = ec_key(nid);
            let parsed = parse_ok(&ec_jwk(&key, crv, r#","kid":"k-ec""#));
            same_key(&parsed, &key);
            assert_eq!(parsed.jwk_kid.as_deref(), Some("k-ec"));
            assert_eq!(parsed.choose_algorithm(None).unwrap(), alg);
        }
        let rsa = rsa_key(2048);
        let parsed = parse_ok(&rsa_jwk(&rsa, r#","alg":"PS256""#));
        same_key(&parsed, &rsa);
        assert_eq!(parsed.choose_algorithm(None).unwrap(), Algorithm::PS256);
        // An explicit alg wins over the JWK's.
        assert_eq!(
            parsed.choose_algorithm(Some(Algorithm::RS512)).unwrap(),
            Algorithm::RS512
        );

        let ed = ed_key();
        let d = ed.raw_private_key().unwrap();
        let x = ed.raw_public_key().unwrap();
        let jwk = format!(
            r#"{{"kty":"OKP","crv":"Ed25519","d":"{}","x":"{}"}}"#,
            b64url(&d),
            b64url(&x)
        );
        let parsed = parse_ok(&jwk);
        same_key(&parsed, &ed);
        assert_eq!(parsed.choose_algorithm(None).unwrap(), Algorithm::EdDSA);
    }

    #[test]
    fn broken_jwks() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let good = ec_jwk(&key, "P-256", "");
        let public_only: String = {
            let mut v: Value = serde_json::from_str(&good).unwrap();
            v.as_object_mut().unwrap().remove("d");
            v.to_string()
        };
        assert!(parse_err(&public_only).message().contains("public key"));
        // x/y of another key.
        let other = ec_jwk(&ec_key(Nid::X9_62_PRIME256V1), "P-256", "");
        let mut mixed: Value = serde_json::from_str(&good).unwrap();
        let other: Value = serde_json::from_str(&other).unwrap();
        mixed["x"] = other["x"].clone();
        mixed["y"] = other["y"].clone();
        parse_err(&mixed.to_string());
        // The JWK's alg must fit.
        parse_err(&ec_jwk(&key, "P-256", r#","alg":"ES384""#));
        parse_err(&ec_jwk(&key, "P-256", r#","alg":"nope""#));
        parse_err(&good.replace("P-256", "P-999"));
        parse_err(r#"{"keys":[]}"#);
        parse_err(r#"{"kty":"oct","k":"AAAA","d":"x"}"#);
        parse_err(r#"{"kty":"EC","d":5}"#);
        parse_err("{not json");
        parse_err("[1,2]");
        let rsa = rsa_key(2048);
        let mut no_crt: Value = serde_json::from_str(&rsa_jwk(&rsa, "")).unwrap();
        no_crt.as_object_mut().unwrap().remove("p");
        assert!(parse_err(&no_crt.to_string()).message().contains("CRT"));
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

    /// Found by fuzzing (fuzz/fuzz_targets/key_parse.rs): "-----BEGIN" not
    /// followed by a space passed the dispatch in `parse` but panicked in
    /// `parse_pem` ("checked by the caller").
    #[test]
    fn begin_without_a_space_is_an_error_not_a_panic() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let text = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        for broken in [
            text.replace("-----BEGIN PRIVATE KEY-----", "-----BEGIN!PRIVATE KEY-----"),
            text.replace("-----BEGIN PRIVATE KEY-----", "-----BEGINPRIVATE KEY-----"),
            text.trim()
                .replace('\n', "\\n")
                .replace("BEGIN ", "BEGIN\\n"),
            "-----BEGIN".to_string(),
            "x -----BEGIN\t".to_string(),
        ] {
            let e = parse_err(&broken);
            assert!(e.message().contains("BEGIN line"), "{}", e.message());
        }
    }

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
