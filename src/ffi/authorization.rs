//! `tokenclient_authorization`: one authorization code request of a client
//! made from an issuer, from the URL to the callback.

use std::ffi::c_char;
use std::sync::Mutex;

use super::call::{call_options, tokenclient_call_options};
use super::client::tokenclient_client;
use super::strings::into_owned_raw;
use super::token::tokenclient_token;
use super::{
    boundary, error::tokenclient_error, guard, opt_str_arg, out_arg, ref_arg, str_arg, write_out,
};
use crate::client::Client;
use crate::oidc::Authorization;

/// An authorization request: its `state`, `nonce`, PKCE verifier and
/// parameters, and the client it belongs to (kept alive by it). Opaque;
/// create it with `tokenclient_authorization_new` (or `_import`), free it
/// with `tokenclient_authorization_free`. Functions taking a `const`
/// pointer may run from several threads at once; the others may not.
pub struct tokenclient_authorization {
    client: Client,
    auth: Mutex<Authorization>,
}

fn boxed(client: &Client, auth: Authorization) -> *mut tokenclient_authorization {
    Box::into_raw(Box::new(tokenclient_authorization {
        client: client.handle(),
        auth: Mutex::new(auth),
    }))
}

/// Starts an authorization request of `client` (made with
/// `tokenclient_client_from_issuer`) to come back to `redirect_uri`, for
/// `scope` (NULL: none; include "openid" for an ID token), and writes it to
/// `*out`. A new `state`, `nonce` and PKCE S256 verifier are drawn from the
/// OS's random source.
///
/// Ownership: on success `*out` is a new object; free it with
/// `tokenclient_authorization_free`. On error `*out` is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, invalid UTF-8, an
/// empty or control-character redirect URI or scope;
/// `TOKENCLIENT_ERROR_CONFIG` for a client not made from an issuer.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_authorization_new(
    client: *const tokenclient_client,
    redirect_uri: *const c_char,
    scope: *const c_char,
    out: *mut *mut tokenclient_authorization,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let c = &ref_arg(client, "client")?.inner;
        let auth = c.authorization(
            str_arg(redirect_uri, "redirect_uri")?,
            opt_str_arg(scope, "scope")?,
        )?;
        write_out(out, boxed(c, auth));
        Ok(())
    })
}

/// Adds a parameter to the request: `prompt`, `login_hint`, `acr_values`,
/// `resource`, `claims`, `max_age` (also checked against the ID token's
/// `auth_time`), ...; a name may repeat. The parameters the object sets
/// itself (`response_type`, `client_id`, `redirect_uri`, `scope`, `state`,
/// `nonce`, `code_challenge`, `code_challenge_method`, `request`,
/// `request_uri`) are refused.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, invalid UTF-8, an
/// empty name or value, a control character, a reserved name, a `max_age`
/// that is not a number, or more than 64 parameters.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_authorization_set_param(
    auth: *mut tokenclient_authorization,
    name: *const c_char,
    value: *const c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        let a = ref_arg(auth, "auth")?;
        let (name, value) = (str_arg(name, "name")?, str_arg(value, "value")?);
        a.auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .set_param(name, value)
    })
}

/// Sends the request by PAR (RFC 9126) when `use_par` is non-zero, even
/// when the issuer does not require it (when it does, PAR is always used).
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_authorization_set_par(
    auth: *mut tokenclient_authorization,
    use_par: i32,
) -> *mut tokenclient_error {
    boundary(|| {
        let a = ref_arg(auth, "auth")?;
        a.auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .set_par(use_par != 0);
        Ok(())
    })
}

/// Writes the URL to send the user's browser to into `*out_url`: the
/// authorization endpoint with the request's parameters, or, with PAR,
/// with `client_id` and the `request_uri` the PAR endpoint gave (valid
/// once and briefly: make the URL just before the redirect).
///
/// Ownership: on success `*out_url` is a new string; free it with
/// `tokenclient_string_free`. On error it is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL;
/// `TOKENCLIENT_ERROR_CONFIG` for an issuer without the endpoints needed;
/// with PAR, those of an exchange (`TOKENCLIENT_ERROR_OAUTH`, `_HTTP`,
/// `_TRANSPORT`, `_RESPONSE`).
#[no_mangle]
pub unsafe extern "C" fn tokenclient_authorization_url(
    auth: *const tokenclient_authorization,
    out_url: *mut *mut c_char,
) -> *mut tokenclient_error {
    tokenclient_authorization_url_ex(auth, std::ptr::null(), out_url)
}

