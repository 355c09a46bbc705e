//! `tokenclient_token`: a successful token response.

use std::ffi::{c_char, CStr};
use std::ptr;
use std::sync::Arc;

use super::guard;
use crate::oauth::Token;

/// A successful token response. Opaque; read it with the
/// `tokenclient_token_*` accessors and free it with `tokenclient_token_free`.
/// It owns every string its accessors return. Its strings are wiped when the
/// last reference to them (this object, or the client's token cache) goes.
pub struct tokenclient_token {
    token: Arc<Token>,
}

impl tokenclient_token {
    pub(crate) fn into_raw(token: Arc<Token>) -> *mut tokenclient_token {
        Box::into_raw(Box::new(tokenclient_token { token }))
    }

    pub(crate) fn token(&self) -> &Token {
        &self.token
    }
}

/// Reads a string member of a token, NULL when the token is NULL.
unsafe fn member(token: *const tokenclient_token, name: &str) -> *const c_char {
    guard(ptr::null(), || {
        token
            .as_ref()
            .and_then(|t| t.token.get_c(name))
            .map_or(ptr::null(), CStr::as_ptr)
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
    guard(-1, || {
        token
            .as_ref()
            .and_then(|t| t.token.expires_in())
            .unwrap_or(-1)
    })
}

/// For a token from `tokenclient_client_get_token`: how many milliseconds
/// from now the client's cache keeps serving this same token without
/// asking the server (0 once that point has passed: the next
/// `get_token` starts a refresh), judged by the system's monotonic and
/// wall clocks as the cache judges it. A binding may keep its own copy
/// and serve it that long without calling into the library, as long as it
/// drops the copy on `tokenclient_client_invalidate_token` and on any
/// change of credentials. -1 for a token that did not come from the cache
/// (an exchange), and for NULL.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_fresh_for_ms(token: *const tokenclient_token) -> i64 {
    guard(-1, || {
        token
            .as_ref()
            .and_then(|t| t.token.fresh_for())
            .map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    })
}

/// The validated claims of the ID token, as a JSON object, for a token from
/// `tokenclient_authorization_finish`; NULL for other tokens (whose ID
/// token, if any, was not validated: see
/// `tokenclient_client_validate_id_token`) and for NULL.
/// Ownership: belongs to `token`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_id_token_claims(
    token: *const tokenclient_token,
) -> *const c_char {
    guard(ptr::null(), || {
        token
            .as_ref()
            .and_then(|t| t.token.id_token_claims_c())
            .map_or(ptr::null(), CStr::as_ptr)
    })
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
            (Some(t), Ok(name)) => t.token.get_c(name).map_or(ptr::null(), CStr::as_ptr),
            _ => ptr::null(),
        }
    })
}

/// The whole response body, JSON text (NULL for NULL). Ownership: belongs
/// to `token`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_token_json(token: *const tokenclient_token) -> *const c_char {
    guard(ptr::null(), || {
        token
            .as_ref()
            .map_or(ptr::null(), |t| t.token.json_c().as_ptr())
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
