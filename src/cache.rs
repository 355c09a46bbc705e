//! The token cache: a valid access token per scope, refreshed proactively
//! by one caller while the others keep the current one, with exactly one
//! request in flight per scope however many callers wait (single flight).
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::response::Token;

/// Where the cache reads the time. Monotonic; tests substitute their own.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The monotonic system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Called with every token the cache obtains (and so with every rotated
/// refresh token), on the thread that obtained it, so it can be persisted.
pub type TokenCallback = Arc<dyn Fn(&Arc<Token>) + Send + Sync>;

/// When cached tokens are refreshed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefreshPolicy {
    /// Refresh once this fraction of the lifetime has passed (0.8).
    pub fraction: f64,
    /// Never hand out a token this close to expiry; refresh before (10 s).
    pub margin: Duration,
    /// The lifetime assumed when a response has no `expires_in` (300 s).
    pub default_lifetime: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            fraction: 0.8,
            margin: Duration::from_secs(10),
            default_lifetime: Duration::from_secs(300),
        }
    }
}

struct Cached {
    token: Arc<Token>,
    /// From here on, the next caller refreshes.
    refresh_at: Instant,
    /// From here on, the token is not handed out.
    usable_until: Instant,
}

#[derive(Default)]
struct Slot {
    cached: Option<Cached>,
    in_flight: bool,
    /// Counts finished flights, so waiters know theirs has landed.
    flights: u64,
    last: Option<Result<Arc<Token>>>,
}

#[derive(Default)]
struct State {
    slots: HashMap<String, Slot>,
    refresh_token: Option<Zeroizing<String>>,
}

/// The cache of one client.
#[derive(Default)]
pub struct Cache {
    state: Mutex<State>,
    landed: Condvar,
    /// Serialises refresh_token grants across scopes: a rotated refresh
    /// token must be stored before the next grant uses it.
    refreshing: Mutex<()>,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache").finish_non_exhaustive()
    }
}

impl Cache {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_refresh_token(&self, token: Option<&str>) {
        self.lock().refresh_token = token.map(|t| Zeroizing::new(t.to_string()));
    }

    pub(crate) fn invalidate(&self, scope: &str) {
        if let Some(slot) = self.lock().slots.get_mut(scope) {
            slot.cached = None;
        }
    }
}

/// Lands a flight even if the fetch panics, so waiters never hang.
struct Flight<'a> {
    cache: &'a Cache,
    scope: &'a str,
    landed: bool,
}

impl Flight<'_> {
    fn land(&mut self, result: &Result<Arc<Token>>, now: Instant, policy: &RefreshPolicy) {
        let mut state = self.cache.lock();
        let slot = state.slots.entry(self.scope.to_string()).or_default();
        slot.in_flight = false;
        slot.flights += 1;
        slot.last = Some(result.clone());
        if let Ok(token) = result {
            slot.cached = Some(timings(token.clone(), now, policy));
        }
        self.landed = true;
        self.cache.landed.notify_all();
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        if !self.landed {
            let error = Error::new(ErrorKind::Panic, "the token request panicked");
            let mut state = self.cache.lock();
            let slot = state.slots.entry(self.scope.to_string()).or_default();
            slot.in_flight = false;
            slot.flights += 1;
            slot.last = Some(Err(error));
            self.cache.landed.notify_all();
        }
    }
}

fn timings(token: Arc<Token>, now: Instant, policy: &RefreshPolicy) -> Cached {
    let lifetime = token
        .expires_in()
        .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)))
        .unwrap_or(policy.default_lifetime)
        // A token that lives for years is refreshed like one that lives a year.
        .min(Duration::from_secs(365 * 24 * 3600));
    // Short-lived tokens: the margin is at most half the lifetime.
    let margin = policy.margin.min(lifetime / 2);
    let usable_until = now + lifetime - margin;
    let refresh_at = (now + lifetime.mul_f64(policy.fraction)).min(usable_until);
    Cached {
        token,
        refresh_at,
        usable_until,
    }
}

