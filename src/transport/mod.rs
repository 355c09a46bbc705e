//! HTTP over libcurl: a pool of easy handles per client, so connections and
//! TLS sessions are reused across calls, with limits, timeouts and TLS
//! verification always set.
//!
//! The two places where the core calls C directly live here, each in its
//! own module with a narrowly scoped `allow(unsafe_code)`: `libcurl` (a
//! POST whose body libcurl reads in place) and `fork` (fork detection).
#![deny(unsafe_code)]

mod cancel;
mod fork;
mod libcurl;

pub use cancel::Cancel;
pub(crate) use fork::{fork_count, CloseInChild, PerProcess};

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use curl::easy::{Easy2, Handler, List, WriteError};
use libcurl::{Blob, Conn, Failed, Pins};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, ErrorKind, Result};

/// Transport settings, part of the client's settings snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct TransportOptions {
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    pub max_response_bytes: usize,
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<ClientCert>,
    /// `None`: libcurl's default, which honours `*_proxy`/`NO_PROXY`.
    /// `Some("")`: no proxy at all.
    pub proxy: Option<String>,
    /// Extra request headers, each `Name: value`.
    pub headers: Vec<String>,
}

pub const DEFAULT_CONNECT_TIMEOUT_MS: u32 = 10_000;
pub const DEFAULT_TOTAL_TIMEOUT_MS: u32 = 30_000;
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1 << 20;

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            connect_timeout: Duration::from_millis(u64::from(DEFAULT_CONNECT_TIMEOUT_MS)),
            total_timeout: Duration::from_millis(u64::from(DEFAULT_TOTAL_TIMEOUT_MS)),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            ca_file: None,
            client_cert: None,
            proxy: None,
            headers: Vec::new(),
        }
    }
}

/// The client certificate presented in TLS handshakes (mTLS), with its
/// private key: PEM files, or PEM text kept in memory (wiped when the last
/// copy goes).
#[derive(Clone, PartialEq)]
pub struct ClientCert {
    source: CertSource,
    /// base64url SHA-256 of the certificate's DER: `x5t#S256` (RFC 8705 §3.1).
    pub thumbprint: String,
}

#[derive(Clone, PartialEq)]
enum CertSource {
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    Pem {
        cert: Arc<Zeroizing<Vec<u8>>>,
        key: Arc<Zeroizing<Vec<u8>>>,
    },
}

