//! The shared token store: one token request per lifetime for every process
//! that uses the same store and credentials.

use std::ffi::c_char;

use super::client::{client, tokenclient_client};
use super::{boundary, error::tokenclient_error, opt_str_arg};
use crate::error::Error;

/// Shares the tokens `tokenclient_client_get_token` obtains with the other
/// processes that use the same store and credentials, so that one token
/// request serves them all for a token's lifetime and a rotated refresh
/// token is what the next refresher in any process uses. `url`:
/// - `"default"`: a directory of this user's on this host (0700, under
///   `$XDG_RUNTIME_DIR`, else `tokenclient-<uid>` in the temporary
///   directory), entries 0600, leases with `flock`;
/// - `"file:///dir"`: the same in `dir`;
/// - `"redis://[user:password@]host[:port][/db]"` or `"rediss://..."` (TLS
///   through OpenSSL; a private CA through OpenSSL's `SSL_CERT_FILE`), with
///   `?prefix=P` (default `tokenclient:`) and `?timeout_ms=N` (the time
///   one command may take, default 50);
/// - NULL: no store.
///
/// The in-process cache stays in front: a cached token is served as before.
/// On its miss the store is read; one process takes the lease and asks the
/// token endpoint while the others wait for its entry (at most the total
/// timeout, then they ask themselves). Entries are sealed with AES-256-GCM
/// under a key derived (HKDF-SHA256) from the client's secret or private
/// key, or set with `tokenclient_client_set_token_store_key`, and named by
/// a keyed hash of everything that makes a token different (token URL,
/// client id, scope, authentication method, DPoP key, client certificate,
/// audience): an entry of other credentials is never found, and one that
/// does not open is ignored. The token callback fires in the process that
/// obtained a token, not in those that read it from the store. A store
/// that fails, is slow or answers garbage is gone around (the call goes on
/// as without a store, and a `store.fallback` event says so once, until a
/// `store.recovered`).
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client, invalid
/// UTF-8 or an unknown URL; `TOKENCLIENT_ERROR_CONFIG` for a store that
/// cannot work: a directory that cannot be made, belongs to another user
/// or is open to others; a Redis server that refuses the password or the
/// TLS handshake. A Redis server that cannot be reached is not an error
/// here: calls go around it until it answers.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_token_store(
    client: *mut tokenclient_client,
    url: *const c_char,
) -> *mut tokenclient_error {
    boundary(|| self::client(client)?.set_token_store(opt_str_arg(url, "url")?))
}

/// Seals the store's entries with `key` (`len` bytes, 16 to 1024, any
/// content, copied and wiped when replaced or freed) instead of a key
/// derived from the client's credential: needed when the credential is not
/// held here (public clients, TLS client authentication, signer callbacks,
/// PKCS#11), or to share tokens between clients with different copies of a
/// credential. Every process that shares the tokens sets the same key.
/// NULL (with `len` 0) goes back to the derived key. Call after
/// `tokenclient_client_set_token_store`.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client or a
/// length out of range; `TOKENCLIENT_ERROR_CONFIG` when no store is set.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_token_store_key(
    client: *mut tokenclient_client,
    key: *const u8,
    len: usize,
) -> *mut tokenclient_error {
    boundary(|| {
        let key = match (key.is_null(), len) {
            (true, 0) => None,
            (true, _) => return Err(Error::invalid_argument("key is NULL but len is not 0")),
            // SAFETY: the caller passes `len` readable bytes at `key`.
            (false, _) => Some(unsafe { std::slice::from_raw_parts(key, len) }),
        };
        self::client(client)?.set_token_store_key(key)
    })
}
