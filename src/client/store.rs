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
use crate::cache::refresh_points;
use crate::error::{Error, ErrorKind, Result};
use crate::oauth::{parse_token, Token};
use crate::observe::{emit, without_query, Event, Level};
use crate::store::seal::{Keys, Times};
use crate::store::{Backend, Fault, Store};
use crate::transport::Deadline;

/// How often a process that waits for another's token looks for it.
const POLL: Duration = Duration::from_millis(20);
/// How long a process serves a token past its refresh time, while another
/// refreshes it, before it looks in the store again.
const USABLE_BACKOFF: Duration = Duration::from_millis(100);
/// How long a rotated refresh token is kept in the store.
const REFRESH_TOKEN_LIFE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The shared store of a client: the store and, when set, the key its
/// entries are sealed with (else derived from the credential).
#[derive(Clone)]
pub(crate) struct StoreSetting {
    pub(crate) store: Arc<Store>,
    pub(crate) key: Option<Arc<Keys>>,
}

/// Where a rotating refresh token's chain is: the keys, the store, the
/// entry's name.
type Chain<'a> = (&'a Keys, &'a dyn Backend, &'a str);

/// The chain's latest refresh token, read where every process writes it
/// (the farthest tier).
fn read_chain((keys, backend, name): Chain<'_>) -> Option<Zeroizing<String>> {
    let entry = backend.get_latest(name).ok().flatten()?;
    let (_, value) = keys.open(name, &entry)?;
    String::from_utf8(value.to_vec()).ok().map(Zeroizing::new)
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
        // A waiter gives up in time to ask itself within its deadline; with
        // a rotating refresh token it never asks while another holds the
        // lease (the refresh token would be used twice).
        let reserve = (deadline.total() / 4).min(Duration::from_secs(2));
        let started = std::time::Instant::now();
        let chain = refresh.as_deref().map(|name| (&*keys, backend, name));
        // One fault is looked at again after a poll (a busy machine may
        // miss the budget once); two in a row, and the call goes on
        // without the store.
        let mut faulted = false;
        loop {
            let fault = 'round: {
                let stored = match backend.get(&access) {
                    Ok(entry) => self.stored(&keys, &access, entry, settings),
                    Err(fault) => break 'round Some(fault),
                };
                let usable = match stored {
                    Stored::Fresh(token) => return self.served(setting, chain, token),
                    Stored::Usable(token) => Some(token),
                    Stored::Nothing => None,
                };
                match backend.try_lease(&lease_name, lease_time) {
                    Ok(Some(lease)) => {
                        // Another process may have put it there just before.
                        if let Ok(entry) = backend.get(&access) {
                            if let Stored::Fresh(token) =
                                self.stored(&keys, &access, entry, settings)
                            {
                                backend.release(lease);
                                return self.served(setting, chain, token);
                            }
                        }
                        let result = fetch(chain.and_then(read_chain));
                        if let Ok(token) = &result {
                            self.put(setting, &keys, &access, refresh.as_deref(), token, settings);
                        }
                        backend.release(lease);
                        return match (result, usable) {
                            // A token still usable beats the error.
                            (Err(_), Some(token)) => self.store_ok(setting, token),
                            (result, _) => result,
                        };
                    }
                    // Another process is asking: serve the old token while
                    // it is usable, else wait for the new one.
                    Ok(None) => match usable {
                        Some(token) => return self.store_ok(setting, token),
                        None => None,
                    },
                    Err(fault) => Some(fault),
                }
            };
            match fault {
                Some(fault) if faulted => {
                    return self.without_store(setting, settings, fault, || fetch(None))
                }
                Some(_) => faulted = true,
                None => faulted = false,
            }
            // A holder that died leaves the lease until it expires.
            if refresh.is_none()
                && (started.elapsed() >= lease_time || deadline.remaining() <= reserve)
            {
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

    /// A token read from the store; with a rotating refresh token, the
    /// chain's latest one becomes this client's too, so that a refresh
    /// without the store (when it fails) uses the latest.
    fn served(
        &self,
        setting: &StoreSetting,
        chain: Option<Chain<'_>>,
        token: Token,
    ) -> Result<Token> {
        if let Some(latest) = chain.and_then(read_chain) {
            self.inner.refresh_token.set(Some(&latest));
        }
        self.store_ok(setting, token)
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
        let usable_for = times.usable_until.duration_since(now).unwrap_or_default();
        // Past its refresh time, the in-process cache looks again after a
        // short while, not on every call.
        let refresh_after = times
            .refresh_at
            .duration_since(now)
            .unwrap_or(USABLE_BACKOFF.min(usable_for));
        let token = token.read_from_store(
            i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            refresh_after,
            usable_for,
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
        let (lifetime, refresh_after, usable_for) =
            refresh_points(token.expires_in(), &settings.refresh);
        let backend = setting.store.backend();
        let seal = |name: &str, times: Times, value: &[u8]| {
            keys.seal(name, times, value)
                .map_err(|e| Fault(e.message().to_string()))
        };
        // The rotated refresh token first, whatever becomes of the access
        // token's entry: the old one is spent.
        let mut faults = Vec::new();
        if let (Some(name), Some(rt)) = (refresh, token.refresh_token()) {
            let times = Times {
                refresh_at: now,
                usable_until: now + REFRESH_TOKEN_LIFE,
                expires: now + REFRESH_TOKEN_LIFE,
            };
            if let Err(fault) = seal(name, times, rt.as_bytes())
                .and_then(|entry| backend.put(name, &entry, REFRESH_TOKEN_LIFE))
            {
                faults.push(fault);
            }
        }
        let times = Times {
            refresh_at: now + refresh_after,
            usable_until: now + usable_for,
            expires: now + lifetime,
        };
        // Kept while it may be handed out.
        if let Err(fault) = seal(access, times, token.json().as_bytes())
            .and_then(|entry| backend.put(access, &entry, usable_for))
        {
            faults.push(fault);
        }
        match faults.first() {
            None => self.settle(setting, settings),
            Some(fault) => self.store_fault(setting, settings, fault),
        }
    }

    /// After a store operation that worked: says a tier that was gone
    /// around, else that the store works again.
    fn settle(&self, setting: &StoreSetting, settings: &Settings) {
        match setting.store.backend().degraded() {
            Some(fault) => self.store_fault(setting, settings, &fault),
            None => self.store_recovered(setting, settings),
        }
    }

    fn store_ok(&self, setting: &StoreSetting, token: Token) -> Result<Token> {
        self.settle(setting, &self.settings());
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
