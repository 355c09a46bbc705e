//! Sender-constrained tokens: DPoP keys and proofs (RFC 9449), mutual-TLS
//! client authentication (RFC 8705), and what a token is bound to.

use std::ffi::{c_char, CStr};
use std::ptr;

use super::client::{auth_method, client, tokenclient_auth_method, tokenclient_client};
use super::strings::into_owned_raw;
use super::token::tokenclient_token;
use super::{boundary, error::tokenclient_error, guard, opt_str_arg, out_arg, str_arg, write_out};
use crate::error::Error;

/// Authenticates with the client certificate set by
/// `tokenclient_client_set_client_cert`: `method` is
/// `TOKENCLIENT_AUTH_TLS_CLIENT_AUTH` or
/// `TOKENCLIENT_AUTH_SELF_SIGNED_TLS_CLIENT_AUTH`. Requests carry
/// `client_id` in the body and no secret. Replaces other credentials. For
/// a client made from an issuer whose metadata has `mtls_endpoint_aliases`,
/// requests go to the aliases while a certificate is set.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client or
/// another method. A request without a certificate set fails with
/// `TOKENCLIENT_ERROR_CONFIG`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_tls_client_auth(
    client: *mut tokenclient_client,
    method: tokenclient_auth_method,
) -> *mut tokenclient_error {
    boundary(|| self::client(client)?.set_tls_client_auth(auth_method(method)?))
}

/// Makes every token request carry a DPoP proof (RFC 9449) of `key`, so
/// that tokens are bound to it (`token_type` "DPoP"): `key` in any format
/// `tokenclient_client_set_private_key` reads, or NULL to generate a P-256
/// key kept only in memory (wiped when the client is freed), or a PKCS#11
/// URI of a key in a token (see `tokenclient_client_set_private_key`; its
/// public key object of the same label/id is read for the proofs' JWK);
/// `alg` NULL for the key's default (ES256 for P-256; RS256 for RSA, PS256
/// allowed). A key behind a callback: `tokenclient_client_set_dpop_signer`.
/// Every grant sends a proof, a `use_dpop_nonce` answer is retried once at
/// once with the server's nonce (not counted by the retry policy), nonces
/// are kept per origin for the next proofs, and a token whose type is not
/// DPoP is a `TOKENCLIENT_ERROR_RESPONSE` unless
/// `tokenclient_client_set_dpop_allow_bearer`. Cached tokens are kept per
/// key. Replacing the key makes refresh tokens bound to the old one
/// unusable.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client, invalid
/// UTF-8, an unknown `alg`, or an `alg` other than ES256 with a NULL key;
/// `TOKENCLIENT_ERROR_KEY` for a key that cannot be read or an `alg` that
/// does not fit it (HMAC algorithms never do).
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_dpop_key(
    client: *mut tokenclient_client,
    key: *const c_char,
    alg: *const c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        let c = self::client(client)?;
        c.set_dpop_key(opt_str_arg(key, "key")?, opt_str_arg(alg, "alg")?)
    })
}

/// Whether a token of another type than DPoP is accepted when a DPoP proof
/// was sent (`allow` non-zero), for a server that does not bind tokens.
/// Default: refused.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_dpop_allow_bearer(
    client: *mut tokenclient_client,
    allow: i32,
) -> *mut tokenclient_error {
    boundary(|| self::client(client)?.set_dpop_allow_bearer(allow != 0))
}

/// Writes the DPoP key's JWK SHA-256 thumbprint (RFC 7638, base64url) to
/// `*out`: the `jkt` of tokens bound to it.
///
/// Ownership: on success `*out` is a new string; free it with
/// `tokenclient_string_free`. On error it is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL;
/// `TOKENCLIENT_ERROR_CONFIG` when the client has no DPoP key.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_dpop_thumbprint(
    client: *const tokenclient_client,
    out: *mut *mut c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let jkt = self::client(client)?
            .dpop_thumbprint()
            .ok_or_else(|| Error::config("the client has no DPoP key"))?;
        write_out(out, into_owned_raw(jkt));
        Ok(())
    })
}

