//! One libcurl request (a POST whose body libcurl reads in place, or a
//! GET), driven by a multi handle so a cancel can stop it at once.
//!
//! `CURLOPT_COPYPOSTFIELDS` (the curl crate's `post_fields_copy`) would copy
//! the body, which may hold a client secret or an assertion, into memory
//! that libcurl frees without wiping; a read callback avoids that but makes
//! libcurl send the headers and the body in two writes, which costs the
//! server a second wake-up per request (it halved the exchange rate on
//! loopback). `CURLOPT_POSTFIELDS` points libcurl at the caller's buffer:
//! one write, no copy. The pointer is set only for the duration of one
//! transfer on a borrowed body, and cleared before returning.
//!
//! `curl_easy_perform` waits in a poll that only libcurl's sockets can
//! wake, so it cannot be stopped sooner than its next timeout. Each pooled
//! easy handle therefore has its own multi handle (whose connection cache
//! keeps the handle's connections and TLS sessions between requests), and
//! the transfer is driven here, polling the cancel pipe with libcurl's
//! sockets.
#![allow(unsafe_code)]

use std::time::{Duration, Instant};

use curl::easy::{Easy2, Handler};
use curl::multi::{Multi, WaitFd};

use super::{Cancel, CANCEL_POLL};

/// An easy handle and the multi handle that drives it.
pub(crate) struct Conn<H> {
    multi: Multi,
    /// Always present between transfers; `None` only if libcurl refused to
    /// take the handle back (the connection is then dropped).
    easy: Option<Easy2<H>>,
}

// SAFETY: libcurl allows a multi handle (and its easy handles) to be used
// from any thread, one thread at a time. A `Conn` is owned by one request
// at a time (the pool hands it out by value) and holds no thread-local
// state: no callbacks are set on the multi handle, no waker is made, and
// the easy handle is attached to it only inside `perform`.
unsafe impl<H: Send> Send for Conn<H> {}

/// How a transfer ended, short of an answer.
pub(crate) enum Failed {
    /// libcurl's error for the transfer.
    Curl(curl::Error),
    /// The cancel signal fired: the transfer was abandoned.
    Cancelled,
    /// The multi handle failed (out of memory, a bad handle).
    Multi(curl::MultiError),
    /// The deadline passed and libcurl had not ended the transfer.
    TimedOut,
}

/// How long past the deadline libcurl is given to end a transfer with its
/// own timeout before the transfer is abandoned here.
const DEADLINE_GRACE: Duration = Duration::from_millis(20);

impl<H: Handler> Conn<H> {
    pub(crate) fn new(handler: H) -> Conn<H> {
        Conn {
            multi: Multi::new(),
            easy: Some(Easy2::new(handler)),
        }
    }

    /// The easy handle, between transfers.
    pub(crate) fn easy(&mut self) -> Option<&mut Easy2<H>> {
        self.easy.as_mut()
    }

    /// Sends the request the easy handle is set up for, POSTing `body` when
    /// given (headers and body in one write when they fit), and waits for
    /// the answer, watching `cancel`. After a failure the connection should
    /// not be reused.
    pub(crate) fn perform(
        &mut self,
        body: Option<&[u8]>,
        cancel: Option<&Cancel>,
        until: Instant,
    ) -> Result<(), Failed> {
        let Some(raw) = self.easy.as_ref().map(Easy2::raw) else {
            return Err(Failed::Curl(curl::Error::new(curl_sys::CURLE_FAILED_INIT)));
        };
        let Some(body) = body else {
            let easy = self.easy.take().expect("checked above");
            return self.drive(easy, cancel, until);
        };
        let size = curl_sys::curl_off_t::try_from(body.len())
            .map_err(|_| Failed::Curl(curl::Error::new(curl_sys::CURLE_BAD_FUNCTION_ARGUMENT)))?;
        // SAFETY: `raw` is the live handle owned by `easy` (then by the
        // multi handle's `Easy2Handle`, then by `self.easy` again); `body`
        // outlives the transfer, and the pointer is cleared below before
        // `body`'s borrow ends, so libcurl never reads it afterwards. The
        // options take a curl_off_t and a pointer.
        unsafe {
            check(curl_sys::curl_easy_setopt(
                raw,
                curl_sys::CURLOPT_POSTFIELDSIZE_LARGE,
                size,
            ))?;
            check(curl_sys::curl_easy_setopt(
                raw,
                curl_sys::CURLOPT_POSTFIELDS,
                body.as_ptr(),
            ))?;
        }
        let easy = self.easy.take().expect("checked above");
        let result = self.drive(easy, cancel, until);
        // SAFETY: as above; a NULL body with size 0 is an empty POST. The
        // handle is detached from the multi handle (or freed with it).
        if let Some(easy) = &self.easy {
            unsafe {
                curl_sys::curl_easy_setopt(
                    easy.raw(),
                    curl_sys::CURLOPT_POSTFIELDS,
                    std::ptr::null::<u8>(),
                );
                curl_sys::curl_easy_setopt(
                    easy.raw(),
                    curl_sys::CURLOPT_POSTFIELDSIZE_LARGE,
                    0 as curl_sys::curl_off_t,
                );
            }
        }
        result
    }

