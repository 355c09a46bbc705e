//! The client: one token endpoint, its credentials and settings, and
//! everything done with them. `mod.rs` holds the type and its settings
//! snapshot; `setters` changes them, `auth` authenticates requests and
//! signs assertions, `grants` exchanges grants for tokens, `tokens` serves
//! cached tokens (`get_token`).
#![forbid(unsafe_code)]

mod auth;
mod device;
pub use device::DeviceAuthorization;
mod dpop;
mod grants;
mod login;
mod oidc;
mod setters;
pub(crate) use setters::check_key_id;
mod store;
mod tokens;

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};

use zeroize::Zeroizing;

use crate::cache::{Cache, Clock, RefreshPolicy, SystemClock, TokenCallback};
use crate::dpop::{DpopKey, Nonces};
use crate::error::{Error, Result};
use crate::jose::JwsSigner;
use crate::keys::Algorithm;
use crate::oauth::{Audience, ClaimsTemplate, RetryPolicy};
use crate::observe::{CounterSet, Counters, LogSink};
use crate::transport::{CallOptions, Cancel, Deadline, PerProcess, Pool, TransportOptions};
use crate::url::check_endpoint;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// A public client: `client_id` in the body, no secret.
    None,
    /// `Authorization: Basic` with the form-urlencoded id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the body.
    ClientSecretPost,
    /// An assertion signed with HMAC over the client secret.
    ClientSecretJwt,
    /// An assertion signed with the client's private key.
    PrivateKeyJwt,
    /// The client certificate, issued by a CA the server trusts for this
    /// client, in the TLS handshake; `client_id` in the body (RFC 8705 §2.1).
    TlsClientAuth,
    /// A self-signed client certificate registered with the server (its
    /// JWKS), in the TLS handshake; `client_id` in the body (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
}

impl AuthMethod {
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::ClientSecretJwt => "client_secret_jwt",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::TlsClientAuth => "tls_client_auth",
            AuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }
}

/// Default assertion lifetime (`exp - now`), seconds.
pub const DEFAULT_ASSERTION_LIFETIME: u32 = 300;
/// Default backdating of `iat`, seconds, for servers whose clock is behind.
pub const DEFAULT_CLOCK_SKEW: u32 = 5;
/// Largest accepted assertion lifetime, seconds.
pub const MAX_ASSERTION_LIFETIME: u32 = 3600;
/// Largest accepted `iat` backdating, seconds.
pub const MAX_CLOCK_SKEW: u32 = 600;

/// The credentials, as one value so a swap is atomic.
#[derive(Clone, Default)]
pub(crate) enum Credentials {
    #[default]
    Unset,
    Public,
    Secret {
        secret: Arc<Zeroizing<String>>,
        method: AuthMethod,
        /// Present for `client_secret_jwt`.
        signer: Option<Arc<JwsSigner>>,
    },
    PrivateKey {
        signer: Arc<JwsSigner>,
    },
    /// `tls_client_auth` or `self_signed_tls_client_auth`: the client
    /// certificate authenticates.
    Tls {
        method: AuthMethod,
    },
}

/// Everything a setter can change. Readers take a snapshot (`Arc`), so a
/// setter never disturbs a request in flight and never waits for one.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) credentials: Credentials,
    /// Empty: the token URL.
    pub(crate) audience: Vec<String>,
    /// The client id and audience as assertion claims, encoded once.
    pub(crate) claims: Arc<ClaimsTemplate>,
    pub(crate) assertion_lifetime: u32,
    pub(crate) clock_skew: u32,
    pub(crate) hmac_alg: Algorithm,
    pub(crate) transport: TransportOptions,
    pub(crate) retry: RetryPolicy,
    pub(crate) refresh: RefreshPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) on_token: Option<TokenCallback>,
    pub(crate) log: Option<LogSink>,
    /// The DPoP key: every token request carries a proof made with it.
    pub(crate) dpop: Option<Arc<DpopKey>>,
    /// Whether a Bearer token is accepted when a DPoP proof was sent.
    pub(crate) dpop_allow_bearer: bool,
    /// The shared token store `get_token` reads before it asks.
    pub(crate) store: Option<store::StoreSetting>,
}

