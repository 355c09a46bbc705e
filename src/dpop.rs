//! DPoP (RFC 9449): the key a client proves possession of, the proofs it
//! signs for each request, and the nonces servers hand out for them.
#![forbid(unsafe_code)]

use std::sync::{Mutex, PoisonError};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, PKeyRef, Public};
use std::sync::Arc;

use crate::signer::Signer;
use openssl::sha::sha256;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::jose::JwsSigner;
use crate::keys::{public_jwk, Algorithm, Curve, KeyType, PrivateKey};
use crate::url::check_endpoint;

/// The longest `DPoP-Nonce` accepted, bytes. RFC 9449 sets no limit; real
/// nonces are tens of bytes, and a server's value is repeated in every
/// proof, so a huge one is refused rather than carried.
pub(crate) const MAX_NONCE: usize = 512;

/// Origins whose nonce is remembered at most; the one unused longest goes.
const MAX_ORIGINS: usize = 100;

/// A DPoP key: its signer, whose JOSE header carries `typ: dpop+jwt` and
/// the public JWK, and the JWK's SHA-256 thumbprint (RFC 7638), which is
/// what a bound token's `cnf.jkt` names.
pub(crate) struct DpopKey {
    signer: JwsSigner,
    thumbprint: String,
    /// The last access token a proof was made for, and its `ath`: a
    /// resource client sends the same token many times over.
    last_ath: Mutex<Option<(Zeroizing<String>, String)>>,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.signer.algorithm())
            .field("jkt", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    jti: &'a str,
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

impl DpopKey {
    /// A new P-256 key (ES256), made here and kept only in memory.
    pub(crate) fn generate() -> Result<DpopKey> {
        let failed = |_| Error::key("OpenSSL could not generate a P-256 key");
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(failed)?;
        let ec = EcKey::generate(&group).map_err(failed)?;
        let key = PrivateKey {
            pkey: PKey::from_ec_key(ec).map_err(failed)?,
            key_type: KeyType::Ec(Curve::P256),
            jwk_alg: None,
            jwk_kid: None,
        };
        DpopKey::new(key, None)
    }

    /// A key in any format the library reads (PEM, one-line PEM, base64
    /// DER, JWK), with `alg` (None: the key's default, ES256 for P-256).
    pub(crate) fn parse(text: &str, alg: Option<Algorithm>) -> Result<DpopKey> {
        DpopKey::new(PrivateKey::parse(text)?, alg)
    }

    fn new(key: PrivateKey, alg: Option<Algorithm>) -> Result<DpopKey> {
        let alg = key.choose_algorithm(alg)?;
        let jwk = public_jwk(&key.pkey, key.key_type)?;
        DpopKey::with(JwsSigner::asymmetric(key, alg, None)?, &jwk)
    }

    /// A key held elsewhere (a callback, a PKCS#11 token): `signer` signs
    /// the proofs with `alg`; `public` is its public half, named in them.
    pub(crate) fn external(
        signer: Arc<dyn Signer>,
        alg: Algorithm,
        public: &PKeyRef<Public>,
        key_type: KeyType,
    ) -> Result<DpopKey> {
        key_type.require(alg)?;
        let jwk = public_jwk(public, key_type)?;
        DpopKey::with(JwsSigner::external(signer, alg, None)?, &jwk)
    }

    /// `signer` with the DPoP header of `jwk` (the public key, RFC 7638 form).
    fn with(signer: JwsSigner, jwk: &str) -> Result<DpopKey> {
        let thumbprint = URL_SAFE_NO_PAD.encode(sha256(jwk.as_bytes()));
        let alg = signer.algorithm();
        let header = format!(r#"{{"alg":"{}","typ":"dpop+jwt","jwk":{jwk}}}"#, alg.name());
        Ok(DpopKey {
            signer: signer.with_header(&header),
            thumbprint,
            last_ath: Mutex::new(None),
        })
    }

    /// The JWK SHA-256 thumbprint (base64url), the `jkt` of bound tokens.
    pub(crate) fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    #[cfg(test)]
    pub(crate) fn algorithm(&self) -> Algorithm {
        self.signer.algorithm()
    }

    /// A proof for one request: `method` to `url` (its query and fragment
    /// left out of `htu`), with `ath` when `access_token` is given (a
    /// resource request) and the server's `nonce` if any.
    pub(crate) fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String> {
        check_method(method)?;
        let htu = htu(url)?;
        if let Some(nonce) = nonce {
            check_nonce(nonce)?;
        }
        let ath = access_token.map(|t| self.ath(t));
        let mut jti = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let claims = Claims {
            jti: crate::random::uuid_v4().hyphenated().encode_lower(&mut jti),
            htm: method,
            htu,
            iat: crate::oauth::now(),
            ath: ath.as_deref(),
            nonce,
        };
        let json = serde_json::to_vec(&claims).expect("claims always serialize");
        self.signer.sign_compact(&json)
    }
}

impl DpopKey {
    /// The `ath` of `token`: base64url SHA-256 (RFC 9449 §4.2).
    fn ath(&self, token: &str) -> String {
        let mut last = self.last_ath.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((t, ath)) = last.as_ref() {
            if t.as_str() == token {
                return ath.clone();
            }
        }
        let ath = URL_SAFE_NO_PAD.encode(sha256(token.as_bytes()));
        *last = Some((Zeroizing::new(token.to_string()), ath.clone()));
        ath
    }
}

/// An HTTP method as RFC 9110 spells one: a token, here of at most 32
/// letters (e.g. `GET`, `POST`).
fn check_method(method: &str) -> Result<()> {
    let ok = !method.is_empty()
        && method.len() <= 32
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            "the HTTP method is not a method name (e.g. GET or POST)",
        ))
    }
}

