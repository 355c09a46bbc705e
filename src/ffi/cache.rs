//! The token cache, retries and the token hook.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use super::call::{call_options, tokenclient_call_options};
use super::client::tokenclient_client;
use super::token::tokenclient_token;
use super::{
    boundary, error::tokenclient_error, opt_str_arg, out_arg, ref_arg, write_out, UserData,
};
use crate::error::Error;
use crate::oauth::Token;

/// Called with every token `tokenclient_client_get_token` obtains from the
/// server (a new access token, and with it any rotated refresh token), so
/// the program can persist it. `token` is valid only during the call: copy
/// what you keep, do not free it. Runs on the thread that made the request
/// (for `tokenclient_client_get_token_ex` with options: a thread of the
/// library's own), while other callers may be waiting for it: return
/// quickly, do not call `tokenclient_client_get_token` of the same client
/// from it, and do not free the client from it. `tokenclient_client_free`
/// waits for such a library thread to end, so the callback must not wait
/// for a lock the freeing thread holds.
pub type tokenclient_token_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, token: *const tokenclient_token)>;

/// Returns a valid access token for `scope` (NULL: the server's default)
/// in `*out`: the cached one while it is fresh, otherwise a new one.
///
/// A cached token is refreshed once it has lived 80% of its lifetime or
/// comes within 10 s of expiry (`tokenclient_client_set_refresh_policy`):
/// the first caller after that point makes the request while others still
/// get the current token; no caller gets a token within the margin of its
/// expiry (for tokens living less than twice the margin: within half their
/// lifetime). "" and NULL are the same scope.
/// When no usable token is cached, however many threads call at once,
/// exactly one request is made and every caller gets its result or its
/// error (single flight). Tokens come from the refresh_token grant when the
/// client was given a refresh token (`tokenclient_client_set_refresh_token`;
/// rotated refresh tokens replace it), else from client_credentials.
/// Failures are retried by the retry policy.
///
/// `tokenclient_token_fresh_for_ms` tells how long the returned token will
/// be served from the cache, so a binding can keep its own copy that long.
///
/// Ownership: on success `*out` is a token to free with
/// `tokenclient_token_free` (cheap: it shares the cached copy). On error
/// `*out` is not written.
/// Errors: as for `tokenclient_client_client_credentials`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_get_token(
    client: *const tokenclient_client,
    scope: *const c_char,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    tokenclient_client_get_token_ex(client, scope, std::ptr::null(), out)
}

/// `tokenclient_client_get_token` with the options of this call: `options`
/// (NULL: the defaults) gives its deadline and its cancel handle (see
/// `tokenclient_call_options`).
///
/// With a deadline or a cancel handle, a request this call starts runs on a
/// thread of its own, bounded by the client's total timeout: this call's
/// deadline or cancel ends only its own wait, never the request that other
/// callers share, whose token lands in the cache for them. A caller that
/// finds the old token still usable (past the refresh point, not yet
/// within the margin) gets it at once while the refresh goes on. Freeing
/// the client stops and waits for such requests.
///
/// Ownership as for `tokenclient_client_get_token`.
/// Errors: as for `tokenclient_client_exchange_code_ex`
/// (`TOKENCLIENT_ERROR_CANCELLED` when cancelled; `TOKENCLIENT_ERROR_TRANSPORT`
/// saying the deadline ran out when the shared request outlasts it).
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_get_token_ex(
    client: *const tokenclient_client,
    scope: *const c_char,
    options: *const tokenclient_call_options,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let c = &ref_arg(client, "client")?.inner;
        let options = call_options(options)?;
        let token = c.call(&options).get_token(opt_str_arg(scope, "scope")?)?;
        write_out(out, tokenclient_token::into_raw(token));
        Ok(())
    })
}

/// Gives `tokenclient_client_get_token` a refresh token to use (the
/// refresh_token grant), which it replaces with each rotated one. NULL
/// clears it (back to client_credentials). The string is copied and wiped
/// when replaced.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client, invalid
/// UTF-8 or an empty string.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_refresh_token(
    client: *mut tokenclient_client,
    refresh_token: *const c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        let c = &ref_arg(client, "client")?.inner;
        c.set_refresh_token(opt_str_arg(refresh_token, "refresh_token")?)
    })
}

/// Drops the cached token of `scope` (NULL: the default scope), e.g. after
/// a resource server rejected it; the next `tokenclient_client_get_token`
/// obtains a new one.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client or invalid UTF-8.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_invalidate_token(
    client: *const tokenclient_client,
    scope: *const c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        let c = &ref_arg(client, "client")?.inner;
        c.invalidate_token(opt_str_arg(scope, "scope")?);
        Ok(())
    })
}

/// Calls `callback(user_data, token)` with every token
/// `tokenclient_client_get_token` obtains (see `tokenclient_token_callback`).
/// A NULL callback removes it. `user_data` is passed back untouched and is
/// not freed by tokenclient.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_token_callback(
    client: *mut tokenclient_client,
    callback: tokenclient_token_callback,
    user_data: *mut c_void,
) -> *mut tokenclient_error {
    boundary(|| {
        let c = &ref_arg(client, "client")?.inner;
        let hook = callback.map(|f| {
            let data = UserData(user_data);
            Arc::new(move |token: &Arc<Token>| {
                let view = tokenclient_token::into_raw(token.clone());
                // SAFETY: the caller registered `f` for this `user_data`;
                // `view` lives until after the call returns.
                unsafe { f(data.ptr(), view) };
                drop(unsafe { Box::from_raw(view) });
            }) as crate::cache::TokenCallback
        });
        c.set_token_callback(hook)
    })
}

/// Sets how failed requests are retried: up to `max_retries` retries (0 to
/// 10; default 2) with exponential backoff and full jitter starting at
/// `base_delay_ms` (default 200), no wait longer than `max_delay_ms`
/// (default 10000; a `Retry-After` longer than that ends the retries), all
/// within the call's deadline (`tokenclient_client_set_timeout_ms`).
/// Retried: transport failures, HTTP 5xx and 429, each with a new assertion.
/// Never retried: OAuth errors (invalid_grant, invalid_client, ...); a
/// refresh_token grant the server may have processed; an authorization
/// code that was sent.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL or values out of range.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_retry_policy(
    client: *mut tokenclient_client,
    max_retries: u32,
    base_delay_ms: u32,
    max_delay_ms: u32,
) -> *mut tokenclient_error {
    boundary(|| {
        ref_arg(client, "client")?
            .inner
            .set_retry_policy(max_retries, base_delay_ms, max_delay_ms)
    })
}

/// Sets when cached tokens are refreshed: after `percent` (1 to 100;
/// default 80) of their lifetime, or `margin_seconds` (0 to 3600; default
/// 10) before expiry, whichever is first. No token is handed out within the
/// margin of its expiry.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL or values out of range.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_refresh_policy(
    client: *mut tokenclient_client,
    percent: u32,
    margin_seconds: u32,
) -> *mut tokenclient_error {
    boundary(|| {
        let c = &ref_arg(client, "client")?.inner;
        if !(1..=100).contains(&percent) {
            return Err(Error::invalid_argument("percent must be 1 to 100"));
        }
        c.set_refresh_policy(
            f64::from(percent) / 100.0,
            Duration::from_secs(u64::from(margin_seconds)),
        )
    })
}
