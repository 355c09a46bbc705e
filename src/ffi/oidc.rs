//! OpenID Connect: a client made from an issuer, its metadata, and the
//! issuer's revocation, introspection and userinfo endpoints.

use std::ffi::c_char;

use super::call::{call_options, tokenclient_call_options};
use super::client::tokenclient_client;
use super::strings::into_owned_raw;
use super::{
    boundary, error::tokenclient_error, opt_str_arg, out_arg, ref_arg, str_arg, write_out,
};
use crate::client::{Call, Client};
use crate::error::Result;

/// Runs `run` with the checked client and options.
unsafe fn with_call(
    client: *const tokenclient_client,
    options: *const tokenclient_call_options,
    run: impl FnOnce(Call<'_>) -> Result<()>,
) -> *mut tokenclient_error {
    boundary(|| call_with(client, options, run))
}

unsafe fn call_with<T>(
    client: *const tokenclient_client,
    options: *const tokenclient_call_options,
    run: impl FnOnce(Call<'_>) -> Result<T>,
) -> Result<T> {
    let client = &ref_arg(client, "client")?.inner;
    let options = call_options(options)?;
    run(client.call(&options))
}

/// Runs `run` and writes the string it returns to `out` (checked first).
unsafe fn with_call_string(
    client: *const tokenclient_client,
    options: *const tokenclient_call_options,
    out: *mut *mut c_char,
    run: impl FnOnce(Call<'_>) -> Result<String>,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let text = call_with(client, options, run)?;
        write_out(out, into_owned_raw(text));
        Ok(())
    })
}

/// Creates a client of the authorization server `issuer`, identified as
/// `client_id`, from its metadata, and writes it to `*out`.
///
/// The metadata is fetched from `issuer` + `/.well-known/openid-configuration`
/// (OpenID Connect Discovery 1.0), else from RFC 8414's
/// `/.well-known/oauth-authorization-server` location, with the default
/// transport settings (the system's CAs, the proxy from the environment).
/// Its `issuer` must equal `issuer` exactly. The token endpoint comes from
/// it; so do the endpoints of `tokenclient_client_revoke`,
/// `tokenclient_client_introspect` and `tokenclient_client_userinfo`. The
/// document is kept for its `Cache-Control: max-age` (else an hour) and
/// then fetched again (`tokenclient_client_metadata`). Set credentials
/// before requesting tokens, as for `tokenclient_client_new`.
///
/// Ownership: on success `*out` is a new client; free it with
/// `tokenclient_client_free`. On error `*out` is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, invalid UTF-8, an
/// issuer that is neither `https://` nor `http://` to a loopback host, or an
/// empty client id; `TOKENCLIENT_ERROR_CONFIG` for a document that is not
/// valid metadata or names another issuer; `TOKENCLIENT_ERROR_HTTP` when
/// neither location publishes one; `TOKENCLIENT_ERROR_TRANSPORT`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_from_issuer(
    issuer: *const c_char,
    client_id: *const c_char,
    out: *mut *mut tokenclient_client,
) -> *mut tokenclient_error {
    tokenclient_client_from_issuer_ex(issuer, client_id, std::ptr::null(), out)
}

/// `tokenclient_client_from_issuer` with the options of this call (NULL:
/// the defaults; see `tokenclient_call_options`).
///
/// Ownership as for `tokenclient_client_from_issuer`.
/// Errors: as for `tokenclient_client_from_issuer`; also
/// `TOKENCLIENT_ERROR_CANCELLED`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_from_issuer_ex(
    issuer: *const c_char,
    client_id: *const c_char,
    options: *const tokenclient_call_options,
    out: *mut *mut tokenclient_client,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let options = call_options(options)?;
        let c = Client::from_issuer_with(
            str_arg(issuer, "issuer")?,
            str_arg(client_id, "client_id")?,
            &options,
        )?;
        write_out(
            out,
            Box::into_raw(Box::new(tokenclient_client { inner: c })),
        );
        Ok(())
    })
}

