//! The C ABI: pointer and string conversion, the panic boundary, and one
//! module per C type. This is the only place in the crate with `unsafe`.
//!
//! Rules every exported function follows:
//! - it runs inside [`boundary`] (or [`guard`]), so a panic becomes a
//!   `TOKENCLIENT_ERROR_PANIC` error (or a neutral value) instead of
//!   unwinding into C;
//! - every pointer argument is checked for NULL and every string for UTF-8
//!   before use, giving `TOKENCLIENT_ERROR_INVALID_ARGUMENT`;
//! - out-parameters are checked first and written only on success.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]

// In the order a reader of the header needs them (each group apart, so
// that rustfmt keeps the order). Errors, and the strings the library
// returns:
pub mod error;
pub mod strings;
// a client, what it exchanges, and the token it returns:
pub mod call;
pub mod client;
pub mod exchange;
pub mod token;
// cached tokens, events and counters, the providers' endpoints:
pub mod cache;
pub mod observe;
pub mod providers;
// OpenID Connect: discovery and the issuer's other endpoints,
pub mod oidc;
// the authorization code flow,
pub mod authorization;
// and the device authorization grant:
pub mod device;
// Sender-constrained tokens (DPoP, mutual TLS):
pub mod dpop;
// keys held elsewhere (callbacks; PKCS#11 through set_private_key):
pub mod signer;
// tokens shared between processes and hosts:
pub mod store;

#[cfg(feature = "test-hooks")]
pub mod testing;

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use crate::error::{Error, ErrorKind, Result};
use error::tokenclient_error;

/// Runs `f`, turning its error or its panic into a `tokenclient_error *`
/// (NULL on success).
pub(crate) fn boundary(f: impl FnOnce() -> Result<()>) -> *mut tokenclient_error {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => ptr::null_mut(),
        Ok(Err(e)) => tokenclient_error::into_raw(e),
        Err(payload) => tokenclient_error::into_raw(panic_error(payload)),
    }
}

/// Runs `f`; on panic returns `fallback`. For functions that return a value
/// rather than an error object (getters, frees).
pub(crate) fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

fn panic_error(payload: Box<dyn std::any::Any + Send>) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Error::new(
        ErrorKind::Panic,
        format!("internal error in tokenclient (please report it): {what}"),
    )
}

/// Borrows a C string argument as UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::invalid_argument(format!("{name} is NULL")));
    }
    CStr::from_ptr(p)
        .to_str()
        .map_err(|_| Error::invalid_argument(format!("{name} is not valid UTF-8")))
}

/// Like [`str_arg`], but NULL is `None`.
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        str_arg(p, name).map(Some)
    }
}

/// Borrows a handle argument.
///
/// # Safety
/// `p` is NULL or a live handle created by this library.
pub(crate) unsafe fn ref_arg<'a, T>(p: *const T, name: &str) -> Result<&'a T> {
    p.as_ref()
        .ok_or_else(|| Error::invalid_argument(format!("{name} is NULL")))
}

/// Checks an out-parameter before any work is done.
pub(crate) fn out_arg<T>(p: *mut *mut T, name: &str) -> Result<()> {
    if p.is_null() {
        Err(Error::invalid_argument(format!("{name} is NULL")))
    } else {
        Ok(())
    }
}

/// Writes a result to a checked out-parameter.
///
/// # Safety
/// `p` was accepted by [`out_arg`] and points to writable memory.
pub(crate) unsafe fn write_out<T>(p: *mut *mut T, value: *mut T) {
    *p = value;
}

pub(crate) use crate::oauth::c_string as to_cstring;

/// The caller's pointer, passed back untouched to its callback; the caller
/// vouches that the callback may be called from any thread.
pub(crate) struct UserData(pub(crate) *mut std::ffi::c_void);
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

impl UserData {
    /// A method, so closures capture the whole (Send) wrapper.
    pub(crate) fn ptr(&self) -> *mut std::ffi::c_void {
        self.0
    }
}

/// A borrowed `const char *` for an optional C string, NULL for `None`.
pub(crate) fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}