impl Client {
    /// A valid access token for `scope` (None: the server's default),
    /// from the cache while it is fresh. Otherwise one caller obtains a new
    /// one, with the refresh token when the client has one
    /// (`set_refresh_token`, rotated as the server rotates it) or with
    /// client credentials, while callers that find the current token still
    /// usable keep getting it; callers that find none wait for that single
    /// request and share its result or its error.
    pub fn get_token(&self, scope: Option<&str>) -> Result<Arc<Token>> {
        let settings = self.settings();
        // "" and None are the same request (no scope parameter) and slot.
        let scope = scope.filter(|s| !s.is_empty());
        let key = scope.unwrap_or("");
        let cache = self.cache();
        let mut state = cache.lock();
        let now = settings.clock.now();
        if !state.slots.contains_key(key) {
            state.slots.insert(key.to_string(), Slot::default());
        }
        let slot = state.slots.get_mut(key).expect("inserted above");
        let mut stale = None;
        if let Some(cached) = &slot.cached {
            if now < cached.refresh_at {
                return Ok(cached.token.clone());
            }
            if now < cached.usable_until {
                if slot.in_flight {
                    return Ok(cached.token.clone());
                }
                stale = Some(cached.token.clone());
            }
        }
        if slot.in_flight {
            let flight = slot.flights;
            let state = cache
                .landed
                .wait_while(state, |s| {
                    s.slots.get(key).is_some_and(|slot| slot.flights == flight)
                })
                .unwrap_or_else(PoisonError::into_inner);
            return match state.slots.get(key).and_then(|s| s.last.clone()) {
                Some(result) => result,
                None => Err(Error::new(
                    ErrorKind::Panic,
                    "the token cache lost a result",
                )),
            };
        }
        slot.in_flight = true;
        let has_refresh_token = state.refresh_token.is_some();
        drop(state);

        let mut flight = Flight {
            cache,
            scope: key,
            landed: false,
        };
        let result = self.fetch(scope, has_refresh_token).map(Arc::new);
        flight.land(&result, settings.clock.now(), &settings.refresh);
        if let Ok(token) = &result {
            if let Some(callback) = &settings.on_token {
                callback(token);
            }
        }
        match (result, stale) {
            // The refresh failed but the old token is still good: keep using it.
            (Err(_), Some(old)) => Ok(old),
            (result, _) => result,
        }
    }

    fn fetch(&self, scope: Option<&str>, has_refresh_token: bool) -> Result<Token> {
        if !has_refresh_token {
            return self.client_credentials(scope);
        }
        let _one_at_a_time = self
            .cache()
            .refreshing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Read it again under the lock: another scope may have rotated it.
        let current = self.cache().lock().refresh_token.clone();
        let current = current.ok_or_else(|| Error::config("the refresh token was cleared"))?;
        let token = self.refresh(&current, scope)?;
        if let Some(rotated) = token.refresh_token() {
            if rotated != current.as_str() {
                self.cache().set_refresh_token(Some(rotated));
            }
        }
        Ok(token)
    }

    /// Seeds the cache with a refresh token: `get_token` then uses the
    /// refresh_token grant, following rotation. `None` goes back to client
    /// credentials.
    pub fn set_refresh_token(&self, refresh_token: Option<&str>) -> Result<()> {
        refresh_token.into_iter().for_each(crate::audit::secret);
        if refresh_token.is_some_and(str::is_empty) {
            return Err(Error::invalid_argument("the refresh token is empty"));
        }
        self.cache().set_refresh_token(refresh_token);
        Ok(())
    }

    /// Drops the cached token of `scope` (e.g. after a resource server
    /// rejected it), so the next `get_token` obtains a new one.
    pub fn invalidate_token(&self, scope: Option<&str>) {
        self.cache().invalidate(scope.unwrap_or(""));
    }
}
