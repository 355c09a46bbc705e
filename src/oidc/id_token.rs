//! ID token validation (OpenID Connect Core 1.0 §3.1.3.7, §3.1.3.6 and
//! §3.3.2.11): the signature, then every claim the relying party must
//! check. Each refusal is a `Response` error that names the rule broken.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::memcmp;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::jose::{Compact, Jwks};
use crate::keys::{Algorithm, Hash};

fn refused(rule: &str) -> Error {
    Error::new(
        ErrorKind::Response,
        format!("the ID token is refused: {rule}"),
    )
}

/// What a valid ID token must say, and how to check its signature.
pub(crate) struct Expected<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    /// The `nonce` sent with the authorization request, if one was.
    pub(crate) nonce: Option<&'a str>,
    /// The `max_age` sent with the authorization request, if one was.
    pub(crate) max_age: Option<u64>,
    /// The access token and code that came with it, for `at_hash` and `c_hash`.
    pub(crate) access_token: Option<&'a str>,
    pub(crate) code: Option<&'a str>,
    /// The algorithms the issuer says it signs ID tokens with (empty: not
    /// said; RS256 and the asymmetric algorithms are then accepted).
    pub(crate) algorithms: &'a [String],
    /// The client secret, for HS* ID tokens; `None`: HS* is refused.
    pub(crate) secret: Option<&'a [u8]>,
    pub(crate) now: SystemTime,
    /// Leeway for `exp`, `iat`, `nbf` and `auth_time`.
    pub(crate) skew: Duration,
}

/// The keys of the issuer: the cached set, or (`refetch`) a newer one for a
/// `kid` the cached set lacks.
pub(crate) type KeySource<'a> = dyn FnMut(bool) -> Result<Arc<Jwks>> + 'a;

fn seconds(now: SystemTime) -> i64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn number(claims: &Value, name: &str) -> Result<Option<i64>> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| refused(&format!("{name} is not a number"))),
    }
}

