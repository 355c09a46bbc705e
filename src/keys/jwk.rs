//! Private JWKs (RFC 7517, RFC 7518 §6): RSA with its CRT members, EC
//! P-256/P-384/P-521, and OKP Ed25519. Their strings are wiped when
//! dropped; private numbers go into secure BIGNUMs.
#![forbid(unsafe_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private, Public};
use openssl::rsa::Rsa;
use zeroize::Zeroizing;

use super::{
    finish, openssl_key_error, public_key_error, secret_bn, shown, Algorithm, Curve, KeyType,
    PrivateKey,
};
use crate::error::{Error, Result};
use crate::json::{parse_object, Member, NotAnObject};

/// A JWK's members.
type Members<'a> = std::collections::BTreeMap<String, Member<'a>>;

pub(super) fn parse_jwk(text: &str) -> Result<PrivateKey> {
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

/// The public half of `key` as a JWK holding only the members RFC 7638
/// §3.2 requires, in its lexicographic order, with no whitespace: both the
/// `jwk` of a DPoP proof's header and the input of its thumbprint.
pub(crate) fn public_jwk<T: HasPublic>(pkey: &PKeyRef<T>, key_type: KeyType) -> Result<String> {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let failed = |_| Error::key("OpenSSL could not export the public key");
    Ok(match key_type {
        KeyType::Rsa { .. } => {
            let rsa = pkey.rsa().map_err(failed)?;
            format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                b64(&rsa.e().to_vec()),
                b64(&rsa.n().to_vec())
            )
        }
        KeyType::Ec(curve) => {
            let ec = pkey.ec_key().map_err(failed)?;
            let mut ctx = BigNumContext::new().map_err(failed)?;
            let (mut x, mut y) = (
                BigNum::new().map_err(failed)?,
                BigNum::new().map_err(failed)?,
            );
            ec.public_key()
                .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
                .map_err(failed)?;
            let len = i32::try_from(curve.scalar_len()).expect("small");
            format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                curve.name(),
                b64(&x.to_vec_padded(len).map_err(failed)?),
                b64(&y.to_vec_padded(len).map_err(failed)?)
            )
        }
        KeyType::Ed25519 => format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
            b64(&pkey.raw_public_key().map_err(failed)?)
        ),
    })
}

/// A public key given as PEM (`PUBLIC KEY`, SPKI) or bare base64 of its
/// DER, and its type (P-256/P-384/P-521, RSA of at least 2048 bits,
/// Ed25519).
pub(crate) fn parse_public_key(text: &str) -> Result<(PKey<Public>, KeyType)> {
    let text = text.trim();
    let pkey = if text.contains("-----BEGIN") {
        PKey::public_key_from_pem(text.as_bytes())
    } else {
        let der = super::pem::decode_base64(text)
            .map_err(|_| Error::key("the public key is neither PEM nor base64 of DER"))?;
        PKey::public_key_from_der(&der)
    }
    .map_err(|_| {
        Error::key("the public key is not a PEM or DER public key (SubjectPublicKeyInfo)")
    })?;
    let key_type = public_key_type(&pkey)?;
    Ok((pkey, key_type))
}

/// The type of a public key (P-256/P-384/P-521, RSA of at least 2048 bits,
/// Ed25519).
pub(crate) fn public_key_type(pkey: &PKeyRef<Public>) -> Result<KeyType> {
    Ok(match pkey.id() {
        Id::RSA => {
            let bits = pkey.bits();
            if bits < super::MIN_RSA_BITS {
                return Err(Error::key(format!(
                    "the public key is RSA-{bits}; at least RSA-{} is required",
                    super::MIN_RSA_BITS
                )));
            }
            KeyType::Rsa { bits }
        }
        Id::EC => {
            let ec = pkey.ec_key().map_err(openssl_key_error)?;
            let curve = ec
                .group()
                .curve_name()
                .and_then(Curve::from_nid)
                .ok_or_else(|| Error::key("the public key's curve is not P-256, P-384 or P-521"))?;
            KeyType::Ec(curve)
        }
        Id::ED25519 => KeyType::Ed25519,
        _ => {
            return Err(Error::key(
                "the public key is not an RSA, EC or Ed25519 key",
            ))
        }
    })
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
    use super::super::test_support::*;
    use super::super::Algorithm;

    use openssl::nid::Nid;

    use serde_json::Value;

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
}
