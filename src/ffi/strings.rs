//! Strings the library hands to the caller, and the version.

use std::ffi::{c_char, CString};

use zeroize::Zeroize;

use super::guard;

/// Hands `text` to the caller as a string to be released with
/// `tokenclient_string_free` (which wipes it). The allocation is handed over
/// as it is, not copied, so no copy of a secret is left behind.
pub(crate) fn into_owned_raw(text: String) -> *mut c_char {
    match CString::new(text) {
        Ok(owned) => owned.into_raw(),
        // Never for the strings handed out (JWTs, URLs); replaced, not cut.
        Err(e) => {
            let mut bytes = e.into_vec();
            let owned = super::to_cstring(&String::from_utf8_lossy(&bytes));
            bytes.zeroize();
            owned.into_raw()
        }
    }
}

/// The library version, e.g. "0.1.0", equal to the
/// `TOKENCLIENT_VERSION_MAJOR.MINOR.PATCH` macros of the header the program
/// was built with when the two match.
///
/// Ownership: a static string; never free it.
#[no_mangle]
pub extern "C" fn tokenclient_version() -> *const c_char {
    const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(v) => v,
        Err(_) => panic!("the version has no NUL"),
    };
    VERSION.as_ptr()
}

/// Frees a string that tokenclient returned as `char *` (an assertion, a
/// URL). The memory is overwritten with zeros before it is released, since
/// such strings can be secrets. NULL is allowed and does nothing. Never pass
/// a string from anywhere else, nor a `const char *` owned by an object.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_string_free(s: *mut c_char) {
    guard((), || {
        if !s.is_null() {
            let mut bytes = CString::from_raw(s).into_bytes_with_nul();
            bytes.zeroize();
        }
    })
}