/// The left half of the hash of `value`, base64url: `at_hash` and `c_hash`
/// (§3.1.3.6, §3.3.2.11).
fn half_hash(alg: Algorithm, value: &str) -> String {
    let digest = match alg.hash() {
        Some(Hash::Sha256) => openssl::sha::sha256(value.as_bytes()).to_vec(),
        Some(Hash::Sha384) => openssl::sha::sha384(value.as_bytes()).to_vec(),
        // EdDSA (Ed25519) pairs with SHA-512, as the OpenID Foundation's
        // errata for at_hash say.
        Some(Hash::Sha512) | None => openssl::sha::sha512(value.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

fn check_hash(claims: &Value, name: &str, alg: Algorithm, value: Option<&str>) -> Result<()> {
    let (Some(claimed), Some(value)) = (claims.get(name), value) else {
        return Ok(());
    };
    let claimed = claimed
        .as_str()
        .ok_or_else(|| refused(&format!("{name} is not a string")))?;
    let want = half_hash(alg, value);
    if claimed.len() != want.len() || !memcmp::eq(claimed.as_bytes(), want.as_bytes()) {
        return Err(refused(&format!(
            "{name} does not match the {} that came with it",
            if name == "at_hash" {
                "access token"
            } else {
                "code"
            }
        )));
    }
    Ok(())
}

/// What a key set says of a signature.
enum Verdict {
    Good,
    /// No key of the set may verify it (its kid, type or curve).
    NoKey,
    /// Keys may, and none does.
    Bad,
}

fn verify_with(
    jws: &Compact<'_>,
    set: &Jwks,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<Verdict> {
    let mut candidates = set.candidates(kid, alg).peekable();
    if candidates.peek().is_none() {
        return Ok(Verdict::NoKey);
    }
    for key in candidates {
        if jws.verifies_with(alg, key)? {
            return Ok(Verdict::Good);
        }
    }
    Ok(Verdict::Bad)
}

/// Validates `id_token` and returns its claims (JSON text).
pub(crate) fn validate(
    id_token: &str,
    expected: &Expected<'_>,
    keys: &mut KeySource<'_>,
) -> Result<String> {
    crate::audit::secret(id_token);
    let jws = Compact::parse("the ID token", id_token)?;
    let alg = jws.algorithm("the ID token")?;
    let allowed = if expected.algorithms.is_empty() {
        !alg.is_hmac() || expected.secret.is_some()
    } else {
        expected.algorithms.iter().any(|a| a == alg.name())
    };
    if !allowed {
        return Err(refused(&format!(
            "it is signed with {alg}, which the issuer does not list in \
             id_token_signing_alg_values_supported"
        )));
    }
    if alg.is_hmac() {
        let secret = expected.secret.ok_or_else(|| {
            refused(&format!(
                "it is signed with {alg}, but the client has no client secret"
            ))
        })?;
        if !jws.verifies_with_secret(alg, secret)? {
            return Err(refused(
                "its HMAC signature does not verify with the client secret",
            ));
        }
    } else {
        let kid = jws.kid();
        let mut verdict = verify_with(&jws, &*keys(false)?, kid, alg)?;
        // A kid the cached set lacks, or (without a kid) no key that
        // verifies: the issuer may have rotated its keys. The source
        // fetches the set again at most every 10 s. (A known kid whose key
        // does not verify is a bad signature: no new set helps.)
        let maybe_rotated = match verdict {
            Verdict::Good => false,
            Verdict::NoKey => true,
            Verdict::Bad => kid.is_none(),
        };
        if maybe_rotated {
            verdict = verify_with(&jws, &*keys(true)?, kid, alg)?;
        }
        match verdict {
            Verdict::Good => {}
            Verdict::NoKey => {
                return Err(refused(&match kid {
                    Some(kid) => format!("the issuer's JWKS has no {alg} key with kid {kid:?}"),
                    None => format!("the issuer's JWKS has no {alg} key"),
                }))
            }
            Verdict::Bad => return Err(refused(&format!("its {alg} signature does not verify"))),
        }
    }
    let claims_text =
        std::str::from_utf8(&jws.payload).map_err(|_| refused("its claims are not UTF-8"))?;
    let claims: Value = serde_json::from_str(claims_text)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| refused("its claims are not a JSON object"))?;
    check_claims(&claims, alg, expected)?;
    Ok(claims_text.to_string())
}

fn check_claims(claims: &Value, alg: Algorithm, expected: &Expected<'_>) -> Result<()> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    match text("iss") {
        Some(iss) if iss == expected.issuer => {}
        Some(iss) => {
            return Err(refused(&format!(
                "iss is {iss:?}, not the issuer {:?}",
                expected.issuer
            )))
        }
        None => return Err(refused("it has no iss")),
    }
    if text("sub").is_none_or(str::is_empty) {
        return Err(refused("it has no sub"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => return Err(refused("it has no aud")),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(refused(&format!(
            "aud does not contain the client id {:?}",
            expected.client_id
        )));
    }
    match text("azp") {
        Some(azp) if azp != expected.client_id => {
            return Err(refused(&format!(
                "azp is {azp:?}, not the client id {:?}",
                expected.client_id
            )))
        }
        None if audiences.len() > 1 => return Err(refused("it has several audiences but no azp")),
        _ => {}
    }
    let now = seconds(expected.now);
    let skew = i64::try_from(expected.skew.as_secs()).unwrap_or(0);
    let exp = number(claims, "exp")?.ok_or_else(|| refused("it has no exp"))?;
    if now - skew >= exp {
        return Err(refused(&format!("it expired (exp {exp}, now {now})")));
    }
    let iat = number(claims, "iat")?.ok_or_else(|| refused("it has no iat"))?;
    if iat > now + skew {
        return Err(refused(&format!("iat {iat} is in the future (now {now})")));
    }
    if let Some(nbf) = number(claims, "nbf")? {
        if nbf > now + skew {
            return Err(refused(&format!(
                "it is not valid before nbf {nbf} (now {now})"
            )));
        }
    }
    match (expected.nonce, text("nonce")) {
        (Some(want), Some(got)) => {
            if want.len() != got.len() || !memcmp::eq(want.as_bytes(), got.as_bytes()) {
                return Err(refused(
                    "nonce is not the one sent with the authorization request",
                ));
            }
        }
        (Some(_), None) => return Err(refused("it has no nonce, and one was sent")),
        (None, _) => {}
    }
    if let Some(max_age) = expected.max_age {
        let auth_time = number(claims, "auth_time")?
            .ok_or_else(|| refused("it has no auth_time, and max_age was sent"))?;
        let max_age = i64::try_from(max_age).unwrap_or(i64::MAX);
        if auth_time.saturating_add(max_age) < now - skew {
            return Err(refused(&format!(
                "the user authenticated at {auth_time}, longer ago than max_age {max_age} s"
            )));
        }
    }
    check_hash(claims, "at_hash", alg, expected.access_token)?;
    check_hash(claims, "c_hash", alg, expected.code)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::hash::MessageDigest;
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use openssl::sign::Signer;
    use serde_json::json;

    const ISS: &str = "https://idp.example.com";
    const CLIENT: &str = "client-1";
    const NOW: u64 = 1_800_000_000;

    struct Keys {
        rsa: PKey<Private>,
        set: Arc<Jwks>,
    }

    fn keys() -> Keys {
        let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let r = rsa.rsa().unwrap();
        let set = format!(
            r#"{{"keys":[{{"kty":"RSA","kid":"k1","n":"{}","e":"{}"}}]}}"#,
            URL_SAFE_NO_PAD.encode(r.n().to_vec()),
            URL_SAFE_NO_PAD.encode(r.e().to_vec())
        );
        Keys {
            rsa,
            set: Arc::new(Jwks::parse(set.as_bytes()).unwrap()),
        }
    }

    /// A token signed by OpenSSL directly (not by tokenclient's code).
    fn rs256(key: &PKey<Private>, header: Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut s = Signer::new(MessageDigest::sha256(), key).unwrap();
        let sig = s.sign_oneshot_to_vec(input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn hs256(secret: &[u8], claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let pkey = PKey::hmac(secret).unwrap();
        let mut s = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
        let sig = s.sign_oneshot_to_vec(input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn good_claims() -> Value {
        let now = NOW as i64;
        json!({
            "iss": ISS, "sub": "user-1", "aud": CLIENT, "exp": now + 600, "iat": now - 5,
            "nonce": "n-1", "auth_time": now - 60,
            "at_hash": half_hash(Algorithm::RS256, "AT"), "c_hash": half_hash(Algorithm::RS256, "CODE"),
        })
    }

    fn expected<'a>(algorithms: &'a [String], secret: Option<&'a [u8]>) -> Expected<'a> {
        Expected {
            issuer: ISS,
            client_id: CLIENT,
            nonce: Some("n-1"),
            max_age: Some(3600),
            access_token: Some("AT"),
            code: Some("CODE"),
            algorithms,
            secret,
            now: UNIX_EPOCH + Duration::from_secs(NOW),
            skew: Duration::from_secs(5),
        }
    }

    fn run(token: &str, e: &Expected<'_>, k: &Keys) -> Result<String> {
        let set = k.set.clone();
        validate(token, e, &mut |_| Ok(set.clone()))
    }

    /// A valid token passes; each token that breaks exactly one rule is
    /// refused with an error naming that rule.
    #[test]
    fn each_rule_refuses_the_token_that_breaks_it() {
        let k = keys();
        let header = json!({"alg": "RS256", "kid": "k1"});
        let algs = vec!["RS256".to_string()];
        let e = expected(&algs, None);
        let claims = run(&rs256(&k.rsa, header.clone(), &good_claims()), &e, &k).unwrap();
        assert!(claims.contains("user-1"));

        let now = NOW as i64;
        let broken: Vec<(&str, Value, &str)> = vec![
            ("iss", json!("https://evil.example.com"), "iss is"),
            ("aud", json!("someone-else"), "aud does not contain"),
            (
                "aud",
                json!([CLIENT, "other"]),
                "several audiences but no azp",
            ),
            ("azp", json!("other"), "azp is"),
            ("exp", json!(now - 10), "expired"),
            ("exp", Value::Null, "exp is not a number"),
            ("iat", json!(now + 600), "in the future"),
            ("nbf", json!(now + 600), "not valid before"),
            ("nonce", json!("n-2"), "nonce is not the one"),
            ("auth_time", json!(now - 7200), "longer ago than max_age"),
            (
                "at_hash",
                json!(half_hash(Algorithm::RS256, "OTHER")),
                "at_hash does not match",
            ),
            ("c_hash", json!("xx"), "c_hash does not match"),
            ("sub", json!(""), "no sub"),
        ];
        for (name, value, needle) in broken {
            let mut c = good_claims();
            c[name] = value;
            let err = run(&rs256(&k.rsa, header.clone(), &c), &e, &k).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Response, "{name}");
            assert!(err.message().contains(needle), "{name}: {err}");
        }
        for missing in ["iss", "aud", "exp", "iat", "nonce", "auth_time"] {
            let mut c = good_claims();
            c.as_object_mut().unwrap().remove(missing);
            let err = run(&rs256(&k.rsa, header.clone(), &c), &e, &k).unwrap_err();
            assert!(
                err.message().contains(&format!("no {missing}")),
                "{missing}: {err}"
            );
        }
        // Within the skew: exp 3 s ago and iat 3 s ahead pass.
        let mut c = good_claims();
        c["exp"] = json!(now - 3);
        c["iat"] = json!(now + 3);
        run(&rs256(&k.rsa, header.clone(), &c), &e, &k).unwrap();
        // Several audiences with azp = client id pass.
        let mut c = good_claims();
        c["aud"] = json!(["other", CLIENT]);
        c["azp"] = json!(CLIENT);
        run(&rs256(&k.rsa, header.clone(), &c), &e, &k).unwrap();
    }

    #[test]
    fn signatures_keys_and_algorithms() {
        let k = keys();
        let algs = vec!["RS256".to_string()];
        let e = expected(&algs, None);
        // Another key's signature.
        let other = keys();
        let err = run(
            &rs256(
                &other.rsa,
                json!({"alg":"RS256","kid":"k1"}),
                &good_claims(),
            ),
            &e,
            &k,
        )
        .unwrap_err();
        assert!(err.message().contains("signature does not verify"), "{err}");
        // An unknown kid: the set is fetched again once, then refused.
        let mut refetched = 0;
        let set = k.set.clone();
        let token = rs256(&k.rsa, json!({"alg":"RS256","kid":"k9"}), &good_claims());
        let err = validate(&token, &e, &mut |again| {
            refetched += usize::from(again);
            Ok(set.clone())
        })
        .unwrap_err();
        assert_eq!(refetched, 1);
        assert!(
            err.message().contains("no RS256 key with kid \"k9\""),
            "{err}"
        );
        // alg outside the metadata's list; HS256 without a secret; alg none.
        let ps = vec!["PS256".to_string()];
        let err = run(
            &rs256(&k.rsa, json!({"alg":"RS256","kid":"k1"}), &good_claims()),
            &expected(&ps, None),
            &k,
        )
        .unwrap_err();
        assert!(err.message().contains("does not list"), "{err}");
        let secret = b"0123456789abcdef0123456789abcdef";
        let token = hs256(secret, &good_claims());
        let err = run(&token, &expected(&[], None), &k).unwrap_err();
        assert!(err.message().contains("HS256"), "{err}");
        // HS256 with the client secret passes (at_hash recomputed for HS256: same SHA-256).
        run(&token, &expected(&[], Some(secret)), &k).unwrap();
        let err = run(
            &token,
            &expected(&[], Some(b"another-secret-another-secret-xx")),
            &k,
        )
        .unwrap_err();
        assert!(
            err.message().contains("HMAC signature does not verify"),
            "{err}"
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(good_claims().to_string())
        );
        assert!(run(&none, &e, &k)
            .unwrap_err()
            .message()
            .contains("alg none"));
        // Garbage never panics.
        for bad in ["", "a.b.c", "...", "e30.e30.e30", "a.b.c.d.e"] {
            assert_eq!(
                run(bad, &e, &k).unwrap_err().kind(),
                ErrorKind::Response,
                "{bad:?}"
            );
        }
    }
}
