//! External signers: a C callback signs assertions with a key the library
//! never sees (an HSM, a cloud KMS). PKCS#11 tokens go through
//! `tokenclient_client_set_private_key` with a `pkcs11:` URI.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Arc;

use super::client::{client, tokenclient_client};
use super::{boundary, error::tokenclient_error, opt_str_arg, str_arg, UserData};
use crate::error::{Error, Result};
use crate::keys::Algorithm;
use crate::signer::Signer;

/// Signs `input` (`input_len` bytes: the exact JWS signing input,
/// `header.payload`) with the caller's key: writes the signature to
/// `out_sig` (room for `out_cap` bytes, 1024) and its length to `*out_len`,
/// and returns 0; or returns non-zero, optionally writing a NUL-terminated
/// message (no secret) of at most `err_cap` bytes to `err_msg`.
///
/// Signature forms: for ES256/ES384/ES512, either JOSE's `r || s` (each
/// the curve's size: 64, 96 or 132 bytes in all) or DER (an
/// `ECDSA-Sig-Value`, as OpenSSL, PKCS#11 wrappers and most KMS APIs
/// return), told apart by the length: exactly twice the curve's size is
/// `r || s`, anything else is read as DER; for the RS and PS algorithms, the modulus-sized
/// signature (RSA-2048 to RSA-8192); for EdDSA, 64 bytes. Any other length
/// is a `TOKENCLIENT_ERROR_KEY`.
///
/// Threads: called from any thread, concurrently, for as long as the
/// signer is set (and by requests that started before it was replaced).
/// It must not call back into the same client's setters. A callback that
/// panics, `longjmp`s out or never returns is the caller's responsibility:
/// the library cannot recover from it (a call's deadline is checked when
/// it returns).
pub type tokenclient_sign_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        input: *const u8,
        input_len: usize,
        out_sig: *mut u8,
        out_cap: usize,
        out_len: *mut usize,
        err_msg: *mut c_char,
        err_cap: usize,
    ) -> c_int,
>;

/// Frees the `user_data` of a signer once the library no longer uses it.
pub type tokenclient_free_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// The room given to a signature: RSA-8192, or DER ECDSA P-521, fit.
const SIGNATURE_CAP: usize = 1024;
/// The room given to an error message.
const MESSAGE_CAP: usize = 256;

struct CallbackSigner {
    sign: SignFn,
    user_data: UserData,
    free: tokenclient_free_fn,
}

type SignFn = unsafe extern "C" fn(
    *mut c_void,
    *const u8,
    usize,
    *mut u8,
    usize,
    *mut usize,
    *mut c_char,
    usize,
) -> c_int;

impl CallbackSigner {
    /// Made last, once every argument is checked: dropping it calls
    /// `free_user_data`, which an error must never do.
    fn new(sign: SignFn, user_data: *mut c_void, free: tokenclient_free_fn) -> Arc<CallbackSigner> {
        Arc::new(CallbackSigner {
            sign,
            user_data: UserData(user_data),
            free,
        })
    }
}

/// The algorithm (not an HMAC one) and the callback, both checked.
unsafe fn checked(alg: *const c_char, sign: tokenclient_sign_fn) -> Result<(Algorithm, SignFn)> {
    let alg: Algorithm = str_arg(alg, "alg")?.parse()?;
    let sign = sign.ok_or_else(|| Error::invalid_argument("sign is NULL"))?;
    if alg.is_hmac() {
        return Err(Error::invalid_argument(format!(
            "{alg} signs with a client secret, not with a signer"
        )));
    }
    Ok((alg, sign))
}

impl Signer for CallbackSigner {
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>> {
        let mut signature = vec![0u8; SIGNATURE_CAP];
        let mut len = 0usize;
        let mut message = [0 as c_char; MESSAGE_CAP];
        // SAFETY: the caller gave a function of this signature, to be called
        // with its user data from any thread; every buffer is ours and as
        // large as said.
        let rc = unsafe {
            (self.sign)(
                self.user_data.ptr(),
                input.as_ptr(),
                input.len(),
                signature.as_mut_ptr(),
                signature.len(),
                &mut len,
                message.as_mut_ptr(),
                message.len(),
            )
        };
        if rc != 0 {
            // NUL-terminated by us whatever the callback wrote.
            message[MESSAGE_CAP - 1] = 0;
            // SAFETY: `message` is NUL-terminated (just set).
            let text = unsafe { CStr::from_ptr(message.as_ptr()) }.to_string_lossy();
            let text: String = text
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let text = text.trim();
            return Err(Error::key(if text.is_empty() {
                format!("the signer failed (it returned {rc})")
            } else {
                format!("the signer failed (it returned {rc}): {text}")
            }));
        }
        if len > SIGNATURE_CAP {
            return Err(Error::key(format!(
                "the signer said it wrote {len} bytes, more than the {SIGNATURE_CAP} it was given"
            )));
        }
        signature.truncate(len);
        Ok(signature)
    }
}