impl std::fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is never shown.
        let mut d = f.debug_struct("ClientCert");
        if let CertSource::Files { cert, key } = &self.source {
            d.field("cert", cert).field("key", key);
        }
        d.field("x5t#S256", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl ClientCert {
    /// From PEM files, read now to check them (the key must be the
    /// certificate's) and to take the thumbprint; libcurl reads them again
    /// at each new connection.
    pub(crate) fn files(cert: PathBuf, key: PathBuf) -> Result<ClientCert> {
        let read = |path: &PathBuf, what: &str| {
            std::fs::read(path)
                .map(Zeroizing::new)
                .map_err(|e| Error::invalid_argument(format!("{what} cannot be read: {e}")))
        };
        let thumbprint = checked_pair(
            &read(&cert, "the client certificate")?,
            &read(&key, "the client key")?,
        )?;
        Ok(ClientCert {
            thumbprint,
            source: CertSource::Files { cert, key },
        })
    }

    /// From PEM text: the certificate and its private key (checked: the
    /// key must be the certificate's).
    pub(crate) fn pem(cert: &str, key: &str) -> Result<ClientCert> {
        Ok(ClientCert {
            thumbprint: checked_pair(cert.as_bytes(), key.as_bytes())?,
            source: CertSource::Pem {
                cert: Arc::new(Zeroizing::new(cert.as_bytes().to_vec())),
                key: Arc::new(Zeroizing::new(key.as_bytes().to_vec())),
            },
        })
    }
}

/// Checks that `key` (PEM, unencrypted) is the private key of the first
/// certificate in `cert` (PEM), and returns the certificate's `x5t#S256`.
fn checked_pair(cert: &[u8], key: &[u8]) -> Result<String> {
    use base64::Engine;
    let cert = openssl::x509::X509::from_pem(cert)
        .map_err(|_| Error::invalid_argument("the client certificate is not a PEM certificate"))?;
    // OpenSSL clears a parsed private key when it frees it.
    // A passphrase callback that refuses: OpenSSL's default one would
    // prompt on the terminal for an encrypted key.
    let key = openssl::pkey::PKey::private_key_from_pem_callback(key, |_| {
        Err(openssl::error::ErrorStack::get())
    })
    .map_err(|_| Error::key("the client key is not an unencrypted PEM private key"))?;
    let matches = cert
        .public_key()
        .map(|public| public.public_eq(&key))
        .unwrap_or(false);
    if !matches {
        return Err(Error::key(
            "the client key is not the client certificate's key",
        ));
    }
    let der = cert
        .to_der()
        .map_err(|_| Error::invalid_argument("the client certificate cannot be encoded"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(openssl::sha::sha256(&der)))
}

/// What one call may take and who may stop it. The default: the client's
/// total timeout, not cancellable.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// The whole call's time, retries included; `None`: the client's
    /// total timeout.
    pub deadline: Option<Duration>,
    /// Stops the call when cancelled.
    pub cancel: Option<Cancel>,
}

impl CallOptions {
    /// Whether the call differs from the client's default (its own
    /// deadline, or a way to stop it).
    pub(crate) fn is_default(&self) -> bool {
        self.deadline.is_none() && self.cancel.is_none()
    }
}

/// How often a wait that cannot watch the cancel pipe looks at the flag.
pub(crate) const CANCEL_POLL: Duration = Duration::from_millis(5);

/// When a call must end: one instant for the whole call, retries and
/// backoff included. Each request gets what remains of it. It also carries
/// the call's cancel signal.
#[derive(Debug, Clone)]
pub(crate) struct Deadline {
    at: Instant,
    total: Duration,
    cancel: Option<Cancel>,
}

impl Deadline {
    /// `total` from now.
    pub(crate) fn after(total: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + total,
            total,
            cancel: None,
        }
    }

    /// The deadline of a call starting now with `options`, `default` being
    /// the client's total timeout.
    pub(crate) fn for_call(default: Duration, options: &CallOptions) -> Deadline {
        Deadline {
            cancel: options.cancel.clone(),
            ..Deadline::after(options.deadline.unwrap_or(default))
        }
    }

    pub(crate) fn cancel(&self) -> Option<&Cancel> {
        self.cancel.as_ref()
    }

    /// A `Cancelled` error once the call has been cancelled.
    pub(crate) fn check(&self) -> Result<()> {
        match &self.cancel {
            Some(c) if c.is_cancelled() => Err(Error::cancelled()),
            _ => Ok(()),
        }
    }

    /// Sleeps for `wait` (a retry's backoff), ending early with `Cancelled`.
    pub(crate) fn sleep(&self, wait: Duration) -> Result<()> {
        let Some(cancel) = &self.cancel else {
            std::thread::sleep(wait);
            return Ok(());
        };
        let until = Instant::now() + wait;
        loop {
            self.check()?;
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(CANCEL_POLL));
            if cancel.is_cancelled() {
                return Err(Error::cancelled());
            }
        }
    }

    /// What remains of it, zero once it has passed.
    pub(crate) fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// The whole call's time, for messages.
    pub(crate) fn total(&self) -> Duration {
        self.total
    }
}

/// One request to send: a POST of a form, or a GET (`body: None`).
pub struct Request<'a> {
    pub url: &'a str,
    /// The form to POST; `None` for a GET.
    pub body: Option<&'a [u8]>,
    /// The value of an `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// A DPoP proof for the `DPoP` header, if any (new for every request).
    pub dpop: Option<&'a str>,
}

/// What came back.
pub struct Response {
    pub status: u32,
    pub body: Zeroizing<Vec<u8>>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// The `max-age` of a `Cache-Control` header, seconds, if any (and no
    /// `no-store` or `no-cache`: then 0).
    pub max_age: Option<u64>,
    /// The `DPoP-Nonce` header, if any, cut at `MAX_NONCE + 1` bytes (so
    /// that an oversized one is seen as such and refused).
    pub dpop_nonce: Option<String>,
}

