//! `get_token` through the shared token store (`set_token_store`): the
//! in-process cache stays in front; on its miss, the store is read before
//! the token endpoint is asked, one process per token takes the lease and
//! asks, and the others wait for its entry. Whatever the store does wrong
//! (down, slow, full, garbage), the call goes on as without a store, and
//! says so once (`store.fallback`) until the store works again.
#![forbid(unsafe_code)]

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use zeroize::Zeroizing;

use super::{Client, Credentials, Settings};
use crate::error::{Error, ErrorKind, Result};
use crate::oauth::{parse_token, Token};
use crate::observe::{emit, without_query, Event, Level};
use crate::store::seal::{Keys, Times};
use crate::store::{Fault, Store};
use crate::transport::Deadline;

/// How often a process that waits for another's token looks for it.
const POLL: Duration = Duration::from_millis(20);
/// How long a rotated refresh token is kept in the store.
const REFRESH_TOKEN_LIFE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The shared store of a client: the store and, when set, the key its
/// entries are sealed with (else derived from the credential).
#[derive(Clone)]
pub(crate) struct StoreSetting {
    pub(crate) store: Arc<Store>,
    pub(crate) key: Option<Arc<Keys>>,
}

/// What a stored entry is worth now.
enum Stored {
    /// Before its refresh time: served as is.
    Fresh(Token),
    /// Past its refresh time, still usable: served if someone else is
    /// refreshing.
    Usable(Token),
    /// None, expired, or not one that opens.
    Nothing,
}

impl Client {
    /// Shares `get_token`'s tokens with the other processes that use the
    /// same store and credentials: `"default"` (a 0700 directory of this
    /// user's under `$XDG_RUNTIME_DIR`, else under the temporary
    /// directory), `file:///dir`, `redis://[user:pass@]host[:port][/db]`
    /// or `rediss://...` (TLS), with `?prefix=P` (Redis, default
    /// `tokenclient:`) and `?timeout_ms=N` (Redis: the time one command may
    /// take, default 50). Several URLs separated by spaces are tiers,
    /// nearest first: `"default redis://..."` puts the host's store in front
    /// of the fleet's, so one process per host asks Redis and one process
    /// in the fleet asks the token endpoint. `None`: no store. A store that cannot work (a
    /// directory open to others, a Redis that refuses the password or the
    /// TLS handshake) is a `Config` error now; one that fails later is
    /// gone around (`store.fallback`).
    pub fn set_token_store(&self, url: Option<&str>) -> Result<()> {
        let store = match url {
            Some(url) => {
                super::check_text("the token store URL", url, 4096)?;
                Some(Store::open(url)?)
            }
            None => None,
        };
        self.use_store(store)
    }

    /// Uses `store` (None: no store), keeping the key set before.
    pub(crate) fn use_store(&self, store: Option<Store>) -> Result<()> {
        let store = store.map(Arc::new);
        self.update(|s| {
            s.store = store.map(|store| StoreSetting {
                store,
                key: s.store.as_ref().and_then(|old| old.key.clone()),
            });
            Ok(())
        })
    }

    /// The key the store's entries are sealed with, instead of one derived
    /// from the client's credential (needed for public clients, TLS client
    /// authentication and keys held elsewhere; 16 to 1024 bytes, any
    /// content). Every process that shares the tokens must set the same.
    /// `None`: derived again. Call after `set_token_store`.
    pub fn set_token_store_key(&self, key: Option<&[u8]>) -> Result<()> {
        let keys = match key {
            Some(key) if !(16..=1024).contains(&key.len()) => {
                return Err(Error::invalid_argument(format!(
                    "the token store key has {} bytes; 16 to 1024 are accepted",
                    key.len()
                )))
            }
            Some(key) => Some(Arc::new(Keys::derive(key)?)),
            None => None,
        };
        self.update(|s| match &mut s.store {
            Some(setting) => {
                setting.key = keys;
                Ok(())
            }
            None => Err(Error::config(
                "no token store is set: call set_token_store first",
            )),
        })
    }

