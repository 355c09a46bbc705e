//! `tokenclient_token`: a successful token response.

use std::collections::BTreeMap;
use std::ffi::{c_char, CStr, CString};
use std::ptr;

use zeroize::Zeroize;

use super::{guard, to_cstring};
use crate::response::Token;

/// A successful token response. Opaque; read it with the
/// `tokenclient_token_*` accessors and free it with `tokenclient_token_free`,
/// which wipes it. It owns every string its accessors return.
pub struct tokenclient_token {
    expires_in: i64,
    json: CString,
    /// Every string member of the response, by name.
    strings: BTreeMap<String, CString>,
}

impl tokenclient_token {
    pub(crate) fn into_raw(token: Token) -> *mut tokenclient_token {
        let strings = token
            .string_members()
            .map(|(name, value)| (name.to_string(), to_cstring(value)))
            .collect();
        Box::into_raw(Box::new(tokenclient_token {
            expires_in: token.expires_in().unwrap_or(-1),
            json: to_cstring(token.json()),
            strings,
        }))
    }

    fn member(&self, name: &str) -> *const c_char {
        self.strings.get(name).map_or(ptr::null(), |c| c.as_ptr())
    }
}

impl Drop for tokenclient_token {
    fn drop(&mut self) {
        std::mem::take(&mut self.json).into_bytes().zeroize();
        for value in std::mem::take(&mut self.strings).into_values() {
            value.into_bytes().zeroize();
        }
    }
}

/// Reads a string member of a token, NULL when the token is NULL.
unsafe fn member(token: *const tokenclient_token, name: &str) -> *const c_char {
    guard(ptr::null(), || {
        token.as_ref().map_or(ptr::null(), |t| t.member(name))
    })
}

/// The `access_token` (never NULL for a valid token; NULL for NULL).
/// Ownership: belongs to `token`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_access_token(
    token: *const tokenclient_token,
) -> *const c_char {
    member(token, "access_token")
}

/// The `token_type`, e.g. "Bearer" (never NULL for a valid token; NULL for
/// NULL). Ownership: belongs to `token`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_token_type(
    token: *const tokenclient_token,
) -> *const c_char {
    member(token, "token_type")
}

/// The `expires_in` in seconds, -1 when the server sent none (or for NULL).
/// A numeric string is accepted; anything else was refused with
/// `TOKENCLIENT_ERROR_RESPONSE` when the token was received.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_expires_in(token: *const tokenclient_token) -> i64 {
    guard(-1, || token.as_ref().map_or(-1, |t| t.expires_in))
}

/// The `scope`, or NULL when the server sent none. Ownership: belongs to `token`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_scope(token: *const tokenclient_token) -> *const c_char {
    member(token, "scope")
}

/// The `refresh_token`, or NULL when the server sent none. Ownership:
/// belongs to `token`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_refresh_token(
    token: *const tokenclient_token,
) -> *const c_char {
    member(token, "refresh_token")
}

/// The `id_token`, or NULL when the server sent none. Ownership: belongs to
/// `token`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_id_token(
    token: *const tokenclient_token,
) -> *const c_char {
    member(token, "id_token")
}

/// Any string member of the response by name, e.g. "sid" (Talkdesk's
/// session id); NULL when absent, not a string, or when `token` or `field`
/// is NULL or not UTF-8. Ownership: belongs to `token`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_get(
    token: *const tokenclient_token,
    field: *const c_char,
) -> *const c_char {
    guard(ptr::null(), || {
        if field.is_null() {
            return ptr::null();
        }
        match (token.as_ref(), CStr::from_ptr(field).to_str()) {
            (Some(t), Ok(name)) => t.member(name),
            _ => ptr::null(),
        }
    })
}

/// The whole response body, JSON text (NULL for NULL). Ownership: belongs
/// to `token`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_json(token: *const tokenclient_token) -> *const c_char {
    guard(ptr::null(), || {
        token.as_ref().map_or(ptr::null(), |t| t.json.as_ptr())
    })
}

/// Frees `token`, overwriting its strings first. NULL is allowed and does
/// nothing.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_free(token: *mut tokenclient_token) {
    guard((), || {
        if !token.is_null() {
            drop(Box::from_raw(token));
        }
    })
}