impl Settings {
    /// The authentication method the credentials use, if any.
    pub(crate) fn auth_method(&self) -> Option<AuthMethod> {
        match &self.credentials {
            Credentials::Unset => None,
            Credentials::Public => Some(AuthMethod::None),
            Credentials::Secret { method, .. } => Some(*method),
            Credentials::PrivateKey { .. } => Some(AuthMethod::PrivateKeyJwt),
            Credentials::Tls { method } => Some(*method),
        }
    }

    /// The defaults, for a client whose assertion claims are `claims`.
    fn new(claims: ClaimsTemplate) -> Self {
        Settings {
            credentials: Credentials::Unset,
            audience: Vec::new(),
            claims: Arc::new(claims),
            assertion_lifetime: DEFAULT_ASSERTION_LIFETIME,
            clock_skew: DEFAULT_CLOCK_SKEW,
            hmac_alg: Algorithm::HS256,
            transport: TransportOptions::default(),
            retry: RetryPolicy::default(),
            refresh: RefreshPolicy::default(),
            clock: Arc::new(SystemClock),
            on_token: None,
            log: None,
            dpop: None,
            dpop_allow_bearer: false,
            store: None,
        }
    }
}

/// An OAuth 2.0 client of one token endpoint. Thread-safe: share it with
/// `Arc` or by reference; setters may run while other threads use it.
pub struct Client {
    inner: Arc<Shared>,
    /// The caller's handle (not a share held by a request): dropping it
    /// stops and waits for the requests running on threads of their own.
    primary: bool,
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.primary {
            self.inner.detached.get().stop_all();
        }
    }
}