/// The proof's `htu`: `url` without its query and fragment (RFC 9449
/// §4.2), which must be an `https://` URL (or `http://` to loopback).
fn htu(url: &str) -> Result<&str> {
    let htu = url.split(['?', '#']).next().unwrap_or(url);
    check_endpoint("the request URL", htu)?;
    Ok(htu)
}

/// `scheme://authority` of `url`: what a nonce belongs to (compared
/// without regard to case).
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// A nonce as RFC 9449 §8.1 allows one (`1*NQCHAR`: visible ASCII but `"`
/// and `\`), at most `MAX_NONCE` bytes.
pub(crate) fn check_nonce(nonce: &str) -> Result<()> {
    if nonce.is_empty() || nonce.len() > MAX_NONCE {
        return Err(Error::new(
            ErrorKind::Response,
            format!(
                "the DPoP nonce has {} bytes; 1 to {MAX_NONCE} are accepted",
                nonce.len()
            ),
        ));
    }
    if !nonce
        .bytes()
        .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
    {
        return Err(Error::new(
            ErrorKind::Response,
            "the DPoP nonce has characters RFC 9449 does not allow",
        ));
    }
    Ok(())
}

/// The last nonce each origin gave, for the next proof sent there.
#[derive(Default)]
pub(crate) struct Nonces {
    entries: Mutex<(Vec<Remembered>, u64)>,
}

/// (origin, nonce, when last used: a counter), at most `MAX_ORIGINS`.
type Remembered = (String, String, u64);

impl Nonces {
    /// The nonce of `url`'s origin, if one was given.
    pub(crate) fn get(&self, url: &str) -> Option<String> {
        let origin = origin(url);
        let mut guard = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (entries, clock) = &mut *guard;
        *clock += 1;
        let entry = entries
            .iter_mut()
            .find(|(o, _, _)| o.eq_ignore_ascii_case(origin))?;
        entry.2 = *clock;
        Some(entry.1.clone())
    }

    /// Remembers `nonce` for `url`'s origin (checked: a malformed or huge
    /// one is refused with a `Response` error and not kept).
    pub(crate) fn set(&self, url: &str, nonce: &str) -> Result<()> {
        check_nonce(nonce)?;
        let origin = origin(url);
        let mut guard = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (entries, clock) = &mut *guard;
        *clock += 1;
        if let Some(entry) = entries
            .iter_mut()
            .find(|(o, _, _)| o.eq_ignore_ascii_case(origin))
        {
            entry.1 = nonce.to_string();
            entry.2 = *clock;
            return Ok(());
        }
        if entries.len() >= MAX_ORIGINS {
            let oldest = (0..entries.len())
                .min_by_key(|&i| entries[i].2)
                .expect("not empty");
            entries.swap_remove(oldest);
        }
        entries.push((origin.to_ascii_lowercase(), nonce.to_string(), *clock));
        Ok(())
    }
}

/// Whether a `WWW-Authenticate` value holds a `DPoP` challenge with
/// `error="use_dpop_nonce"` (RFC 9449 §9): the resource server wants the
/// request again with its nonce.
pub(crate) fn asks_for_nonce(www_authenticate: &str) -> bool {
    let mut in_dpop = false;
    for (scheme, name, value) in challenge_params(www_authenticate) {
        if let Some(scheme) = scheme {
            in_dpop = scheme.eq_ignore_ascii_case("dpop");
        }
        if in_dpop && name.eq_ignore_ascii_case("error") && value == "use_dpop_nonce" {
            return true;
        }
    }
    false
}