/// Writes the issuer's metadata document (JSON, as served) to `*out_json`:
/// the cached copy while fresh, else one fetched again (a failed fetch keeps
/// the cached copy and emits a `metadata.refresh.failed_kept_old` event).
///
/// Ownership: on success `*out_json` is a new string; free it with
/// `tokenclient_string_free`. On error it is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL;
/// `TOKENCLIENT_ERROR_CONFIG` for a client not made from an issuer.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_metadata(
    client: *const tokenclient_client,
    out_json: *mut *mut c_char,
) -> *mut tokenclient_error {
    tokenclient_client_metadata_ex(client, std::ptr::null(), out_json)
}

/// `tokenclient_client_metadata` with the options of this call (NULL: the
/// defaults; they bound a fetch it makes).
///
/// Ownership and errors as for `tokenclient_client_metadata`; also
/// `TOKENCLIENT_ERROR_CANCELLED`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_metadata_ex(
    client: *const tokenclient_client,
    options: *const tokenclient_call_options,
    out_json: *mut *mut c_char,
) -> *mut tokenclient_error {
    with_call_string(client, options, out_json, |c| {
        Ok(c.metadata()?.json.clone())
    })
}

/// Revokes `token` (RFC 7009) at the issuer's `revocation_endpoint`, with
/// the client's authentication. `token_type_hint` is "access_token",
/// "refresh_token" or NULL. A token the server does not know counts as
/// revoked (the server answers 200).
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, invalid UTF-8 or
/// an empty token; `TOKENCLIENT_ERROR_CONFIG` for a client not made from an
/// issuer, an issuer without a revocation endpoint, or no credentials;
/// `TOKENCLIENT_ERROR_OAUTH` (e.g. invalid_client), `TOKENCLIENT_ERROR_HTTP`,
/// `TOKENCLIENT_ERROR_TRANSPORT`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_revoke(
    client: *const tokenclient_client,
    token: *const c_char,
    token_type_hint: *const c_char,
) -> *mut tokenclient_error {
    tokenclient_client_revoke_ex(client, token, token_type_hint, std::ptr::null())
}

/// `tokenclient_client_revoke` with the options of this call (NULL: the
/// defaults; see `tokenclient_call_options`).
///
/// Errors: as for `tokenclient_client_revoke`; also `TOKENCLIENT_ERROR_CANCELLED`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_revoke_ex(
    client: *const tokenclient_client,
    token: *const c_char,
    token_type_hint: *const c_char,
    options: *const tokenclient_call_options,
) -> *mut tokenclient_error {
    with_call(client, options, |c| {
        c.revoke(
            str_arg(token, "token")?,
            opt_str_arg(token_type_hint, "token_type_hint")?,
        )
    })
}

/// Introspects `token` (RFC 7662) at the issuer's `introspection_endpoint`,
/// with the client's authentication, and writes the answer (a JSON object
/// with a boolean `active`) to `*out_json`.
///
/// Ownership: on success `*out_json` is a new string; free it with
/// `tokenclient_string_free`. On error it is not written.
/// Errors: as for `tokenclient_client_revoke` (NULL is
/// `TOKENCLIENT_ERROR_INVALID_ARGUMENT`, `token_type_hint` may be NULL; an
/// issuer without an introspection endpoint is `TOKENCLIENT_ERROR_CONFIG`); also
/// `TOKENCLIENT_ERROR_RESPONSE` for an answer that is not such an object.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_introspect(
    client: *const tokenclient_client,
    token: *const c_char,
    token_type_hint: *const c_char,
    out_json: *mut *mut c_char,
) -> *mut tokenclient_error {
    tokenclient_client_introspect_ex(client, token, token_type_hint, std::ptr::null(), out_json)
}

/// `tokenclient_client_introspect` with the options of this call (NULL:
/// the defaults; see `tokenclient_call_options`).
///
/// Ownership and errors as for `tokenclient_client_introspect`; also
/// `TOKENCLIENT_ERROR_CANCELLED`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_introspect_ex(
    client: *const tokenclient_client,
    token: *const c_char,
    token_type_hint: *const c_char,
    options: *const tokenclient_call_options,
    out_json: *mut *mut c_char,
) -> *mut tokenclient_error {
    with_call_string(client, options, out_json, |c| {
        c.introspect(
            str_arg(token, "token")?,
            opt_str_arg(token_type_hint, "token_type_hint")?,
        )
    })
}

