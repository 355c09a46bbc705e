//! Keys of every type and format for the unit tests of `keys`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;

use super::{Curve, PrivateKey};
use crate::error::Error;
use crate::ErrorKind;

pub(crate) fn b64(der: &[u8]) -> String {
    STANDARD.encode(der)
}

pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn pem(label: &str, der: &[u8]) -> String {
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

pub(crate) fn ec_key(nid: Nid) -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap()
}

pub(crate) fn rsa_key(bits: u32) -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
}

pub(crate) fn ed_key() -> PKey<Private> {
    PKey::generate_ed25519().unwrap()
}

pub(crate) fn parse_ok(text: &str) -> PrivateKey {
    match PrivateKey::parse(text) {
        Ok(k) => k,
        Err(e) => panic!("parse failed: {e}"),
    }
}

pub(crate) fn parse_err(text: &str) -> Error {
    let e = PrivateKey::parse(text).expect_err("parse should fail");
    assert_eq!(e.kind(), ErrorKind::Key, "{e}");
    e
}

pub(crate) fn same_key(parsed: &PrivateKey, original: &PKey<Private>) {
    assert!(
        parsed.pkey.public_eq(original),
        "the parsed key is a different key"
    );
}

pub(crate) fn ec_jwk(key: &PKey<Private>, crv: &str, extra: &str) -> String {
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

pub(crate) fn rsa_jwk(key: &PKey<Private>, extra: &str) -> String {
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