thread_local! {
    /// Set on the threads that run detached requests: a client dropped
    /// there (from its token callback) must not wait for the request that
    /// is running the callback.
    static ON_DETACHED_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The requests of this process running on threads of their own (the
/// fetches of `get_token` calls with options), so that dropping the client
/// stops them and waits for them: none calls a callback of a freed client.
#[derive(Default)]
struct Detached {
    running: Mutex<usize>,
    done: Condvar,
    /// Given to each such request: fired when the client is dropped.
    closing: Cancel,
}

impl Detached {
    /// Cancels the detached requests and waits for them to end, unless
    /// called from one of them (a token callback that drops the client):
    /// that one cannot be waited for, and its handle keeps the client's
    /// state alive until it ends.
    fn stop_all(&self) {
        self.closing.cancel();
        if ON_DETACHED_THREAD.with(std::cell::Cell::get) {
            return;
        }
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        drop(
            self.done
                .wait_while(running, |n| *n > 0)
                .unwrap_or_else(PoisonError::into_inner),
        );
    }
}

/// Marks this thread as one running a detached request (see
/// `ON_DETACHED_THREAD`); called first thing on such a thread. Harmless on
/// the caller's thread for an inline fetch, which is never waited for.
pub(super) fn mark_detached_thread_if(detached: bool) {
    if detached {
        ON_DETACHED_THREAD.with(|f| f.set(true));
    }
}

/// Counts one detached request while it lives. Its handle on the client is
/// let go before the count drops, so that the caller's handle, whose drop
/// waits for the count, is always the last: the client's connections and
/// secrets go on the caller's thread, before its free returns.
struct DetachedRun {
    client: Option<Client>,
    detached: Arc<PerProcess<Detached>>,
}

impl DetachedRun {
    fn client(&self) -> &Client {
        self.client.as_ref().expect("present until dropped")
    }
}

impl Drop for DetachedRun {
    fn drop(&mut self) {
        drop(self.client.take());
        let detached = self.detached.get();
        *detached
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner) -= 1;
        detached.done.notify_all();
    }
}

/// What a `Client` is; shared with the requests it runs on threads of
/// their own.
struct Shared {
    token_url: String,
    client_id: String,
    settings: RwLock<Arc<Settings>>,
    pool: Pool,
    cache: Cache,
    refresh_token: tokens::RefreshToken,
    counters: CounterSet,
    detached: Arc<PerProcess<Detached>>,
    /// For a client made from an issuer: its metadata.
    discovery: Option<oidc::Discovery>,
    /// The DPoP nonces servers gave, by origin.
    dpop_nonces: Nonces,
    /// Whether the shared token store's last operation failed (its
    /// fallback is said once, until it works again).
    store_failing: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("token_url", &self.inner.token_url)
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

fn readable_file(what: &str, path: &str) -> Result<PathBuf> {
    check_text(what, path, 4096)?;
    std::fs::File::open(path)
        .map_err(|e| Error::invalid_argument(format!("{what} {path:?} cannot be opened: {e}")))?;
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return Err(Error::invalid_argument(format!(
            "{what} {path:?} is not a file"
        )));
    }
    Ok(PathBuf::from(path))
}

fn check_text(what: &str, value: &str, max: usize) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid_argument(format!("{what} is empty")));
    }
    if value.len() > max {
        return Err(Error::invalid_argument(format!(
            "{what} is longer than {max} bytes"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid_argument(format!(
            "{what} contains a control character"
        )));
    }
    Ok(())
}

/// The assertion claims of a client: `aud` is the token URL unless
/// audiences were set.
fn claims_template(client_id: &str, token_url: &str, audience: &[String]) -> ClaimsTemplate {
    let aud = match audience {
        [] => Audience::One(token_url),
        [one] => Audience::One(one),
        many => Audience::Many(many),
    };
    ClaimsTemplate::new(client_id, aud)
}

impl Client {
    /// A client of `token_url` (absolute `https://`, or `http://` to a
    /// loopback host) identified as `client_id`. Set credentials before use.
    pub fn new(token_url: &str, client_id: &str) -> Result<Client> {
        check_endpoint("the token URL", token_url)?;
        check_text("the client id", client_id, 1024)?;
        let claims = claims_template(client_id, token_url, &[]);
        Ok(Client {
            inner: Arc::new(Shared {
                token_url: token_url.to_string(),
                client_id: client_id.to_string(),
                settings: RwLock::new(Arc::new(Settings::new(claims))),
                pool: Pool::default(),
                cache: Cache::default(),
                refresh_token: tokens::RefreshToken::default(),
                counters: CounterSet::default(),
                detached: Arc::default(),
                discovery: None,
                dpop_nonces: Nonces::default(),
                store_failing: std::sync::atomic::AtomicBool::new(false),
            }),
            primary: true,
        })
    }

    /// Another handle on the same client for a request that runs on a
    /// thread of its own, counted until dropped, and the deadline of that
    /// request: the client's total timeout, stopped when the client is
    /// dropped.
    fn detach(&self) -> (DetachedRun, Deadline) {
        let detached = self.inner.detached.get();
        *detached
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        let options = CallOptions {
            deadline: None,
            cancel: Some(detached.closing.clone()),
        };
        let deadline = Deadline::for_call(self.settings().transport.total_timeout, &options);
        let share = Client {
            inner: self.inner.clone(),
            primary: false,
        };
        let run = DetachedRun {
            client: Some(share),
            detached: self.inner.detached.clone(),
        };
        (run, deadline)
    }

    /// Another handle on this client, for an object that outlives the
    /// caller's borrow (an authorization request). Dropping it does not
    /// close the client.
    pub(crate) fn handle(&self) -> Client {
        Client {
            inner: self.inner.clone(),
            primary: false,
        }
    }

    /// The client with `options` for one call: `client.call(&options)
    /// .get_token(scope)` ends by the options' deadline, or when their
    /// cancel signal fires.
    pub fn call<'a>(&'a self, options: &'a CallOptions) -> Call<'a> {
        Call {
            client: self,
            options,
            started: std::sync::OnceLock::new(),
        }
    }

    pub fn token_url(&self) -> &str {
        &self.inner.token_url
    }

    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// A snapshot of the client's counters.
    pub fn counters(&self) -> Counters {
        self.inner.counters.snapshot()
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    pub(crate) fn settings(&self) -> Arc<Settings> {
        self.inner
            .settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Applies `change` to a copy of the settings and publishes it, unless
    /// `change` fails, in which case nothing changes.
    fn update(&self, change: impl FnOnce(&mut Settings) -> Result<()>) -> Result<()> {
        let mut guard = self
            .inner
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut next = Settings::clone(&guard);
        change(&mut next)?;
        if next.audience != guard.audience {
            next.claims = Arc::new(claims_template(
                &self.inner.client_id,
                &self.inner.token_url,
                &next.audience,
            ));
        }
        let old = std::mem::replace(&mut *guard, Arc::new(next));
        // What the old settings held (a store's callbacks and their
        // free_user_data, connections) goes after the lock is released.
        drop(guard);
        drop(old);
        Ok(())
    }
}

/// A client with the options of one call (`Client::call`). Its methods are
/// the client's I/O methods, each bounded by the options. One `Call` is one
/// call: its deadline starts at its first request and bounds every request
/// it makes after that (metadata, keys, the exchange); make a new `Call`
/// for each call.
#[derive(Debug)]
pub struct Call<'a> {
    client: &'a Client,
    options: &'a CallOptions,
    started: std::sync::OnceLock<Deadline>,
}

impl Call<'_> {
    /// The deadline of this call: from its first request on.
    fn deadline(&self) -> Deadline {
        self.started
            .get_or_init(|| {
                Deadline::for_call(self.client.settings().transport.total_timeout, self.options)
            })
            .clone()
    }
}

#[cfg(test)]
mod test_support {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use serde_json::Value;

    pub(super) const URL: &str = "https://acme.talkdeskid.com/oauth/token";

    pub(super) fn p256_pem() -> String {
        let key =
            EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap();
        String::from_utf8(
            PKey::from_ec_key(key)
                .unwrap()
                .private_key_to_pem_pkcs8()
                .unwrap(),
        )
        .unwrap()
    }

    pub(super) fn decode(jwt: &str) -> (Value, Value, Vec<u8>) {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "compact JWS has three parts");
        let json = |p: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
        (
            json(parts[0]),
            json(parts[1]),
            URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::keys::PrivateKey;
    use crate::ErrorKind;

    /// `Debug` of every type that holds a secret shows none of it (they are
    /// written by hand; a derive would print the secret).
    #[test]
    fn debug_never_shows_secrets() {
        const SECRET: &str = "debug-secret-0123456789abcdefghijkl";
        let pem = p256_pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let shows_secret = |text: &str| {
            text.contains(SECRET) || (0..body.len() - 16).any(|i| text.contains(&body[i..i + 16]))
        };

        let client = Client::new(URL, "debug-client").unwrap();
        client
            .set_client_secret(SECRET, AuthMethod::ClientSecretJwt)
            .unwrap();
        client.set_refresh_token(Some(SECRET)).unwrap();
        let signer = JwsSigner::hmac(SECRET.as_bytes(), Algorithm::HS256).unwrap();
        let key = PrivateKey::parse(&pem).unwrap();
        let token = crate::oauth::parse_token(
            200,
            format!(
                r#"{{"access_token":"{SECRET}","token_type":"Bearer","refresh_token":"{SECRET}"}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        let texts = [
            format!("{client:?}"),
            format!("{signer:?}"),
            format!("{key:?}"),
            format!("{token:?}"),
        ];
        client.set_private_key(&pem, Some("kid-1"), None).unwrap();
        let with_key = [format!("{client:?}")];
        for text in texts.iter().chain(&with_key) {
            assert!(!shows_secret(text), "{text}");
        }
        // The checks can fail: the secret's own Debug shows it.
        assert!(shows_secret(&format!("{SECRET:?}")) && shows_secret(&format!("{pem:?}")));
    }

    #[test]
    fn bad_client_arguments() {
        for (url, id) in [
            ("http://example.com/t", "c"),
            ("https://x/t", ""),
            ("https://x/t", "a\nb"),
        ] {
            assert_eq!(
                Client::new(url, id).unwrap_err().kind(),
                ErrorKind::InvalidArgument
            );
        }
    }

    #[test]
    fn setters_race_with_assertions() {
        let c = Client::new(URL, "c").unwrap();
        let keys: Vec<String> = (0..4).map(|_| p256_pem()).collect();
        c.set_private_key(&keys[0], None, None).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..300 {
                        c.create_assertion().unwrap();
                    }
                });
            }
            s.spawn(|| {
                for i in 0..200 {
                    c.set_private_key(&keys[i % 4], Some("k"), None).unwrap();
                    c.set_assertion_lifetime(1 + i as u32).unwrap();
                }
            });
        });
    }
}