/// Writes a new DPoP proof for a request of `method` (e.g. "GET") to `url`
/// to `*out_proof`: send it as the `DPoP` header. For a resource request
/// pass the `access_token` (its hash becomes the proof's `ath`) and send
/// `Authorization: DPoP <access token>` (`tokenclient_token_authorization`);
/// NULL for a token endpoint. `nonce` NULL uses the nonce `url`'s origin
/// gave last (see `tokenclient_client_dpop_answer`), if any. The proof's
/// `htu` is `url` without its query and fragment. Make a new proof for
/// every request: servers refuse a reused one.
///
/// Ownership: on success `*out_proof` is a new string; free it with
/// `tokenclient_string_free`. On error it is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL (but
/// `access_token`, `nonce`), invalid UTF-8, a method that is not a method
/// name, a URL that is not `https://` (or `http://` to loopback), an empty
/// access token; `TOKENCLIENT_ERROR_RESPONSE` for a malformed `nonce`;
/// `TOKENCLIENT_ERROR_CONFIG` when the client has no DPoP key.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_dpop_proof(
    client: *const tokenclient_client,
    method: *const c_char,
    url: *const c_char,
    access_token: *const c_char,
    nonce: *const c_char,
    out_proof: *mut *mut c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out_proof, "out_proof")?;
        let proof = self::client(client)?.dpop_proof(
            str_arg(method, "method")?,
            str_arg(url, "url")?,
            opt_str_arg(access_token, "access_token")?,
            opt_str_arg(nonce, "nonce")?,
        )?;
        write_out(out_proof, into_owned_raw(proof));
        Ok(())
    })
}

/// Reads a resource server's answer to a DPoP request to `url`: its
/// `DPoP-Nonce` header value (`dpop_nonce`, NULL when absent) is kept for
/// `url`'s origin, for the next `tokenclient_client_dpop_proof`; writes 1
/// to `*out_retry` when the answer is a nonce challenge (`http_status` 401
/// with a `WWW-Authenticate` value (`www_authenticate`, NULL when absent)
/// holding `DPoP error="use_dpop_nonce"`, and a nonce): send the request
/// once more with a new proof. Otherwise 0.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL (but the two
/// headers) or invalid UTF-8; `TOKENCLIENT_ERROR_RESPONSE` for a nonce that
/// is malformed or longer than 512 bytes (not kept; do not retry).
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_dpop_answer(
    client: *const tokenclient_client,
    url: *const c_char,
    http_status: u32,
    www_authenticate: *const c_char,
    dpop_nonce: *const c_char,
    out_retry: *mut i32,
) -> *mut tokenclient_error {
    boundary(|| {
        if out_retry.is_null() {
            return Err(Error::invalid_argument("out_retry is NULL"));
        }
        let retry = self::client(client)?.dpop_answer(
            str_arg(url, "url")?,
            u16::try_from(http_status).unwrap_or(0),
            opt_str_arg(www_authenticate, "www_authenticate")?,
            opt_str_arg(dpop_nonce, "dpop_nonce")?,
        )?;
        *out_retry = i32::from(retry);
        Ok(())
    })
}

/// What the token is bound to, as a JSON `cnf` object (RFC 7800):
/// `{"jkt": ...}` for a DPoP token, `{"x5t#S256": ...}` (the client
/// certificate's thumbprint) for one obtained over mutual TLS from a server
/// that binds tokens to certificates (its metadata's
/// `tls_client_certificate_bound_access_tokens`, or any server for a client
/// not made from an issuer), or both. NULL for a bearer token and for NULL.
/// Ownership: belongs to `token`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_cnf(token: *const tokenclient_token) -> *const c_char {
    guard(ptr::null(), || {
        token
            .as_ref()
            .and_then(|t| t.token().cnf_c())
            .map_or(ptr::null(), CStr::as_ptr)
    })
}

/// The `Authorization` header value for a resource request with the token:
/// "DPoP <access token>" for a DPoP token, else "Bearer <access token>".
/// A secret, like the access token. NULL for NULL.
/// Ownership: belongs to `token`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_authorization(
    token: *const tokenclient_token,
) -> *const c_char {
    guard(ptr::null(), || {
        token
            .as_ref()
            .map_or(ptr::null(), |t| t.token().authorization_c().as_ptr())
    })
}