impl Drop for CallbackSigner {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: called once, when no request can use the signer any more.
            unsafe { free(self.user_data.ptr()) }
        }
    }
}

/// Signs client assertions (`private_key_jwt`) with `sign`, a key the
/// library never sees: `alg` is its algorithm (ES256, ES384, ES512, RS256,
/// RS384, RS512, PS256, PS384, PS512, EdDSA), `key_id` the `kid` of the
/// assertions (NULL: none). The library builds the header and claims,
/// calls `sign` with the exact signing input, checks the signature's
/// length for `alg` and converts DER ECDSA signatures to `r || s` (see
/// `tokenclient_sign_fn`). A failing callback gives `TOKENCLIENT_ERROR_KEY`
/// with its message; a callback that returns after the call's deadline
/// fails the call with `TOKENCLIENT_ERROR_TRANSPORT` (timed out) before
/// anything is sent. Replaces other credentials.
///
/// Ownership: `user_data` stays the caller's; `free_user_data` (NULL:
/// none) is called with it once the signer is no longer used: after it is
/// replaced and every request using it has ended, or when the client is
/// freed; possibly on another thread. On error neither is kept and
/// `free_user_data` is not called.
///
/// fork(): the callback is called in whichever process signs; a signer
/// holding a connection or session (a KMS client, a PKCS#11 session) must
/// reopen it in a forked child.
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client or
/// `sign`, invalid UTF-8, an unknown algorithm, an HMAC algorithm, or a
/// `key_id` with control characters or over 1024 bytes.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_signer(
    client: *mut tokenclient_client,
    alg: *const c_char,
    key_id: *const c_char,
    sign: tokenclient_sign_fn,
    user_data: *mut c_void,
    free_user_data: tokenclient_free_fn,
) -> *mut tokenclient_error {
    boundary(|| {
        let c = self::client(client)?;
        let (alg, sign) = checked(alg, sign)?;
        let key_id = opt_str_arg(key_id, "key_id")?;
        if let Some(kid) = key_id {
            crate::client::check_key_id(kid)?;
        }
        c.set_signer(
            CallbackSigner::new(sign, user_data, free_user_data),
            alg,
            key_id,
        )
    })
}

/// Signs DPoP proofs (see `tokenclient_client_set_dpop_key`) with `sign`, a
/// key the library never sees: `alg` as for `tokenclient_client_set_signer`,
/// `public_key` its public half as PEM (`-----BEGIN PUBLIC KEY-----`) or
/// bare base64 of the DER SubjectPublicKeyInfo, named in every proof's
/// header (its thumbprint is the `jkt` of bound tokens). The callback, the
/// signature forms and `free_user_data` as for
/// `tokenclient_client_set_signer`. Replaces the DPoP key.
///
/// Ownership: as for `tokenclient_client_set_signer`.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client, `alg`,
/// `public_key` or `sign`, invalid UTF-8, an unknown or HMAC algorithm;
/// `TOKENCLIENT_ERROR_KEY` for a public key that cannot be read or that
/// `alg` does not fit.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_dpop_signer(
    client: *mut tokenclient_client,
    alg: *const c_char,
    public_key: *const c_char,
    sign: tokenclient_sign_fn,
    user_data: *mut c_void,
    free_user_data: tokenclient_free_fn,
) -> *mut tokenclient_error {
    boundary(|| {
        let c = self::client(client)?;
        let (alg, sign) = checked(alg, sign)?;
        let public_key = str_arg(public_key, "public_key")?;
        // Checked before the signer exists (an error must not free the
        // caller's user data).
        crate::keys::parse_public_key(public_key)?.1.require(alg)?;
        let signer = CallbackSigner::new(sign, user_data, free_user_data);
        c.set_dpop_signer(signer, alg, public_key)
    })
}