/// The auth-params of a `WWW-Authenticate` value (RFC 9110 §11.6.1), each
/// with the scheme it starts, if it is the first of its challenge.
fn challenge_params(header: &str) -> Vec<(Option<&str>, &str, String)> {
    let mut out = Vec::new();
    let mut rest = header.trim_start();
    let mut scheme: Option<&str> = None;
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        let end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let word = &rest[..end];
        let after = rest[end..].trim_start_matches([' ', '\t']);
        if word.is_empty() {
            break;
        }
        if !after.starts_with('=') {
            // A scheme: a new challenge begins.
            scheme = Some(word);
            rest = after;
            continue;
        }
        let mut value = String::new();
        let mut tail = after[1..].trim_start_matches([' ', '\t']);
        if let Some(quoted) = tail.strip_prefix('"') {
            let mut chars = quoted.char_indices();
            let mut consumed = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        consumed = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            tail = &quoted[consumed..];
        } else {
            let end = tail.find([',', ' ', '\t']).unwrap_or(tail.len());
            value.push_str(&tail[..end]);
            tail = &tail[end..];
        }
        out.push((scheme.take(), word, value));
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn proof_has_the_header_and_claims_of_rfc9449() {
        let key = DpopKey::generate().unwrap();
        let proof = key
            .proof(
                "POST",
                "https://as.example/token?x=1#f",
                Some("tok"),
                Some("n-1"),
            )
            .unwrap();
        let parts: Vec<&str> = proof.split('.').collect();
        let header = decode(parts[0]);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"]["kty"], "EC");
        assert_eq!(header["jwk"]["crv"], "P-256");
        assert!(header["jwk"].get("d").is_none(), "no private part");
        let claims = decode(parts[1]);
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://as.example/token");
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(
            claims["ath"],
            URL_SAFE_NO_PAD.encode(sha256(b"tok")).as_str()
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 64);
        let again = decode(
            key.proof("GET", "https://as.example/x", None, None)
                .unwrap()
                .split('.')
                .nth(1)
                .unwrap(),
        );
        assert_ne!(again["jti"], claims["jti"]);
        assert!(again.get("ath").is_none() && again.get("nonce").is_none());
    }

    #[test]
    fn ath_follows_the_token() {
        let key = DpopKey::generate().unwrap();
        for token in ["a", "b", "a", "a", "c"] {
            let proof = key
                .proof("GET", "https://rs.example/", Some(token), None)
                .unwrap();
            let claims = decode(proof.split('.').nth(1).unwrap());
            assert_eq!(
                claims["ath"],
                URL_SAFE_NO_PAD.encode(sha256(token.as_bytes())).as_str()
            );
        }
    }

    #[test]
    fn thumbprint_is_rfc7638() {
        // RFC 7638 §3.1's example key and thumbprint.
        let jwk = r#"{"kty":"RSA","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","d":"X4cTteJY_gn4FYPsXB8rdXix5vwsg1FLN5E3EaG6RJoVH-HLLKD9M7dx5oo7GURknchnrRweUkC7hT5fJLM0WbFAKNLWY2vv7B6NqXSzUvxT0_YSfqijwp3RTzlBaCxWp4doFk5N2o8Gy_nHNKroADIkJ46pRUohsXywbReAdYaMwFs9tv8d_cPVY3i07a3t8MN6TNwm0dSawm9v47UiCl3Sk5ZiG7xojPLu4sbg1U2jx4IBTNBznbJSzFHK66jT8bgkuqsk0GjskDJk19Z4qwjwbsnn4j2WBii3RL-Us2lGVkY8fkFzme1z0HbIkfz0Y6mqnOYtqc0X4jfcKoAC8Q","p":"83i-7IvMGXoMXCskv73TKr8637FiO7Z27zv8oj6pbWUQyLPQBQxtPVnwD20R-60eTDmD2ujnMt5PoqMrm8RfmNhVWDtjjMmCMjOpSXicFHj7XOuVIYQyqVWlWEh6dN36GVZYk93N8Bc9vY41xy8B9RzzOGVQzXvNEvn7O0nVbfs","q":"3dfOR9cuYq-0S-mkFLzgItgMEfFzB2q3hWehMuG0oCuqnb3vobLyumqjVZQO1dIrdwgTnCdpYzBcOfW5r370AFXjiWft_NGEiovonizhKpo9VVS78TzFgxkIdrecRezsZ-1kYd_s1qDbxtkDEgfAITAG9LUnADun4vIcb6yelxk","dp":"G4sPXkc6Ya9y8oJW9_ILj4xuppu0lzi_H7VTkS8xj5SdX3coE0oimYwxIi2emTAue0UOa5dpgFGyBJ4c8tQ2VF402XRugKDTP8akYhFo5tAA77Qe_NmtuYZc3C3m3I24G2GvR5sSDxUyAN2zq8Lfn9EUms6rY3Ob8YeiKkTiBj0","dq":"s9lAH9fggBsoFR8Oac2R_E2gw282rT2kGOAhvIllETE1efrA6huUUvMfBcMpn8lqeW6vzznYY5SSQF7pMdC_agI3nG8Ibp1BUb0JUiraRNqUfLhcQb_d9GF4Dh7e74WbRsobRonujTYN1xCaP6TO61jvWrX-L18txXw494Q_cgk","qi":"GyM_p6JrXySiz1toFgKbWV-JdI3jQ4ypu9rbMWx3rQJBfmt0FoYzgUIZEVFEcOqwemRN81zoDAaa-Bk0KWNGDjJHZDdDmFhW3AN7lI-puxk_mHZGJ11rxyR8O55XLSe3SPmRfKwZI6yU24ZxvQKFYItdldUKGzO6Ia6zTKhAVRU"}"#;
        let key = DpopKey::parse(jwk, None).unwrap();
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(key.algorithm(), Algorithm::RS256);
    }

    #[test]
    fn bad_arguments_are_typed_errors() {
        let key = DpopKey::generate().unwrap();
        for (method, url, nonce) in [
            ("", "https://a/x", None),
            ("GET POST", "https://a/x", None),
            ("GET", "ftp://a/x", None),
            ("GET", "http://example.com/x", None),
            ("GET", "https://a/x", Some("has space")),
            ("GET", "https://a/x", Some("")),
        ] {
            assert!(
                key.proof(method, url, None, nonce).is_err(),
                "{method} {url} {nonce:?}"
            );
        }
        let huge = "n".repeat(MAX_NONCE + 1);
        assert_eq!(
            key.proof("GET", "https://a/x", None, Some(&huge))
                .unwrap_err()
                .kind(),
            ErrorKind::Response
        );
        assert!(DpopKey::parse("not a key", None).is_err());
        let p256 =
            openssl::ec::EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap())
                .unwrap();
        let pem = String::from_utf8(p256.private_key_to_pem().unwrap()).unwrap();
        assert_eq!(
            DpopKey::parse(&pem, None).unwrap().algorithm(),
            Algorithm::ES256
        );
        assert!(DpopKey::parse(&pem, Some(Algorithm::RS256)).is_err());
    }

    #[test]
    fn nonces_per_origin_bounded() {
        let nonces = Nonces::default();
        nonces.set("https://A.example:8443/token", "one").unwrap();
        assert_eq!(
            nonces.get("https://a.example:8443/other?x").as_deref(),
            Some("one")
        );
        assert_eq!(nonces.get("https://a.example/token"), None, "another port");
        assert_eq!(
            nonces.get("http://a.example:8443/token"),
            None,
            "another scheme"
        );
        assert!(nonces
            .set("https://b/x", &"x".repeat(MAX_NONCE + 1))
            .is_err());
        assert!(nonces.set("https://b/x", "a\"b").is_err());
        assert_eq!(nonces.get("https://b/x"), None);
        for i in 0..MAX_ORIGINS {
            nonces.set(&format!("https://h{i}/t"), "n").unwrap();
            // The first origin stays in use, so it is never the one dropped.
            assert!(nonces.get("https://a.example:8443/").is_some());
        }
        assert_eq!(nonces.entries.lock().unwrap().0.len(), MAX_ORIGINS);
        assert!(nonces.get("https://h0/t").is_none(), "the oldest went");
        assert!(nonces
            .get(&format!("https://h{}/t", MAX_ORIGINS - 1))
            .is_some());
    }

    #[test]
    fn www_authenticate_challenges() {
        assert!(asks_for_nonce(
            r#"DPoP error="use_dpop_nonce", error_description="x""#
        ));
        assert!(asks_for_nonce(
            r#"Bearer realm="r", DPoP algs="ES256", error="use_dpop_nonce""#
        ));
        assert!(asks_for_nonce("dpop error=use_dpop_nonce"));
        assert!(!asks_for_nonce(r#"Bearer error="use_dpop_nonce""#));
        assert!(!asks_for_nonce(r#"DPoP error="invalid_token""#));
        assert!(!asks_for_nonce(
            r#"DPoP error_description="use_dpop_nonce""#
        ));
        assert!(!asks_for_nonce(""));
        assert!(!asks_for_nonce("\"unterminated"));
    }
}