/// `tokenclient_authorization_url` with the options of this call (NULL:
/// the defaults; they bound the PAR request).
///
/// Ownership and errors as for `tokenclient_authorization_url`; also
/// `TOKENCLIENT_ERROR_CANCELLED`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_authorization_url_ex(
    auth: *const tokenclient_authorization,
    options: *const tokenclient_call_options,
    out_url: *mut *mut c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out_url, "out_url")?;
        let a = ref_arg(auth, "auth")?;
        let options = call_options(options)?;
        let request = a
            .auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let url = a.client.call(&options).authorization_url(&request)?;
        write_out(out_url, into_owned_raw(url));
        Ok(())
    })
}

/// Writes the request as text (JSON) to `*out`, to keep between the
/// redirect and the callback (e.g. in a server-side session) and read with
/// `tokenclient_authorization_import`. It holds the PKCE verifier: treat
/// it as a secret.
///
/// Ownership: on success `*out` is a new string; free it with
/// `tokenclient_string_free`. On error it is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_authorization_export(
    auth: *const tokenclient_authorization,
    out: *mut *mut c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let a = ref_arg(auth, "auth")?;
        let text = a
            .auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .export();
        // Room for the NUL: the C string is made without a reallocation,
        // which would leave an unwiped copy of the verifier behind.
        let mut owned = String::with_capacity(text.len() + 1);
        owned.push_str(&text);
        write_out(out, into_owned_raw(owned));
        Ok(())
    })
}

/// Reads a request exported by `tokenclient_authorization_export` for the
/// same issuer and client id, and writes it to `*out`.
///
/// Ownership: on success `*out` is a new object; free it with
/// `tokenclient_authorization_free`. On error `*out` is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, invalid UTF-8,
/// text that is not an export, or one of another issuer or client;
/// `TOKENCLIENT_ERROR_CONFIG` for a client not made from an issuer.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_authorization_import(
    client: *const tokenclient_client,
    exported: *const c_char,
    out: *mut *mut tokenclient_authorization,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let c = &ref_arg(client, "client")?.inner;
        let auth = c.import_authorization(str_arg(exported, "exported")?)?;
        write_out(out, boxed(c, auth));
        Ok(())
    })
}

/// Finishes the request with `callback_url`, the full URL the browser came
/// back to: checks `state` (constant time) and `iss` (RFC 9207; required
/// when the issuer says it sends it), turns an `error` into
/// `TOKENCLIENT_ERROR_OAUTH` (with its code and description), exchanges
/// the code with the PKCE verifier, and validates the ID token (required
/// when "openid" was asked) with the request's `nonce` and `max_age` and
/// its `at_hash` and `c_hash`. The validated claims are then readable with
/// `tokenclient_token_id_token_claims`.
///
/// Ownership: on success `*out` is a new token; free it with
/// `tokenclient_token_free`. On error `*out` is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, a malformed
/// callback URL, a wrong or missing `state` or `iss`, no code;
/// `TOKENCLIENT_ERROR_OAUTH` for an error callback or a refused code;
/// `TOKENCLIENT_ERROR_RESPONSE` for an ID token that breaks a rule (named);
/// those of `tokenclient_client_exchange_code`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_authorization_finish(
    auth: *const tokenclient_authorization,
    callback_url: *const c_char,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    tokenclient_authorization_finish_ex(auth, callback_url, std::ptr::null(), out)
}

/// `tokenclient_authorization_finish` with the options of this call (NULL:
/// the defaults; see `tokenclient_call_options`).
///
/// Ownership and errors as for `tokenclient_authorization_finish`; also
/// `TOKENCLIENT_ERROR_CANCELLED`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_authorization_finish_ex(
    auth: *const tokenclient_authorization,
    callback_url: *const c_char,
    options: *const tokenclient_call_options,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let a = ref_arg(auth, "auth")?;
        let callback = str_arg(callback_url, "callback_url")?;
        let options = call_options(options)?;
        let request = a
            .auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let token = a.client.call(&options).finish(&request, callback)?;
        write_out(out, tokenclient_token::into_raw(token));
        Ok(())
    })
}

/// Frees `auth`, wiping its verifier. NULL is allowed and does nothing.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_authorization_free(auth: *mut tokenclient_authorization) {
    guard((), || {
        if !auth.is_null() {
            drop(Box::from_raw(auth));
        }
    })
}
