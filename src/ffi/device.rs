//! `tokenclient_device`: a started device authorization (RFC 8628).

use std::ffi::{c_char, CString};
use std::ptr;

use super::call::{call_options, tokenclient_call_options};
use super::client::tokenclient_client;
use super::token::tokenclient_token;
use super::{
    boundary, error::tokenclient_error, guard, opt_ptr, opt_str_arg, out_arg, ref_arg, to_cstring,
    write_out,
};
use crate::client::DeviceAuthorization;

/// A started device authorization: the user code and verification URI to
/// show the user, and the device code to poll with (a secret, wiped when
/// freed). Opaque; create it with `tokenclient_client_device_authorize`,
/// free it with `tokenclient_device_free`. It owns every string its
/// accessors return.
pub struct tokenclient_device {
    device: DeviceAuthorization,
    user_code: CString,
    verification_uri: CString,
    verification_uri_complete: Option<CString>,
}

/// Starts a device authorization (RFC 8628 §3.1) for `scope` (NULL: the
/// server's default) at the issuer's `device_authorization_endpoint`, with
/// the client's authentication, and writes it to `*out`. Show the user
/// `tokenclient_device_user_code` and `tokenclient_device_verification_uri`,
/// then call `tokenclient_client_device_poll`.
///
/// Ownership: on success `*out` is a new object; free it with
/// `tokenclient_device_free`. On error `*out` is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL or invalid UTF-8;
/// `TOKENCLIENT_ERROR_CONFIG` for a client not made from an issuer, one
/// without a device authorization endpoint, or no credentials;
/// `TOKENCLIENT_ERROR_OAUTH`, `_HTTP`, `_TRANSPORT`; `_RESPONSE` for an
/// answer without the RFC 8628 members.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_device_authorize(
    client: *const tokenclient_client,
    scope: *const c_char,
    out: *mut *mut tokenclient_device,
) -> *mut tokenclient_error {
    tokenclient_client_device_authorize_ex(client, scope, ptr::null(), out)
}

/// `tokenclient_client_device_authorize` with the options of this call
/// (NULL: the defaults; see `tokenclient_call_options`).
///
/// Ownership and errors as for `tokenclient_client_device_authorize`; also
/// `TOKENCLIENT_ERROR_CANCELLED`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_device_authorize_ex(
    client: *const tokenclient_client,
    scope: *const c_char,
    options: *const tokenclient_call_options,
    out: *mut *mut tokenclient_device,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let c = &ref_arg(client, "client")?.inner;
        let options = call_options(options)?;
        let device = c
            .call(&options)
            .device_authorize(opt_str_arg(scope, "scope")?)?;
        let handle = tokenclient_device {
            user_code: to_cstring(&device.user_code),
            verification_uri: to_cstring(&device.verification_uri),
            verification_uri_complete: device.verification_uri_complete.as_deref().map(to_cstring),
            device,
        };
        write_out(out, Box::into_raw(Box::new(handle)));
        Ok(())
    })
}

/// The user code to show the user (NULL for NULL). Ownership: belongs to `device`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_device_user_code(
    device: *const tokenclient_device,
) -> *const c_char {
    guard(ptr::null(), || {
        device
            .as_ref()
            .map_or(ptr::null(), |d| d.user_code.as_ptr())
    })
}

/// The URI where the user enters the code (NULL for NULL). Ownership:
/// belongs to `device`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_device_verification_uri(
    device: *const tokenclient_device,
) -> *const c_char {
    guard(ptr::null(), || {
        device
            .as_ref()
            .map_or(ptr::null(), |d| d.verification_uri.as_ptr())
    })
}

/// The URI with the code already in it (e.g. for a QR code), or NULL when
/// the server gave none (and for NULL). Ownership: belongs to `device`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_device_verification_uri_complete(
    device: *const tokenclient_device,
) -> *const c_char {
    guard(ptr::null(), || {
        device
            .as_ref()
            .map_or(ptr::null(), |d| opt_ptr(&d.verification_uri_complete))
    })
}

/// Seconds the codes live, as the server said (-1 for NULL).
#[no_mangle]
pub unsafe extern "C" fn tokenclient_device_expires_in(device: *const tokenclient_device) -> i64 {
    guard(-1, || {
        device.as_ref().map_or(-1, |d| {
            i64::try_from(d.device.expires_in).unwrap_or(i64::MAX)
        })
    })
}

/// Polls the token endpoint (RFC 8628 §3.4), every interval the server gave
/// (5 s when it gave none; `slow_down` adds 5 s), until the user approves:
/// the token is written to `*out`. Blocks until then, or until the user
/// denies (`TOKENCLIENT_ERROR_OAUTH` access_denied), the code expires
/// (`TOKENCLIENT_ERROR_OAUTH` expired_token, or `TOKENCLIENT_ERROR_TRANSPORT`
/// when its lifetime ran out), or the call's deadline: use
/// `tokenclient_client_device_poll_ex` to bound it or cancel it.
///
/// Ownership: on success `*out` is a new token; free it with
/// `tokenclient_token_free`. On error `*out` is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL; those of
/// `tokenclient_client_exchange_code`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_device_poll(
    client: *const tokenclient_client,
    device: *const tokenclient_device,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    tokenclient_client_device_poll_ex(client, device, ptr::null(), out)
}

/// `tokenclient_client_device_poll` with the options of this call (NULL:
/// the defaults, where the code's lifetime bounds the polling; a deadline
/// here bounds it instead; a cancel stops it between or during polls).
///
/// Ownership and errors as for `tokenclient_client_device_poll`; also
/// `TOKENCLIENT_ERROR_CANCELLED`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_device_poll_ex(
    client: *const tokenclient_client,
    device: *const tokenclient_device,
    options: *const tokenclient_call_options,
    out: *mut *mut tokenclient_token,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let c = &ref_arg(client, "client")?.inner;
        let d = ref_arg(device, "device")?;
        let options = call_options(options)?;
        let token = c.call(&options).device_poll(&d.device)?;
        write_out(out, tokenclient_token::into_raw(std::sync::Arc::new(token)));
        Ok(())
    })
}

/// Frees `device`, wiping its device code. NULL is allowed and does nothing.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_device_free(device: *mut tokenclient_device) {
    guard((), || {
        if !device.is_null() {
            drop(Box::from_raw(device));
        }
    })
}