/// Asks the issuer's `userinfo_endpoint` for the claims of `access_token`
/// (OpenID Connect Core §5.3, `Authorization: Bearer`) and writes them (a
/// JSON object) to `*out_json`.
///
/// Ownership: on success `*out_json` is a new string; free it with
/// `tokenclient_string_free`. On error it is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, invalid UTF-8 or an
/// empty token; `TOKENCLIENT_ERROR_CONFIG` for a client not made from an
/// issuer or an issuer without a userinfo endpoint; `TOKENCLIENT_ERROR_HTTP`
/// or `TOKENCLIENT_ERROR_OAUTH` (e.g. 401 invalid_token);
/// `TOKENCLIENT_ERROR_RESPONSE` for an answer that is not a JSON object;
/// `TOKENCLIENT_ERROR_TRANSPORT`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_userinfo(
    client: *const tokenclient_client,
    access_token: *const c_char,
    out_json: *mut *mut c_char,
) -> *mut tokenclient_error {
    tokenclient_client_userinfo_ex(client, access_token, std::ptr::null(), out_json)
}

/// `tokenclient_client_userinfo` with the options of this call (NULL: the
/// defaults; see `tokenclient_call_options`).
///
/// Ownership and errors as for `tokenclient_client_userinfo`; also
/// `TOKENCLIENT_ERROR_CANCELLED`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_userinfo_ex(
    client: *const tokenclient_client,
    access_token: *const c_char,
    options: *const tokenclient_call_options,
    out_json: *mut *mut c_char,
) -> *mut tokenclient_error {
    with_call_string(client, options, out_json, |c| {
        c.userinfo(str_arg(access_token, "access_token")?)
    })
}

/// Validates `id_token` as an ID token the issuer gave this client (OpenID
/// Connect Core §3.1.3.7) and writes its claims (a JSON object) to
/// `*out_claims_json`.
///
/// Checked: the signature, with the issuer's JWKS (from the metadata's
/// `jwks_uri`, cached for its max-age and fetched again, at most every
/// 10 s, for a `kid` it lacks: key rotation) or, for HS256/384/512, with
/// the client secret when the client has one; `alg` among the metadata's
/// `id_token_signing_alg_values_supported` and never `none`; `iss` equal
/// to the issuer; `aud` containing the client id (with several audiences,
/// `azp` equal to it); `exp`, `iat` and `nbf` against the wall clock, with
/// the clock-skew setting (`tokenclient_client_set_clock_skew`) as leeway;
/// `nonce` equal to `nonce` when `nonce` is not NULL.
///
/// Ownership: on success `*out_claims_json` is a new string; free it with
/// `tokenclient_string_free`. On error it is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL (`nonce` may be
/// NULL) or invalid UTF-8; `TOKENCLIENT_ERROR_CONFIG` for a client not made
/// from an issuer; `TOKENCLIENT_ERROR_RESPONSE` for a token that breaks a
/// rule, with a message that names the rule (never the token);
/// `TOKENCLIENT_ERROR_HTTP`/`TRANSPORT` when the JWKS cannot be fetched.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_validate_id_token(
    client: *const tokenclient_client,
    id_token: *const c_char,
    nonce: *const c_char,
    out_claims_json: *mut *mut c_char,
) -> *mut tokenclient_error {
    tokenclient_client_validate_id_token_ex(
        client,
        id_token,
        nonce,
        std::ptr::null(),
        out_claims_json,
    )
}

/// `tokenclient_client_validate_id_token` with the options of this call
/// (NULL: the defaults; they bound a JWKS fetch it makes).
///
/// Ownership and errors as for `tokenclient_client_validate_id_token`; also
/// `TOKENCLIENT_ERROR_CANCELLED`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_validate_id_token_ex(
    client: *const tokenclient_client,
    id_token: *const c_char,
    nonce: *const c_char,
    options: *const tokenclient_call_options,
    out_claims_json: *mut *mut c_char,
) -> *mut tokenclient_error {
    with_call_string(client, options, out_claims_json, |c| {
        c.validate_id_token(str_arg(id_token, "id_token")?, opt_str_arg(nonce, "nonce")?)
    })
}