/// Collects one answer up to the size limit. The buffer is wiped between
/// requests.
#[derive(Default)]
struct Collector {
    /// What the handle's options were last set for: while it stays the
    /// same, the next request on the handle sets nothing again.
    configured: Option<Configured>,
    body: Zeroizing<Vec<u8>>,
    limit: usize,
    overflowed: bool,
    retry_after: Option<String>,
    max_age: Option<u64>,
    dpop_nonce: Option<String>,
    /// What libcurl was pointed at in place (see `libcurl::Pins`).
    pinned: Vec<Arc<Zeroizing<Vec<u8>>>>,
}

impl Pins for Collector {
    fn pin(&mut self, blob: Arc<Zeroizing<Vec<u8>>>) {
        self.pinned.push(blob);
    }

    fn unpin_all(&mut self) {
        self.pinned.clear();
    }
}

#[derive(PartialEq)]
struct Configured {
    options: TransportOptions,
    url: String,
    post: bool,
    authorization: Option<Zeroizing<String>>,
    /// Whether the headers set carry a DPoP proof.
    dpop: bool,
}

impl Configured {
    /// Whether the handle is set up for `request` already, but for the
    /// DPoP header (new every time: set on its own).
    fn matches(&self, options: &TransportOptions, request: &Request<'_>) -> bool {
        self.url == request.url
            && self.post == request.body.is_some()
            && self.authorization.as_deref().map(String::as_str) == request.authorization
            && self.options == *options
    }
}

impl Collector {
    fn start(&mut self, limit: usize) {
        self.body.zeroize();
        self.limit = limit;
        self.overflowed = false;
        self.retry_after = None;
        self.max_age = None;
        self.dpop_nonce = None;
    }

    fn finish(&mut self) {
        self.body.zeroize();
    }
}

impl Handler for Collector {
    fn write(&mut self, data: &[u8]) -> std::result::Result<usize, WriteError> {
        if self.body.len() + data.len() > self.limit {
            self.overflowed = true;
            return Ok(0); // anything short of data.len() aborts the transfer
        }
        if self.body.capacity() - self.body.len() < data.len() {
            // Grown by hand: a reallocation would free the old buffer, token
            // and all, without wiping it. The old one is wiped when dropped.
            let wanted = (self.body.len() + data.len()).max(2 * self.body.capacity());
            let mut grown = Vec::with_capacity(wanted.min(self.limit));
            grown.extend_from_slice(&self.body);
            self.body = Zeroizing::new(grown);
        }
        self.body.extend_from_slice(data);
        Ok(data.len())
    }

    fn header(&mut self, data: &[u8]) -> bool {
        // A new status line (e.g. after "100 Continue") starts a new header block.
        if data.starts_with(b"HTTP/") {
            self.retry_after = None;
            self.max_age = None;
            self.dpop_nonce = None;
        }
        // Only three headers are read; every other line is skipped unread.
        let is = |name: &[u8]| {
            data.get(..name.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
                && data.get(name.len()) == Some(&b':')
        };
        let (retry_after, cache_control, nonce) =
            (is(b"retry-after"), is(b"cache-control"), is(b"dpop-nonce"));
        if !retry_after && !cache_control && !nonce {
            return true;
        }
        let Some((_, value)) = std::str::from_utf8(data)
            .ok()
            .and_then(|l| l.split_once(':'))
        else {
            return true;
        };
        if retry_after {
            self.retry_after = Some(value.trim().chars().take(64).collect());
        } else if nonce {
            let limit = crate::dpop::MAX_NONCE + 1;
            self.dpop_nonce = Some(value.trim().chars().take(limit).collect());
        } else {
            self.max_age = cache_max_age(value);
        }
        true
    }
}

/// The freshness a `Cache-Control` value allows, seconds: `max-age`, or 0
/// for `no-store`/`no-cache`; `None` when it says neither.
fn cache_max_age(value: &str) -> Option<u64> {
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        let (name, arg) = directive.split_once('=').unwrap_or((directive, ""));
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if name.eq_ignore_ascii_case("max-age") {
            max_age = arg.trim_matches('"').parse::<u64>().ok();
        }
    }
    max_age
}

/// The easy handles of one client. A request takes a handle (or makes one),
/// and puts it back when done, so concurrent requests each have their own.
/// The handles are this process's: a forked child starts with none, and
/// never uses or closes its parent's (their connections and TLS sessions
/// are the parent's).
#[derive(Default)]
pub struct Pool {
    idle: PerProcess<Mutex<Vec<Conn<Collector>>>>,
}

