//! Cancellation of a call from another thread (or a signal handler).
//!
//! A `Cancel` is a flag and, once a transfer has waited on it, a pipe (a
//! connected socket pair): the transfer's poll watches the pipe's read end, so a cancel wakes it at
//! once instead of at its next timeout. Cancelling stores the flag and
//! writes one byte to the pipe, both async-signal-safe; nothing allocates
//! or locks.
#![forbid(unsafe_code)]

use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// A cancellation signal shared by the canceller and the calls it may stop.
/// Cloning shares it. Once cancelled it stays cancelled.
#[derive(Clone, Default)]
pub struct Cancel {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    /// Made by the first transfer that waits on it; `None` if the process
    /// is out of file descriptors (the transfer then polls the flag).
    pipe: OnceLock<Option<(UnixStream, UnixStream)>>,
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Cancels every call given this signal, now and later. Idempotent,
    /// thread-safe and async-signal-safe.
    pub fn cancel(&self) {
        if self.inner.cancelled.swap(true, Ordering::SeqCst) {
            return;
        }
        // Pairs with the fence in `wake_fd`: either this sees the pipe, or
        // the transfer sees the flag.
        std::sync::atomic::fence(Ordering::SeqCst);
        if let Some(Some((_, writer))) = self.inner.pipe.get() {
            // One byte, written once: the pipe can never be full. Readable
            // from now on, so every poll on it returns at once.
            let _ = (&*writer).write(&[1]);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// A descriptor that becomes readable when cancelled, for a poll to
    /// watch; `None` when no pipe could be made.
    ///
    /// Check `is_cancelled` after taking it: a cancel that came before the
    /// pipe existed wrote nothing to it. (The flag is stored before the
    /// pipe is looked at, and the pipe is made before the flag is read, so
    /// one of the two sides always sees the other.)
    pub(crate) fn wake_fd(&self) -> Option<RawFd> {
        let pipe = self.inner.pipe.get_or_init(|| UnixStream::pair().ok());
        std::sync::atomic::fence(Ordering::SeqCst);
        pipe.as_ref().map(|(reader, _)| reader.as_raw_fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_is_sticky_and_shared_by_clones() {
        let cancel = Cancel::new();
        let seen_by = cancel.clone();
        assert!(!seen_by.is_cancelled());
        assert!(cancel.wake_fd().is_some());
        cancel.cancel();
        cancel.cancel();
        assert!(seen_by.is_cancelled());
    }

    /// The pipe is readable after a cancel, whether it existed before the
    /// cancel or was made after it (then the flag tells).
    #[test]
    fn the_wake_pipe_holds_one_byte_after_a_cancel() {
        use std::io::Read;
        let cancel = Cancel::new();
        let fd = cancel.wake_fd().unwrap();
        cancel.cancel();
        let (reader, _) = cancel.inner.pipe.get().unwrap().as_ref().unwrap();
        let mut byte = [0u8; 2];
        assert_eq!((&*reader).read(&mut byte).unwrap(), 1);
        assert_eq!(reader.as_raw_fd(), fd);

        let late = Cancel::new();
        late.cancel();
        assert!(late.wake_fd().is_some() && late.is_cancelled());
    }
}
