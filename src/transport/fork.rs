//! Fork detection, and state that a forked child must not share with its
//! parent: the connection pool (connections, TLS sessions), the token
//! cache's single-flight slots and the lock that serialises refresh-token
//! grants, the buffered randomness of `crate::random`, and the file
//! store's held leases (`CloseInChild`).
//!
//! [`PerProcess`] holds such state. After a fork, the child's first use
//! makes it a fresh value (optionally seeded from the parent's, read only
//! if that can be done without waiting). The parent's value is never used,
//! changed or dropped in the child: dropping the parent's curl handles
//! would close its connections, and a TLS `close_notify` sent from the
//! child would end the parent's sessions. It stays reachable from a
//! process-wide list, so leak checkers count it as still reachable.
#![allow(unsafe_code)]

use std::os::fd::RawFd;
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, Ordering};

use once_cell::sync::Lazy;

static FORKS: AtomicU64 = AtomicU64::new(0);

extern "C" fn in_child_after_fork() {
    FORKS.fetch_add(1, Ordering::Relaxed);
    for slot in &CLOSE_IN_CHILD {
        let fd = slot.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            // SAFETY: an open descriptor of the parent's that nothing in the
            // child uses (the thread that held it is not in the child);
            // close() is async-signal-safe.
            unsafe { libc::close(fd) };
        }
    }
}

/// Descriptors a forked child closes at once: a file lease's lock file,
/// whose `flock` belongs to the open file the child shares with its
/// parent, so that a child does not hold the parent's lease for its life.
static CLOSE_IN_CHILD: [AtomicI32; 64] = [const { AtomicI32::new(-1) }; 64];

/// A descriptor registered to be closed in a forked child, until dropped
/// (drop it before closing the descriptor). With more than 64 held at once
/// the others are not registered: a child then holds them until it exits,
/// and the others wait as for a holder that died.
pub(crate) struct CloseInChild(Option<usize>);

impl CloseInChild {
    pub(crate) fn register(fd: RawFd) -> CloseInChild {
        Lazy::force(&REGISTERED);
        let slot = CLOSE_IN_CHILD.iter().position(|slot| {
            slot.compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        });
        CloseInChild(slot)
    }
}

impl Drop for CloseInChild {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            CLOSE_IN_CHILD[i].store(-1, Ordering::Release);
        }
    }
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

/// One process's value of a `PerProcess`, and the process (fork count) it
/// belongs to.
struct Generation<T> {
    forks: u64,
    value: T,
}

/// A value of one process. A forked child gets its own, made on its first
/// use; the parent's is left alone (see the module's comment).
pub(crate) struct PerProcess<T> {
    /// Never null; points to a `Generation<T>` made by `Box`, which is freed
    /// only by `drop` in the process it belongs to.
    current: AtomicPtr<Generation<T>>,
    /// Makes a child's value, given the parent's.
    inherit: fn(&T) -> T,
}

fn forks_now() -> u64 {
    fork_count().unwrap_or(0)
}

impl<T: Default> Default for PerProcess<T> {
    /// A child's value starts as `T::default()`.
    fn default() -> Self {
        PerProcess::inheriting(|_| T::default())
    }
}

impl<T> PerProcess<T> {
    /// A child's value is `inherit(&parent's value)`. `inherit` runs in the
    /// child, where no other thread of the parent exists: it must not wait
    /// for a lock (one may have been held by a thread that is gone).
    pub(crate) fn inheriting(inherit: fn(&T) -> T) -> Self
    where
        T: Default,
    {
        let first = Box::new(Generation {
            forks: forks_now(),
            value: T::default(),
        });
        PerProcess {
            current: AtomicPtr::new(Box::into_raw(first)),
            inherit,
        }
    }

    /// This process's value.
    pub(crate) fn get(&self) -> &T {
        let forks = forks_now();
        loop {
            let current = self.current.load(Ordering::Acquire);
            // SAFETY: `current` is never null, and a generation is freed only
            // by `drop` (which has `&mut self`), so it lives as long as the
            // borrow of `self`.
            let generation = unsafe { &*current };
            if generation.forks == forks {
                return &generation.value;
            }
            // This process is a child of the one the value belongs to.
            let fresh = Box::into_raw(Box::new(Generation {
                forks,
                value: (self.inherit)(&generation.value),
            }));
            match self
                .current
                .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    keep_forever(current);
                    // SAFETY: just published, freed only by `drop`, as above.
                    return unsafe { &(*fresh).value };
                }
                Err(_) => {
                    // Another thread of this child made one first: use that.
                    // SAFETY: `fresh` was never shared.
                    drop(unsafe { Box::from_raw(fresh) });
                }
            }
        }
    }
}

impl<T> Drop for PerProcess<T> {
    fn drop(&mut self) {
        let current = *self.current.get_mut();
        // SAFETY: never null; not freed before (this is the only place).
        if unsafe { (*current).forks } == forks_now() {
            // SAFETY: made by `Box::into_raw`, and this process's own.
            drop(unsafe { Box::from_raw(current) });
        } else {
            // The parent's, never used in this child: not dropped here.
            keep_forever(current);
        }
    }
}

// SAFETY: a `PerProcess<T>` hands out `&T` to any thread, as `T` itself
// would when shared; it owns its `T` like a `Box`.
unsafe impl<T: Send + Sync> Sync for PerProcess<T> {}
unsafe impl<T: Send> Send for PerProcess<T> {}

/// A parent's value in a child, kept reachable (and never dropped).
struct Kept {
    /// Never read: it keeps the value reachable.
    #[allow(dead_code)]
    value: *const (),
    next: *mut Kept,
}

static KEPT: AtomicPtr<Kept> = AtomicPtr::new(ptr::null_mut());

fn keep_forever<T>(value: *mut Generation<T>) {
    let node = Box::into_raw(Box::new(Kept {
        value: value as *const (),
        next: ptr::null_mut(),
    }));
    let mut head = KEPT.load(Ordering::Acquire);
    loop {
        // SAFETY: `node` is ours until published below.
        unsafe { (*node).next = head };
        match KEPT.compare_exchange(head, node, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(now) => head = now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Without a fork, one value; it is dropped with its `PerProcess`.
    #[test]
    fn one_value_per_process() {
        let p: PerProcess<Mutex<Vec<u32>>> = PerProcess::default();
        p.get().lock().unwrap().push(1);
        p.get().lock().unwrap().push(2);
        assert_eq!(*p.get().lock().unwrap(), vec![1, 2]);
        assert!(fork_count().is_some(), "fork detection is set up");
    }
}
