//! `tokenclient_error`: the error object every fallible function returns.

use std::ffi::{c_char, c_int, CString};
use std::ptr;

use super::{guard, opt_ptr, to_cstring};
use crate::error::{Error, ErrorKind};

/// What kind of failure a `tokenclient_error` describes. Values are only
/// ever appended, never changed or reused.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tokenclient_error_kind {
    /// NULL where a pointer is required, invalid UTF-8, a bad URL, a bad
    /// option value.
    TOKENCLIENT_ERROR_INVALID_ARGUMENT = 1,
    /// The key is unreadable, encrypted, public, too weak, or of the wrong
    /// type for the algorithm.
    TOKENCLIENT_ERROR_KEY = 2,
    /// Missing credentials, or a method/credential mismatch.
    TOKENCLIENT_ERROR_CONFIG = 3,
    /// DNS, connect, TLS, timeout, response too large.
    TOKENCLIENT_ERROR_TRANSPORT = 4,
    /// The server answered with an RFC 6749 §5.2 error: see
    /// `tokenclient_error_oauth_code`.
    TOKENCLIENT_ERROR_OAUTH = 5,
    /// A non-2xx answer without a valid OAuth error body.
    TOKENCLIENT_ERROR_HTTP = 6,
    /// A 2xx answer that is not a valid token response.
    TOKENCLIENT_ERROR_RESPONSE = 7,
    /// A bug inside tokenclient, caught at the boundary; please report it.
    TOKENCLIENT_ERROR_PANIC = 8,
    /// The call was cancelled through its `tokenclient_cancel` handle
    /// (see `tokenclient_call_options`).
    TOKENCLIENT_ERROR_CANCELLED = 9,
}

impl From<ErrorKind> for tokenclient_error_kind {
    fn from(kind: ErrorKind) -> Self {
        use tokenclient_error_kind::*;
        match kind {
            ErrorKind::InvalidArgument => TOKENCLIENT_ERROR_INVALID_ARGUMENT,
            ErrorKind::Key => TOKENCLIENT_ERROR_KEY,
            ErrorKind::Config => TOKENCLIENT_ERROR_CONFIG,
            ErrorKind::Transport => TOKENCLIENT_ERROR_TRANSPORT,
            ErrorKind::OAuth => TOKENCLIENT_ERROR_OAUTH,
            ErrorKind::Http => TOKENCLIENT_ERROR_HTTP,
            ErrorKind::Response => TOKENCLIENT_ERROR_RESPONSE,
            ErrorKind::Panic => TOKENCLIENT_ERROR_PANIC,
            ErrorKind::Cancelled => TOKENCLIENT_ERROR_CANCELLED,
        }
    }
}

/// An error returned by a tokenclient function. Opaque; read it with the
/// `tokenclient_error_*` accessors and free it with `tokenclient_error_free`.
/// It owns every string its accessors return.
pub struct tokenclient_error {
    kind: tokenclient_error_kind,
    message: CString,
    http_status: c_int,
    oauth_code: Option<CString>,
    oauth_description: Option<CString>,
    oauth_uri: Option<CString>,
}

impl tokenclient_error {
    pub(crate) fn into_raw(e: Error) -> *mut tokenclient_error {
        let oauth = e.oauth();
        let boxed = Box::new(tokenclient_error {
            kind: e.kind().into(),
            message: to_cstring(e.message()),
            http_status: c_int::from(e.http_status()),
            oauth_code: oauth.map(|o| to_cstring(&o.code)),
            oauth_description: oauth.and_then(|o| o.description.as_deref().map(to_cstring)),
            oauth_uri: oauth.and_then(|o| o.uri.as_deref().map(to_cstring)),
        });
        Box::into_raw(boxed)
    }
}

/// The kind of `error`. Given NULL, returns `TOKENCLIENT_ERROR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_error_get_kind(
    error: *const tokenclient_error,
) -> tokenclient_error_kind {
    guard(tokenclient_error_kind::TOKENCLIENT_ERROR_PANIC, || {
        error.as_ref().map_or(
            tokenclient_error_kind::TOKENCLIENT_ERROR_INVALID_ARGUMENT,
            |e| e.kind,
        )
    })
}

/// A human-readable, single-line description of `error`. It never contains a
/// client secret, a private key, an assertion or a token.
///
/// Ownership: the string belongs to `error` and lives until
/// `tokenclient_error_free(error)`. Given NULL, returns a static string
/// saying so (never NULL).
#[no_mangle]
pub unsafe extern "C" fn tokenclient_error_message(
    error: *const tokenclient_error,
) -> *const c_char {
    const NULL_ERROR: &std::ffi::CStr = c"(no error: NULL was passed to tokenclient_error_message)";
    guard(NULL_ERROR.as_ptr(), || {
        error
            .as_ref()
            .map_or(NULL_ERROR.as_ptr(), |e| e.message.as_ptr())
    })
}

/// The HTTP status of the answer that caused `error` (for
/// `TOKENCLIENT_ERROR_OAUTH` and `TOKENCLIENT_ERROR_HTTP`, and for a
/// `TOKENCLIENT_ERROR_RESPONSE` to a 2xx), or 0 when there was none. 0 for
/// NULL.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_error_http_status(error: *const tokenclient_error) -> c_int {
    guard(0, || error.as_ref().map_or(0, |e| e.http_status))
}

/// The OAuth `error` code (e.g. "invalid_client") of a
/// `TOKENCLIENT_ERROR_OAUTH` error; NULL for other kinds and for NULL.
///
/// Ownership: the string belongs to `error`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_error_oauth_code(
    error: *const tokenclient_error,
) -> *const c_char {
    guard(ptr::null(), || {
        error
            .as_ref()
            .map_or(ptr::null(), |e| opt_ptr(&e.oauth_code))
    })
}

/// The OAuth `error_description` of a `TOKENCLIENT_ERROR_OAUTH` error, NULL
/// when the server sent none, for other kinds, and for NULL.
///
/// Ownership: the string belongs to `error`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_error_oauth_description(
    error: *const tokenclient_error,
) -> *const c_char {
    guard(ptr::null(), || {
        error
            .as_ref()
            .map_or(ptr::null(), |e| opt_ptr(&e.oauth_description))
    })
}

/// The OAuth `error_uri` of a `TOKENCLIENT_ERROR_OAUTH` error, NULL when the
/// server sent none, for other kinds, and for NULL.
///
/// Ownership: the string belongs to `error`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_error_oauth_uri(
    error: *const tokenclient_error,
) -> *const c_char {
    guard(ptr::null(), || {
        error
            .as_ref()
            .map_or(ptr::null(), |e| opt_ptr(&e.oauth_uri))
    })
}

/// Frees `error` and every string it owns. NULL is allowed and does nothing.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_error_free(error: *mut tokenclient_error) {
    guard((), || {
        if !error.is_null() {
            drop(Box::from_raw(error));
        }
    })
}