    /// Runs the transfer of `easy` to its end (or its cancel), then takes
    /// the handle back.
    fn drive(
        &mut self,
        easy: Easy2<H>,
        cancel: Option<&Cancel>,
        until: Instant,
    ) -> Result<(), Failed> {
        let handle = self.multi.add2(easy).map_err(Failed::Multi)?;
        let wake = cancel.and_then(Cancel::wake_fd);
        // A pipe readable while the flag is clear was written by a cancel in
        // the parent of a forked child: no longer worth watching.
        let mut watch_pipe = wake.is_some();
        let cancelled = || cancel.is_some_and(Cancel::is_cancelled);
        let outcome = loop {
            if cancelled() {
                break Err(Failed::Cancelled);
            }
            match self.multi.perform() {
                Err(e) => break Err(Failed::Multi(e)),
                Ok(0) => break Ok(()),
                Ok(_) => {}
            }
            // libcurl's own timeout (set to the deadline) normally ends the
            // transfer; this bounds the call should it not.
            let now = Instant::now();
            if now > until + DEADLINE_GRACE {
                break Err(Failed::TimedOut);
            }
            let mut fds = [WaitFd::new()];
            let watched = match wake {
                Some(fd) if watch_pipe => {
                    fds[0].set_fd(fd);
                    fds[0].poll_on_read(true);
                    1
                }
                _ => 0,
            };
            // Until libcurl's next timer (its timeouts, retransmits, the
            // resolver), which curl_multi_poll does not always honour on
            // its own; at most a second.
            let timer = self
                .multi
                .get_timeout()
                .ok()
                .flatten()
                .unwrap_or(Duration::from_secs(1));
            let to_deadline = (until + Duration::from_millis(1)).saturating_duration_since(now);
            let wait = if cancel.is_some() && watched == 0 {
                timer.min(CANCEL_POLL)
            } else {
                timer.min(Duration::from_secs(1))
            }
            .min(to_deadline.max(Duration::from_millis(1)));
            if let Err(e) = self.multi.poll(&mut fds[..watched], wait) {
                break Err(Failed::Multi(e));
            }
            if watched == 1 && fds[0].received_read() && !cancelled() {
                watch_pipe = false;
            }
        };
        let mut result = None;
        if outcome.is_ok() {
            self.multi.messages(|message| {
                if let Some(r) = message.result_for2(&handle) {
                    result = Some(r);
                }
            });
        }
        // Detaching a handle mid-transfer closes its connection: a
        // cancelled request leaves nothing half-read for the next one.
        match self.multi.remove2(handle) {
            Ok(easy) => self.easy = Some(easy),
            Err(e) => return Err(Failed::Multi(e)),
        }
        outcome?;
        match result {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(Failed::Curl(e)),
            None => Err(Failed::Curl(curl::Error::new(curl_sys::CURLE_FAILED_INIT))),
        }
    }
}

fn check(code: curl_sys::CURLcode) -> Result<(), Failed> {
    if code == curl_sys::CURLE_OK {
        Ok(())
    } else {
        Err(Failed::Curl(curl::Error::new(code)))
    }
}

/// A handler that keeps the buffers libcurl was pointed at in place.
pub(crate) trait Pins {
    /// Keeps `blob` alive, unmoved, until `unpin_all`.
    fn pin(&mut self, blob: std::sync::Arc<zeroize::Zeroizing<Vec<u8>>>);
    fn unpin_all(&mut self);
}

/// Which blob option `set_blob_in_place` sets.
pub(crate) enum Blob {
    /// `CURLOPT_SSLCERT_BLOB`: the client certificate (PEM).
    ClientCert,
    /// `CURLOPT_SSLKEY_BLOB`: its private key (PEM).
    ClientKey,
}

/// Points libcurl at `blob` in place (`CURL_BLOB_NOCOPY`): the curl
/// crate's blob setters make libcurl copy it, and libcurl frees its copy
/// (here, a private key) without wiping it. The handler pins the buffer
/// until `reset`, the only way the option is cleared, so libcurl never
/// holds a dangling pointer.
pub(crate) fn set_blob_in_place<H: Handler + Pins>(
    easy: &mut Easy2<H>,
    which: Blob,
    blob: &std::sync::Arc<zeroize::Zeroizing<Vec<u8>>>,
) -> Result<(), curl::Error> {
    let option = match which {
        Blob::ClientCert => curl_sys::CURLOPT_SSLCERT_BLOB,
        Blob::ClientKey => curl_sys::CURLOPT_SSLKEY_BLOB,
    };
    easy.get_mut().pin(blob.clone());
    let mut value = curl_sys::curl_blob {
        data: blob.as_ptr() as *mut std::ffi::c_void,
        len: blob.len(),
        flags: curl_sys::CURL_BLOB_NOCOPY,
    };
    // SAFETY: the handle is valid (owned by `easy`); libcurl reads the
    // `curl_blob` struct during the call and keeps only its data pointer,
    // whose buffer the handler now holds (an `Arc`'s heap buffer never
    // moves) until `reset` clears the option.
    let code = unsafe {
        curl_sys::curl_easy_setopt(easy.raw(), option, &mut value as *mut curl_sys::curl_blob)
    };
    if code == curl_sys::CURLE_OK {
        Ok(())
    } else {
        Err(curl::Error::new(code))
    }
}

/// Resets the handle's options (keeping its connections), then lets go of
/// the buffers it was pointed at.
pub(crate) fn reset<H: Handler + Pins>(easy: &mut Easy2<H>) {
    easy.reset();
    easy.get_mut().unpin_all();
}