/// Handles kept idle at most; more are closed after use.
const MAX_IDLE: usize = 16;

fn setup_error(e: curl::Error) -> Error {
    Error::new(
        ErrorKind::Transport,
        format!("libcurl refused an option: {}", e.description()),
    )
}

fn user_agent() -> &'static str {
    concat!("tokenclient/", env!("CARGO_PKG_VERSION"))
}

impl Pool {
    /// Sends one request and returns the answer, whatever its status, by
    /// `deadline`.
    pub(crate) fn send(
        &self,
        options: &TransportOptions,
        request: &Request<'_>,
        deadline: &Deadline,
    ) -> Result<Response> {
        let idle = self.idle.get();
        let mut conn = idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_else(|| Conn::new(Collector::default()));
        let result = perform(&mut conn, options, request, deadline);
        if let Some(easy) = conn.easy() {
            easy.get_mut().finish();
        }
        // A handle that failed (or was cancelled) mid-transfer is dropped
        // rather than reused.
        if result.is_ok() && conn.easy().is_some() {
            let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
        result
    }
}

fn perform(
    conn: &mut Conn<Collector>,
    options: &TransportOptions,
    request: &Request<'_>,
    deadline: &Deadline,
) -> Result<Response> {
    deadline.check()?;
    let lost = || Error::new(ErrorKind::Transport, "libcurl lost the connection's handle");
    let easy = conn.easy().ok_or_else(lost)?;
    let current = easy.get_ref().configured.as_ref();
    if !current.is_some_and(|c| c.matches(options, request)) {
        easy.get_mut().configured = None;
        configure(easy, options, request).map_err(setup_error)?;
        easy.get_mut().configured = Some(Configured {
            options: options.clone(),
            url: request.url.to_string(),
            post: request.body.is_some(),
            authorization: request.authorization.map(|a| Zeroizing::new(a.to_string())),
            dpop: request.dpop.is_some(),
        });
    } else if request.dpop.is_some() || current.is_some_and(|c| c.dpop) {
        // Set up already but for the DPoP header: only the headers change.
        easy.http_headers(header_list(options, request).map_err(setup_error)?)
            .map_err(setup_error)?;
        if let Some(c) = easy.get_mut().configured.as_mut() {
            c.dpop = request.dpop.is_some();
        }
    }
    // The request gets what remains of the call's time (libcurl counts a
    // zero timeout as none, so a call already out of time sends nothing).
    let remaining = deadline.remaining();
    if remaining < Duration::from_millis(1) {
        return Err(Error::new(
            ErrorKind::Transport,
            "the call's time ran out before the request was sent",
        )
        .mark_transient(true));
    }
    // libcurl counts whole milliseconds: rounded up, so that a request
    // that times out ends at (not just before) the call's deadline.
    let whole_ms =
        Duration::from_millis(u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX) + 1);
    easy.timeout(whole_ms).map_err(setup_error)?;
    easy.connect_timeout(options.connect_timeout.min(remaining))
        .map_err(setup_error)?;
    easy.get_mut().start(options.max_response_bytes);
    // The body is read in place by libcurl, never copied (it may hold secrets).
    let outcome = conn.perform(request.body, deadline.cancel(), Instant::now() + remaining);
    let easy = conn.easy().ok_or_else(lost)?;
    let e = match outcome {
        Ok(()) => None,
        Err(Failed::Cancelled) => return Err(Error::cancelled()),
        Err(Failed::TimedOut) => {
            return Err(Error::new(
                ErrorKind::Transport,
                format!(
                    "the request timed out (connect timeout {} ms, {} ms left of the call)",
                    options.connect_timeout.as_millis(),
                    remaining.as_millis()
                ),
            )
            .mark_transient(false))
        }
        Err(Failed::Multi(e)) => {
            return Err(Error::new(
                ErrorKind::Transport,
                format!("libcurl's multi handle failed: {}", e.description()),
            ))
        }
        Err(Failed::Curl(e)) => Some(e),
    };
    if let Some(e) = e {
        // Content-Length over the limit (max_filesize), or a body that grew past it.
        if easy.get_ref().overflowed || e.is_filesize_exceeded() {
            return Err(Error::new(
                ErrorKind::Transport,
                format!(
                    "the response body is larger than the limit of {} bytes",
                    options.max_response_bytes
                ),
            ));
        }
        // Nothing of the request left this process: safe to retry anything.
        let unsent = easy.request_size().is_ok_and(|n| n == 0);
        return Err(transport_error(&e, options, remaining, unsent));
    }
    let status = easy.response_code().map_err(setup_error)?;
    let collector = easy.get_mut();
    Ok(Response {
        status,
        body: std::mem::take(&mut collector.body),
        retry_after: collector.retry_after.take(),
        max_age: collector.max_age.take(),
        dpop_nonce: collector.dpop_nonce.take(),
    })
}