    /// The token of `scope` for `get_token`'s cache, from the store when a
    /// process has put one there, else from the token endpoint (`fetch`)
    /// under the store's lease, then put there.
    pub(super) fn fetch_shared(
        &self,
        setting: &StoreSetting,
        settings: &Settings,
        scope: Option<&str>,
        deadline: &Deadline,
        fetch: impl Fn(Option<Zeroizing<String>>) -> Result<Token>,
    ) -> Result<Token> {
        let keys = match self.store_keys(setting, settings) {
            Ok(keys) => keys,
            Err(fault) => return self.without_store(setting, settings, fault, || fetch(None)),
        };
        let backend = setting.store.backend();
        let refreshing = self.inner.refresh_token.is_set();
        let access = self.entry_name(&keys, settings, scope, refreshing);
        // A rotating refresh token is one chain for every scope: one
        // refresher at a time, in any process.
        let refresh = refreshing.then(|| self.entry_name(&keys, settings, None, true) + "-rt");
        let lease_name = refresh.clone().unwrap_or_else(|| access.clone());
        let lease_time = settings
            .transport
            .total_timeout
            .clamp(Duration::from_secs(1), Duration::from_secs(60));
        let reserve = (deadline.total() / 4).min(Duration::from_secs(2));
        let started = std::time::Instant::now();
        loop {
            let stored = match backend.get(&access) {
                Ok(entry) => self.stored(&keys, &access, entry, settings),
                Err(fault) => return self.without_store(setting, settings, fault, || fetch(None)),
            };
            let usable = match stored {
                Stored::Fresh(token) => return self.store_ok(setting, token),
                Stored::Usable(token) => Some(token),
                Stored::Nothing => None,
            };
            match backend.try_lease(&lease_name, lease_time) {
                Ok(Some(lease)) => {
                    // Another process may have put it there just before.
                    if let Ok(entry) = backend.get(&access) {
                        if let Stored::Fresh(token) = self.stored(&keys, &access, entry, settings) {
                            backend.release(lease);
                            return self.store_ok(setting, token);
                        }
                    }
                    let chain = refresh.as_deref().and_then(|name| {
                        let entry = backend.get(name).ok().flatten()?;
                        let (_, value) = keys.open(name, &entry)?;
                        String::from_utf8(value.to_vec()).ok().map(Zeroizing::new)
                    });
                    let result = fetch(chain);
                    if let Ok(token) = &result {
                        self.put(setting, &keys, &access, refresh.as_deref(), token, settings);
                    }
                    backend.release(lease);
                    return result;
                }
                // Another process is asking: serve the old token while it
                // is usable, else wait for the new one.
                Ok(None) => {
                    if let Some(token) = usable {
                        return self.store_ok(setting, token);
                    }
                }
                Err(fault) => return self.without_store(setting, settings, fault, || fetch(None)),
            }
            // A holder that died leaves the lease until it expires; a
            // waiter gives up in time to ask itself within its deadline.
            if started.elapsed() >= lease_time || deadline.remaining() <= reserve {
                let fault = Fault(format!(
                    "the lease holder of the token store {} did not answer within {} ms",
                    setting.store.shown(),
                    started.elapsed().as_millis()
                ));
                return self.without_store(setting, settings, fault, || fetch(None));
            }
            let wait = POLL.min(deadline.remaining());
            deadline.sleep(wait)?;
            if deadline.remaining().is_zero() {
                return Err(Error::new(
                    ErrorKind::Transport,
                    format!(
                        "the call's deadline of {} ms ran out while another process held the \
                         token store's lease",
                        deadline.total().as_millis()
                    ),
                ));
            }
        }
    }

    /// The keys of this client's entries.
    fn store_keys(
        &self,
        setting: &StoreSetting,
        settings: &Settings,
    ) -> std::result::Result<Arc<Keys>, Fault> {
        if let Some(key) = &setting.key {
            return Ok(key.clone());
        }
        let material = match &settings.credentials {
            Credentials::Secret { secret, .. } => Some(Zeroizing::new(secret.as_bytes().to_vec())),
            Credentials::PrivateKey { signer } => signer.secret_material(),
            _ => None,
        };
        let material = material.ok_or_else(|| {
            Fault(
                "no key seals this client's store entries: its credential is not a client \
                 secret or a private key held here (set one with set_token_store_key)"
                    .to_string(),
            )
        })?;
        Keys::derive(&material)
            .map(Arc::new)
            .map_err(|e| Fault(e.message().to_string()))
    }

    /// The entry name of `scope`'s token: everything that makes one token
    /// different from another, hashed with a key of the credential's.
    fn entry_name(
        &self,
        keys: &Keys,
        settings: &Settings,
        scope: Option<&str>,
        refreshing: bool,
    ) -> String {
        let method = settings.auth_method().map_or("", |m| m.name());
        let dpop = settings.dpop.as_ref().map_or("", |k| k.thumbprint());
        let cert = settings
            .transport
            .client_cert
            .as_ref()
            .map_or("", |c| c.thumbprint.as_str());
        let audience = settings.audience.join("\u{0}");
        keys.name(&[
            if refreshing {
                b"refresh_token"
            } else {
                b"client_credentials"
            },
            self.token_url().as_bytes(),
            self.client_id().as_bytes(),
            scope.unwrap_or("").as_bytes(),
            method.as_bytes(),
            dpop.as_bytes(),
            cert.as_bytes(),
            audience.as_bytes(),
        ])
    }

