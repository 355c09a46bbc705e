//! The shared token store: one token request per lifetime for every process
//! that uses the same store and credentials; by URL, or the caller's own
//! store behind C callbacks.

use std::ffi::{c_char, c_int, c_void, CString};
use std::time::Duration;

use super::client::{client, tokenclient_client};
use super::signer::tokenclient_free_fn;
use super::{boundary, error::tokenclient_error, opt_str_arg, UserData};
use crate::error::Error;
use crate::store::seal::MAX_ENTRY;
use crate::store::{ttl_ms, Backend, Fault, Lease, Store};

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
/// - several of these separated by spaces: tiers, nearest first.
///   `"default redis://cache:6379"` puts the host's store in front of the
///   fleet's: a read takes the nearest entry that is not due for refresh
///   (and copies one found farther into the nearer tiers), a write goes to
///   every tier, the lease is taken in every tier, so one process per host
///   asks Redis and one process in the fleet asks the token endpoint;
/// - NULL: no store.
///
/// A store of your own (memcached, a database, a service):
/// `tokenclient_client_set_token_store_callbacks`.
///
/// The in-process cache stays in front: a cached token is served as before.
/// On its miss the store is read; one process takes the lease (for the
/// total timeout) and asks the token endpoint while the others wait for its
/// entry, and ask themselves when a quarter of their deadline (at most 2 s)
/// is left; with a rotating refresh token they never refresh while another
/// holds the lease, and fail when their deadline runs out. Entries are
/// sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the
/// client's secret or private key, or set with
/// `tokenclient_client_set_token_store_key`, and named by a keyed hash of everything that makes a token different (token URL,
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
            // Refused before any slice of that length is made.
            (false, len) if len > 1024 => {
                return Err(Error::invalid_argument(format!(
                    "the token store key has {len} bytes; 16 to 1024 are accepted"
                )))
            }
            // SAFETY: the caller passes `len` readable bytes at `key`.
            (false, _) => Some(unsafe { std::slice::from_raw_parts(key, len) }),
        };
        self::client(client)?.set_token_store_key(key)
    })
}

/// A store of the caller's, behind callbacks (see
/// `tokenclient_client_set_token_store_callbacks`). Names are 64 to 73
/// ASCII characters (hex digits, then `-rt` for a refresh token's chain;
/// a lease's name ends in `.lease`, so one namespace can hold both);
/// entries are opaque sealed bytes (at most 1 MiB + 64), never a token in
/// the clear. Every callback is called from any thread, concurrently,
/// while a call waits for it: it should answer within tens of
/// milliseconds. It must not call back into the same client.
#[repr(C)]
pub struct tokenclient_store_callbacks {
    /// Reads the entry `name`: returns 1 when there is one, with its
    /// length in `*out_len` and, if it fits in `cap`, its bytes in `out`
    /// (if it does not fit, the library calls again with room for
    /// `*out_len` bytes); 0 when there is none; a negative value when the
    /// store failed.
    pub get: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            name: *const c_char,
            out: *mut u8,
            cap: usize,
            out_len: *mut usize,
        ) -> c_int,
    >,
    /// Writes `len` bytes at `entry` as the entry `name`, replacing any,
    /// to be kept `ttl_ms` milliseconds (it may be dropped sooner: the
    /// library then asks for a new token). Returns 0, or a negative value
    /// when the store failed.
    pub put: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            name: *const c_char,
            entry: *const u8,
            len: usize,
            ttl_ms: u64,
        ) -> c_int,
    >,
    /// Takes the lease `name` for `owner` (a random string of this
    /// request's) if no one holds it, expiring after `ttl_ms` milliseconds
    /// (so that a holder that died blocks no one past it): returns 1 when
    /// taken, 0 when another holds it, a negative value when the store
    /// failed. Atomic across every process of the store, like Redis's
    /// `SET NX PX` or an `INSERT` of a unique key.
    pub lease: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            name: *const c_char,
            owner: *const c_char,
            ttl_ms: u64,
        ) -> c_int,
    >,
    /// Gives back the lease `name` if `owner` still holds it (never
    /// another owner's, taken after this one expired).
    pub release: Option<
        unsafe extern "C" fn(user_data: *mut c_void, name: *const c_char, owner: *const c_char),
    >,
    /// Passed back untouched to every callback.
    pub user_data: *mut c_void,
    /// Called with `user_data` once the store is no longer used (NULL:
    /// none).
    pub free_user_data: tokenclient_free_fn,
}

type GetFn = unsafe extern "C" fn(*mut c_void, *const c_char, *mut u8, usize, *mut usize) -> c_int;
type PutFn = unsafe extern "C" fn(*mut c_void, *const c_char, *const u8, usize, u64) -> c_int;
type LeaseFn = unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, u64) -> c_int;
type ReleaseFn = unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char);

struct CallbackStore {
    get: GetFn,
    put: PutFn,
    lease: LeaseFn,
    release: ReleaseFn,
    user_data: UserData,
    free: tokenclient_free_fn,
}

/// The room first given to an entry (a token answer fits).
const FIRST_ROOM: usize = 16 * 1024;

