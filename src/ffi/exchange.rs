//! Token exchanges: each sends one POST to the token URL.

use std::ffi::c_char;
use std::sync::Arc;

use super::call::{call_options, tokenclient_call_options};
use super::client::tokenclient_client;
use super::token::tokenclient_token;
use super::{
    boundary, error::tokenclient_error, opt_str_arg, out_arg, ref_arg, str_arg, write_out,
};
use crate::client::Call;
use crate::error::{Error, Result};
use crate::oauth::Token;

/// Most name/value pairs `tokenclient_client_grant` reads before it gives up
/// looking for the terminating NULL.
const MAX_PARAMS: usize = 256;

/// Runs one exchange with a checked client, options and out-parameter.
unsafe fn exchange(
    client: *const tokenclient_client,
    options: *const tokenclient_call_options,
    out: *mut *mut tokenclient_token,
    run: impl FnOnce(Call<'_>) -> Result<Token>,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let client = &ref_arg(client, "client")?.inner;
        let options = call_options(options)?;
        let token = run(client.call(&options))?;
        write_out(out, tokenclient_token::into_raw(Arc::new(token)));
        Ok(())
    })
}

/// Exchanges an authorization code (grant_type=authorization_code) and
/// writes the token to `*out`.
///
/// `code` and `redirect_uri` are required; `code_verifier` is the PKCE
/// verifier (RFC 7636), NULL when PKCE was not used. The client's
/// authentication is added as configured; with an assertion method, each
/// call signs a new assertion. To send more parameters (e.g. `resource`),
/// use `tokenclient_client_grant` with grant type "authorization_code".
///
/// Ownership: on success `*out` is a new token; free it with
/// `tokenclient_token_free`. On error `*out` is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` (NULL, invalid UTF-8, empty
/// code), `TOKENCLIENT_ERROR_CONFIG` (no credentials),
/// `TOKENCLIENT_ERROR_TRANSPORT`, `TOKENCLIENT_ERROR_OAUTH`,
/// `TOKENCLIENT_ERROR_HTTP`, `TOKENCLIENT_ERROR_RESPONSE`.
/// The call is bounded by the client's total timeout; for a deadline of
/// its own or a cancel handle, use `tokenclient_client_exchange_code_ex`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_exchange_code(
    client: *const tokenclient_client,
    code: *const c_char,
    redirect_uri: *const c_char,
    code_verifier: *const c_char,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    tokenclient_client_exchange_code_ex(
        client,
        code,
        redirect_uri,
        code_verifier,
        std::ptr::null(),
        out,
    )
}

/// Uses a refresh token (grant_type=refresh_token) and writes the new token
/// to `*out`. `scope` narrows the scope; NULL keeps the original.
/// The server may rotate the refresh token: read the new one with
/// `tokenclient_token_refresh_token`.
///
/// Ownership and errors as for `tokenclient_client_exchange_code`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_refresh(
    client: *const tokenclient_client,
    refresh_token: *const c_char,
    scope: *const c_char,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    tokenclient_client_refresh_ex(client, refresh_token, scope, std::ptr::null(), out)
}

/// Requests a token for the client itself (grant_type=client_credentials)
/// and writes it to `*out`. `scope` may be NULL for the server's default.
///
/// Ownership and errors as for `tokenclient_client_exchange_code`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_client_credentials(
    client: *const tokenclient_client,
    scope: *const c_char,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    tokenclient_client_client_credentials_ex(client, scope, std::ptr::null(), out)
}

/// Sends any grant: `grant_type` (e.g.
/// "urn:ietf:params:oauth:grant-type:token-exchange") and `params`, a
/// NULL-terminated array of name, value, name, value, ..., NULL (NULL
/// itself for none; a name may repeat, e.g. "resource"). Also the way to
/// add parameters such as `audience` or `resource` to a standard grant.
/// The client's authentication is added; `grant_type`, `client_id`,
/// `client_secret`, `client_assertion` and `client_assertion_type` cannot be
/// passed in `params`. At most 256 pairs.
///
/// Ownership and errors as for `tokenclient_client_exchange_code`; also
/// `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a name without a value, an empty
/// or reserved name, or more than 256 pairs.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_grant(
    client: *const tokenclient_client,
    grant_type: *const c_char,
    params: *const *const c_char,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    tokenclient_client_grant_ex(client, grant_type, params, std::ptr::null(), out)
}

