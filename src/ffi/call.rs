//! `tokenclient_cancel` and `tokenclient_call_options`: one call's deadline
//! and the handle that stops it.

use std::time::Duration;

use super::{boundary, error::tokenclient_error, guard, out_arg, write_out};
use crate::error::{Error, Result};
use crate::transport::{CallOptions, Cancel};

/// Stops the calls it is given to (through `tokenclient_call_options`).
/// Opaque; create it with `tokenclient_cancel_new`, fire it with
/// `tokenclient_cancel_cancel`, free it with `tokenclient_cancel_free`.
///
/// Thread safety: any thread may cancel while others run calls with it.
/// Once cancelled it stays cancelled: make a new one for the next call.
/// fork(): a child's calls are stopped by the child's cancels only.
pub struct tokenclient_cancel {
    inner: Cancel,
}

/// Creates a cancel handle (not cancelled) and writes it to `*out`.
///
/// Ownership: on success `*out` is a new handle; free it with
/// `tokenclient_cancel_free` once no call uses it. On error `*out` is not
/// written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL `out`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_cancel_new(
    out: *mut *mut tokenclient_cancel,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let handle = Box::new(tokenclient_cancel {
            inner: Cancel::new(),
        });
        write_out(out, Box::into_raw(handle));
        Ok(())
    })
}

/// Cancels every call given `cancel`, running or to come: each returns
/// `TOKENCLIENT_ERROR_CANCELLED` within a few milliseconds, abandoning its
/// request (the connection is closed, never reused half-read). A
/// `tokenclient_client_get_token_ex` waiting for a request that other
/// callers share stops waiting; the request goes on for them.
///
/// Idempotent; NULL does nothing. Thread-safe, and async-signal-safe: it
/// stores a flag and writes one byte to a pipe, so it may be called from a
/// signal handler.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_cancel_cancel(cancel: *mut tokenclient_cancel) {
    // No panic boundary: nothing here can panic, and a signal handler must
    // not run the unwinding machinery.
    if let Some(handle) = cancel.as_ref() {
        handle.inner.cancel();
    }
}

/// Frees `cancel`. NULL is allowed and does nothing. Calls still running
/// with it keep what they need: freeing it neither cancels them nor makes
/// them unsafe, but they can no longer be cancelled through it.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_cancel_free(cancel: *mut tokenclient_cancel) {
    guard((), || {
        if !cancel.is_null() {
            drop(Box::from_raw(cancel));
        }
    })
}

/// The options of one call, taken by every function that does I/O (the
/// `_ex` forms). Zero-initialised (or a NULL pointer) means the defaults.
#[repr(C)]
pub struct tokenclient_call_options {
    /// `sizeof(tokenclient_call_options)` as the caller was compiled with,
    /// or 0 (then the fields of this first version are read): lets the
    /// struct grow without breaking older callers.
    pub struct_size: u32,
    /// The whole call's time in milliseconds, retries and waits included;
    /// 0: the client's total timeout (`tokenclient_client_set_timeout_ms`).
    pub deadline_ms: u32,
    /// Stops the call when cancelled; NULL: none. Borrowed for the call.
    pub cancel: *mut tokenclient_cancel,
}

/// The size of the first version of `tokenclient_call_options`.
const V1_SIZE: usize = std::mem::size_of::<tokenclient_call_options>();

/// Reads call options given by C (NULL: the defaults).
///
/// # Safety
/// `options` is NULL or points to at least `struct_size` readable bytes
/// (all of the struct when `struct_size` is 0), whose `cancel` is NULL or a
/// live handle.
pub(crate) unsafe fn call_options(options: *const tokenclient_call_options) -> Result<CallOptions> {
    let Some(o) = options.as_ref() else {
        return Ok(CallOptions::default());
    };
    let size = o.struct_size as usize;
    if size != 0 && size < V1_SIZE {
        return Err(Error::invalid_argument(format!(
            "options: struct_size {size} is smaller than the first version's {V1_SIZE}"
        )));
    }
    Ok(CallOptions {
        deadline: (o.deadline_ms != 0).then(|| Duration::from_millis(u64::from(o.deadline_ms))),
        cancel: o.cancel.as_ref().map(|c| c.inner.clone()),
    })
}
