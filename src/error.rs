//! Errors: one type for the whole crate, with a kind that maps 1:1 onto the
//! C enum `tokenclient_error_kind`.
#![forbid(unsafe_code)]

use std::fmt;

/// What went wrong, in the categories a caller can act on.
///
/// The numeric values are part of the C ABI: they are only ever appended to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// NULL, invalid UTF-8, bad URL, bad option value.
    InvalidArgument = 1,
    /// Key unreadable, or of the wrong type for the algorithm.
    Key = 2,
    /// Missing credentials, or a method/credential mismatch.
    Config = 3,
    /// DNS, connect, TLS, timeout, response too large.
    Transport = 4,
    /// The server answered with an RFC 6749 §5.2 error.
    OAuth = 5,
    /// A non-2xx answer without a valid OAuth error body.
    Http = 6,
    /// A 2xx answer that is not a valid token response.
    Response = 7,
    /// A bug caught at the C boundary.
    Panic = 8,
    /// The call was cancelled through its cancel handle.
    Cancelled = 9,
}

/// The fields of an RFC 6749 §5.2 error response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OAuthDetails {
    pub code: String,
    pub description: Option<String>,
    pub uri: Option<String>,
}

/// An error from tokenclient. Its message never contains a secret: client
/// secrets, private keys, assertions and tokens are never formatted into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    http_status: u16,
    /// Rarely present, so boxed: keeps `Result<T, Error>` small.
    extra: Option<Box<Extra>>,
    /// Worth retrying: a transport failure or an overloaded server.
    transient: bool,
    /// The server cannot have processed the request (it was never sent, or
    /// the server said so with 429/503), so even a single-use grant may be
    /// retried.
    not_processed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Extra {
    oauth: Option<OAuthDetails>,
    retry_after: Option<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let message = message.into();
        crate::audit::message(&message);
        Error {
            kind,
            message,
            http_status: 0,
            extra: None,
            transient: false,
            not_processed: false,
        }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn key(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Key, message)
    }

    /// The call was cancelled: it stopped, and its request (if one was
    /// under way) was abandoned.
    pub fn cancelled() -> Self {
        Self::new(ErrorKind::Cancelled, "the call was cancelled")
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub fn with_http_status(mut self, status: u16) -> Self {
        self.http_status = status;
        self
    }

    pub fn with_oauth(mut self, details: OAuthDetails) -> Self {
        crate::audit::message(&details.code);
        for text in [&details.description, &details.uri].into_iter().flatten() {
            crate::audit::message(text);
        }
        self.extra.get_or_insert_with(Box::default).oauth = Some(details);
        self
    }

    pub(crate) fn mark_transient(mut self, not_processed: bool) -> Self {
        self.transient = true;
        self.not_processed = not_processed;
        self
    }

    /// Whether retrying the same request may succeed.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// Whether the server certainly did not process the request.
    pub fn is_not_processed(&self) -> bool {
        self.not_processed
    }

    /// Records the server's `Retry-After` (seconds or an HTTP date), and
    /// says it in the message.
    pub fn with_retry_after(mut self, value: &str) -> Self {
        let value: String = value.chars().filter(|c| !c.is_control()).take(64).collect();
        self.message.push_str(&format!(" (Retry-After: {value})"));
        crate::audit::message(&self.message);
        self.extra.get_or_insert_with(Box::default).retry_after = Some(value);
        self
    }

    /// Appends ` (note)` to the message.
    pub(crate) fn with_note(mut self, note: &str) -> Self {
        self.message.push_str(&format!(" ({note})"));
        crate::audit::message(&self.message);
        self
    }

    /// Says in the message that the call's deadline ran out, and after how
    /// many attempts.
    pub(crate) fn with_deadline_note(mut self, total: std::time::Duration, attempts: u32) -> Self {
        let s = if attempts == 1 { "" } else { "s" };
        self.message.push_str(&format!(
            " (the call's deadline of {} ms ran out after {attempts} attempt{s})",
            total.as_millis()
        ));
        crate::audit::message(&self.message);
        self
    }

    /// The `Retry-After` of the answer that caused the error, if it had one.
    pub fn retry_after(&self) -> Option<&str> {
        self.extra.as_ref()?.retry_after.as_deref()
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status of the answer that caused the error, 0 when none.
    pub fn http_status(&self) -> u16 {
        self.http_status
    }

    pub fn oauth(&self) -> Option<&OAuthDetails> {
        self.extra.as_ref()?.oauth.as_ref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