/// `tokenclient_client_exchange_code` with the options of this call:
/// `options` (NULL: the defaults) gives its deadline and its cancel handle
/// (see `tokenclient_call_options`). The deadline bounds the whole call,
/// retries included.
///
/// Ownership as for `tokenclient_client_exchange_code`.
/// Errors: as for `tokenclient_client_exchange_code`; also
/// `TOKENCLIENT_ERROR_CANCELLED` when the cancel handle fired (the request
/// under way is abandoned), and `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for an
/// `options->struct_size` that is neither 0 nor at least the first
/// version's size.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_exchange_code_ex(
    client: *const tokenclient_client,
    code: *const c_char,
    redirect_uri: *const c_char,
    code_verifier: *const c_char,
    options: *const tokenclient_call_options,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    exchange(client, options, out, |c| {
        c.exchange_code(
            str_arg(code, "code")?,
            str_arg(redirect_uri, "redirect_uri")?,
            opt_str_arg(code_verifier, "code_verifier")?,
        )
    })
}

/// `tokenclient_client_refresh` with the options of this call (NULL: the
/// defaults; see
/// `tokenclient_client_exchange_code_ex`).
///
/// Ownership and errors as for `tokenclient_client_exchange_code_ex`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_refresh_ex(
    client: *const tokenclient_client,
    refresh_token: *const c_char,
    scope: *const c_char,
    options: *const tokenclient_call_options,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    exchange(client, options, out, |c| {
        c.refresh(
            str_arg(refresh_token, "refresh_token")?,
            opt_str_arg(scope, "scope")?,
        )
    })
}

/// `tokenclient_client_client_credentials` with the options of this call
/// (NULL: the defaults; see `tokenclient_client_exchange_code_ex`).
///
/// Ownership and errors as for `tokenclient_client_exchange_code_ex`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_client_credentials_ex(
    client: *const tokenclient_client,
    scope: *const c_char,
    options: *const tokenclient_call_options,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    exchange(client, options, out, |c| {
        c.client_credentials(opt_str_arg(scope, "scope")?)
    })
}

/// `tokenclient_client_grant` with the options of this call (NULL: the
/// defaults; see
/// `tokenclient_client_exchange_code_ex`).
///
/// Ownership and errors as for `tokenclient_client_grant`; also those of
/// `tokenclient_client_exchange_code_ex`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_grant_ex(
    client: *const tokenclient_client,
    grant_type: *const c_char,
    params: *const *const c_char,
    options: *const tokenclient_call_options,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    exchange(client, options, out, |c| {
        let grant_type = str_arg(grant_type, "grant_type")?;
        let pairs = read_params(params)?;
        c.grant(grant_type, &pairs)
    })
}

/// Token exchange (RFC 8693): trades `subject_token`, of type
/// `subject_token_type` (e.g. "urn:ietf:params:oauth:token-type:access_token"),
/// for a token of this client, and writes it to `*out`. `params` is a
/// NULL-terminated name, value, ... array as for `tokenclient_client_grant`
/// (NULL for none): `audience`, `resource`, `scope`, `requested_token_type`,
/// `actor_token` and `actor_token_type`. The answer's `issued_token_type`
/// is readable with `tokenclient_token_get`.
///
/// Ownership and errors as for `tokenclient_client_grant`; also
/// `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for an empty subject token or type.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_token_exchange(
    client: *const tokenclient_client,
    subject_token: *const c_char,
    subject_token_type: *const c_char,
    params: *const *const c_char,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    tokenclient_client_token_exchange_ex(
        client,
        subject_token,
        subject_token_type,
        params,
        std::ptr::null(),
        out,
    )
}

/// `tokenclient_client_token_exchange` with the options of this call (NULL:
/// the defaults; see `tokenclient_call_options`).
///
/// Ownership and errors as for `tokenclient_client_token_exchange`; also
/// those of `tokenclient_client_exchange_code_ex`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_token_exchange_ex(
    client: *const tokenclient_client,
    subject_token: *const c_char,
    subject_token_type: *const c_char,
    params: *const *const c_char,
    options: *const tokenclient_call_options,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    exchange(client, options, out, |c| {
        let token = str_arg(subject_token, "subject_token")?;
        let kind = str_arg(subject_token_type, "subject_token_type")?;
        let pairs = read_params(params)?;
        c.token_exchange(token, kind, &pairs)
    })
}

/// Reads the NULL-terminated name/value array of `tokenclient_client_grant`.
unsafe fn read_params<'a>(params: *const *const c_char) -> Result<Vec<(&'a str, &'a str)>> {
    let mut pairs = Vec::new();
    if params.is_null() {
        return Ok(pairs);
    }
    for i in 0..=MAX_PARAMS {
        let name = *params.add(2 * i);
        if name.is_null() {
            return Ok(pairs);
        }
        if i == MAX_PARAMS {
            break;
        }
        let value = *params.add(2 * i + 1);
        if value.is_null() {
            return Err(Error::invalid_argument(format!(
                "params: the name at index {} has no value",
                2 * i
            )));
        }
        pairs.push((
            str_arg(name, "a parameter name")?,
            str_arg(value, "a parameter value")?,
        ));
    }
    Err(Error::invalid_argument(format!(
        "params: more than {MAX_PARAMS} pairs, or no terminating NULL"
    )))
}