    /// What the entry is worth now (one that does not open is nothing).
    fn stored(
        &self,
        keys: &Keys,
        name: &str,
        entry: Option<Vec<u8>>,
        settings: &Settings,
    ) -> Stored {
        let Some((times, json)) = entry.and_then(|e| keys.open(name, &e)) else {
            return Stored::Nothing;
        };
        let now = SystemTime::now();
        if now >= times.usable_until {
            return Stored::Nothing;
        }
        let left = times.expires.duration_since(now).unwrap_or_default();
        let Ok(token) = parse_token(200, &json) else {
            return Stored::Nothing;
        };
        let token = token.read_from_store(
            i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            times.refresh_at.duration_since(now).unwrap_or_default(),
            times.usable_until.duration_since(now).unwrap_or_default(),
        );
        // What it is bound to, as when it was obtained.
        let Ok(token) = self.check_binding(settings, settings.dpop.is_some(), token) else {
            return Stored::Nothing;
        };
        if now < times.refresh_at {
            Stored::Fresh(token)
        } else {
            Stored::Usable(token)
        }
    }

    /// Puts a token obtained (and its rotated refresh token) in the store.
    fn put(
        &self,
        setting: &StoreSetting,
        keys: &Keys,
        access: &str,
        refresh: Option<&str>,
        token: &Token,
        settings: &Settings,
    ) {
        let now = SystemTime::now();
        let lifetime = token
            .expires_in()
            .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)))
            .unwrap_or(settings.refresh.default_lifetime)
            .min(Duration::from_secs(365 * 24 * 3600));
        // The in-process cache's timings (cache::timings), in wall time.
        let margin = settings.refresh.margin.min(lifetime / 2);
        let usable = lifetime - margin;
        let times = Times {
            refresh_at: now + lifetime.mul_f64(settings.refresh.fraction).min(usable),
            usable_until: now + usable,
            expires: now + lifetime,
        };
        let backend = setting.store.backend();
        let sealed = keys.seal(access, times, token.json().as_bytes());
        let mut outcome = sealed
            .map_err(|e| Fault(e.message().to_string()))
            .and_then(|entry| backend.put(access, &entry, lifetime));
        if let (Some(name), Some(rt)) = (refresh, token.refresh_token()) {
            // Due at once: of the chain's entries in several tiers, the
            // one written last (due last) is the one read.
            let times = Times {
                refresh_at: now,
                usable_until: now + REFRESH_TOKEN_LIFE,
                expires: now + REFRESH_TOKEN_LIFE,
            };
            outcome = outcome.and_then(|()| {
                let entry = keys
                    .seal(name, times, rt.as_bytes())
                    .map_err(|e| Fault(e.message().to_string()))?;
                backend.put(name, &entry, REFRESH_TOKEN_LIFE)
            });
        }
        match outcome {
            Ok(()) => self.store_recovered(setting, settings),
            Err(fault) => self.store_fault(setting, settings, &fault),
        }
    }

    fn store_ok(&self, setting: &StoreSetting, token: Token) -> Result<Token> {
        self.store_recovered(setting, &self.settings());
        Ok(token)
    }

    /// Goes on without the store after `fault`.
    fn without_store(
        &self,
        setting: &StoreSetting,
        settings: &Settings,
        fault: Fault,
        fetch: impl FnOnce() -> Result<Token>,
    ) -> Result<Token> {
        self.store_fault(setting, settings, &fault);
        fetch()
    }

    /// Says once, until the store works again, that it failed and why.
    fn store_fault(&self, setting: &StoreSetting, settings: &Settings, fault: &Fault) {
        if !self.inner.store_failing.swap(true, Ordering::AcqRel) {
            emit(settings.log.as_ref(), Level::Warn, || Event {
                name: "store.fallback",
                endpoint: Some(without_query(self.token_url())),
                store: Some(setting.store.shown()),
                reason: Some(&fault.0),
                ..Event::default()
            });
        }
    }

    fn store_recovered(&self, setting: &StoreSetting, settings: &Settings) {
        if self.inner.store_failing.swap(false, Ordering::AcqRel) {
            emit(settings.log.as_ref(), Level::Info, || Event {
                name: "store.recovered",
                endpoint: Some(without_query(self.token_url())),
                store: Some(setting.store.shown()),
                ..Event::default()
            });
        }
    }
}