fn failed(what: &str, rc: c_int) -> Fault {
    Fault(format!(
        "the store callback {what} failed (it returned {rc})"
    ))
}

fn c_name(name: &str) -> Result<CString, Fault> {
    CString::new(name).map_err(|_| Fault("a store name has a NUL byte".to_string()))
}

impl Backend for CallbackStore {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, Fault> {
        let name = c_name(name)?;
        let mut room = FIRST_ROOM;
        // Twice at most: the second time with the room the first said.
        for _ in 0..2 {
            let mut entry = vec![0u8; room];
            let mut len = 0usize;
            // SAFETY: the caller's function, with its user data; `entry`
            // has `room` writable bytes, `len` is ours.
            let rc = unsafe {
                (self.get)(
                    self.user_data.ptr(),
                    name.as_ptr(),
                    entry.as_mut_ptr(),
                    room,
                    &mut len,
                )
            };
            match rc {
                0 => return Ok(None),
                1 if len <= room => {
                    entry.truncate(len);
                    return Ok(Some(entry));
                }
                1 if len <= MAX_ENTRY => room = len,
                1 => {
                    return Err(Fault(format!(
                        "the store callback get said an entry has {len} bytes, more than an entry \
                         may have"
                    )))
                }
                rc => return Err(failed("get", rc)),
            }
        }
        Err(Fault(
            "the store callback get asked for more room twice".to_string(),
        ))
    }

    fn put(&self, name: &str, entry: &[u8], ttl: Duration) -> Result<(), Fault> {
        let name = c_name(name)?;
        // SAFETY: the caller's function, with its user data; `entry` is
        // readable for its length during the call.
        let rc = unsafe {
            (self.put)(
                self.user_data.ptr(),
                name.as_ptr(),
                entry.as_ptr(),
                entry.len(),
                ttl_ms(ttl),
            )
        };
        match rc {
            0 => Ok(()),
            rc => Err(failed("put", rc)),
        }
    }

    fn try_lease(&self, name: &str, ttl: Duration) -> Result<Option<Lease>, Fault> {
        // Not the entry's name: a store of one namespace keeps both.
        let lease = Lease::owned(format!("{name}.lease"));
        let (c_lease, owner) = (c_name(lease.name())?, c_name(lease.owner())?);
        // SAFETY: the caller's function, with its user data and two
        // NUL-terminated strings of ours.
        let rc = unsafe {
            (self.lease)(
                self.user_data.ptr(),
                c_lease.as_ptr(),
                owner.as_ptr(),
                ttl_ms(ttl),
            )
        };
        match rc {
            1 => Ok(Some(lease)),
            0 => Ok(None),
            rc => Err(failed("lease", rc)),
        }
    }

    fn release(&self, lease: Lease) {
        let (Ok(name), Ok(owner)) = (c_name(lease.name()), c_name(lease.owner())) else {
            return;
        };
        // SAFETY: as in `try_lease`.
        unsafe { (self.release)(self.user_data.ptr(), name.as_ptr(), owner.as_ptr()) }
    }
}

impl Drop for CallbackStore {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: called once, when no call can use the store any more.
            unsafe { free(self.user_data.ptr()) }
        }
    }
}

/// Shares tokens through a store of the caller's (memcached, a database,
/// a service of its own) as `tokenclient_client_set_token_store` does
/// through a URL: the same entries (sealed, named by keyed hashes: the
/// callbacks never see a token, a secret or what an entry is for), the
/// same leases, the same fallback when a callback fails (`store.fallback`).
/// `callbacks` is copied; every function in it is needed. Replaces the
/// store; `tokenclient_client_set_token_store(client, NULL)` removes it.
///
/// Ownership: `callbacks->user_data` stays the caller's;
/// `callbacks->free_user_data` is called with it once the store is no
/// longer used: after it is replaced and every call using it has ended, or
/// when the client is freed; possibly on another thread. On error it is
/// not kept and not freed.
///
/// fork(): the callbacks are called in whichever process calls; one that
/// holds a connection must reopen it in a forked child.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client or
/// `callbacks`, or a NULL function in it.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_token_store_callbacks(
    client: *mut tokenclient_client,
    callbacks: *const tokenclient_store_callbacks,
) -> *mut tokenclient_error {
    boundary(|| {
        let c = self::client(client)?;
        // SAFETY: the caller passes NULL or a readable struct.
        let callbacks = unsafe { callbacks.as_ref() }
            .ok_or_else(|| Error::invalid_argument("callbacks is NULL"))?;
        let missing = |what: &str| Error::invalid_argument(format!("callbacks->{what} is NULL"));
        // Made last, once everything is checked: dropping it frees the
        // caller's user data, which an error must not do.
        let store = CallbackStore {
            get: callbacks.get.ok_or_else(|| missing("get"))?,
            put: callbacks.put.ok_or_else(|| missing("put"))?,
            lease: callbacks.lease.ok_or_else(|| missing("lease"))?,
            release: callbacks.release.ok_or_else(|| missing("release"))?,
            user_data: UserData(callbacks.user_data),
            free: callbacks.free_user_data,
        };
        c.use_store(Some(Store::custom(
            Box::new(store),
            "callbacks".to_string(),
        )))
    })
}
