//! Fork detection, for state that must not be shared by a parent and its
//! forked child (the buffered randomness of `crate::random`).
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use once_cell::sync::Lazy;

static FORKS: AtomicU64 = AtomicU64::new(0);

extern "C" fn in_child_after_fork() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}

/// glibc's `pthread_atfork` registers the handler for this shared object
/// only, and drops it if the object is unloaded.
static REGISTERED: Lazy<bool> =
    Lazy::new(|| unsafe { libc::pthread_atfork(None, None, Some(in_child_after_fork)) } == 0);

/// How many times this process is a fork's child (0 in the original one).
/// `None` if fork detection could not be set up.
pub(crate) fn fork_count() -> Option<u64> {
    if *REGISTERED {
        Some(FORKS.load(Ordering::Relaxed))
    } else {
        None
    }
}