fn configure(
    easy: &mut Easy2<Collector>,
    options: &TransportOptions,
    request: &Request<'_>,
) -> std::result::Result<(), curl::Error> {
    // Back to defaults (keeping live connections and TLS sessions), so no
    // option of an earlier request lingers.
    libcurl::reset(easy);
    easy.url(request.url)?;
    if request.body.is_some() {
        easy.post(true)?;
    } else {
        easy.get(true)?;
    }
    // Many threads, no signals: timeouts must not rely on SIGALRM.
    easy.signal(false)?;
    easy.follow_location(false)?;
    easy.ssl_verify_peer(true)?;
    easy.ssl_verify_host(true)?;
    easy.max_filesize(options.max_response_bytes as u64)?;
    easy.useragent(user_agent())?;
    easy.tcp_keepalive(true)?;
    if let Some(path) = &options.ca_file {
        easy.cainfo(path)?;
    }
    match options.client_cert.as_ref().map(|c| &c.source) {
        Some(CertSource::Files { cert, key }) => {
            easy.ssl_cert(cert)?;
            easy.ssl_key(key)?;
        }
        Some(CertSource::Pem { cert, key }) => {
            libcurl::set_blob_in_place(easy, Blob::ClientCert, cert)?;
            easy.ssl_cert_type("PEM")?;
            libcurl::set_blob_in_place(easy, Blob::ClientKey, key)?;
            easy.ssl_key_type("PEM")?;
        }
        None => {}
    }
    if let Some(proxy) = &options.proxy {
        easy.proxy(proxy)?;
    }
    easy.http_headers(header_list(options, request)?)?;
    Ok(())
}

/// The request's headers.
fn header_list(
    options: &TransportOptions,
    request: &Request<'_>,
) -> std::result::Result<List, curl::Error> {
    let mut headers = List::new();
    if request.body.is_some() {
        headers.append("Content-Type: application/x-www-form-urlencoded")?;
    }
    headers.append("Accept: application/json")?;
    // No "Expect: 100-continue" round trip for small bodies.
    headers.append("Expect:")?;
    if let Some(auth) = request.authorization {
        let mut line = Zeroizing::new(String::with_capacity(auth.len() + 16));
        line.push_str("Authorization: ");
        line.push_str(auth);
        headers.append(&line)?;
    }
    if let Some(proof) = request.dpop {
        headers.append(&format!("DPoP: {proof}"))?;
    }
    for header in &options.headers {
        headers.append(header)?;
    }
    Ok(headers)
}

fn transport_error(
    e: &curl::Error,
    options: &TransportOptions,
    allowed: Duration,
    unsent: bool,
) -> Error {
    let what = if e.is_operation_timedout() {
        format!(
            "the request timed out (connect timeout {} ms, {} ms left of the call)",
            options.connect_timeout.as_millis(),
            allowed.as_millis()
        )
    } else {
        format!("the request failed: {}", e.description())
    };
    let message = match e.extra_description() {
        Some(extra) if !extra.is_empty() && extra.trim() != e.description() => {
            format!("{what} ({})", extra.trim())
        }
        _ => what,
    };
    let error = Error::new(ErrorKind::Transport, message);
    // A certificate that does not verify will not verify on a retry.
    let permanent = e.is_peer_failed_verification()
        || e.is_ssl_certproblem()
        || e.is_ssl_cacert()
        || e.is_ssl_cacert_badfile();
    if permanent {
        error
    } else {
        let unsent = unsent || e.is_couldnt_resolve_host() || e.is_couldnt_connect();
        error.mark_transient(unsent)
    }
}
