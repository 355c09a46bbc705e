//! The token cache: a valid access token per key, refreshed proactively by
//! one caller while the others keep the current one, with exactly one
//! fetch in flight per key however many callers wait (single flight).
//!
//! It knows nothing of clients or grants: `Cache::get` takes the key, a
//! clock, the refresh policy and the fetch to run when a token is needed.
#![forbid(unsafe_code)]

mod clock;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use clock::{Clock, SystemClock};

use crate::error::{Error, ErrorKind, Result};
use crate::oauth::Token;

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

/// The cache of one client.
#[derive(Default)]
pub(crate) struct Cache {
    slots: Mutex<HashMap<String, Slot>>,
    landed: Condvar,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache").finish_non_exhaustive()
    }
}

/// Lands a flight even if the fetch panics, so waiters never hang.
struct Flight<'a> {
    cache: &'a Cache,
    key: &'a str,
    landed: bool,
}

impl Flight<'_> {
    fn land(&mut self, result: &Result<Arc<Token>>, now: Instant, policy: &RefreshPolicy) {
        let mut slots = self.cache.lock();
        let slot = slots.entry(self.key.to_string()).or_default();
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
            let mut slots = self.cache.lock();
            let slot = slots.entry(self.key.to_string()).or_default();
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

impl Cache {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops the cached token of `key`.
    pub(crate) fn invalidate(&self, key: &str) {
        if let Some(slot) = self.lock().get_mut(key) {
            slot.cached = None;
        }
    }

    /// The token of `key` while it is fresh. Otherwise one caller runs
    /// `fetch` (and then `on_token` with what it got), while callers that
    /// find the current token still usable keep getting it; callers that
    /// find none wait for that single fetch and share its result or its
    /// error. A failed refresh keeps handing out the old token while it is
    /// usable.
    pub(crate) fn get(
        &self,
        key: &str,
        clock: &dyn Clock,
        policy: &RefreshPolicy,
        on_token: Option<&TokenCallback>,
        fetch: impl FnOnce() -> Result<Arc<Token>>,
    ) -> Result<Arc<Token>> {
        let mut slots = self.lock();
        let now = clock.now();
        if !slots.contains_key(key) {
            slots.insert(key.to_string(), Slot::default());
        }
        let slot = slots.get_mut(key).expect("inserted above");
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
            let slots = self
                .landed
                .wait_while(slots, |s| {
                    s.get(key).is_some_and(|slot| slot.flights == flight)
                })
                .unwrap_or_else(PoisonError::into_inner);
            return match slots.get(key).and_then(|s| s.last.clone()) {
                Some(result) => result,
                None => Err(Error::new(
                    ErrorKind::Panic,
                    "the token cache lost a result",
                )),
            };
        }
        slot.in_flight = true;
        drop(slots);

        let mut flight = Flight {
            cache: self,
            key,
            landed: false,
        };
        let result = fetch();
        flight.land(&result, clock.now(), policy);
        if let (Ok(token), Some(callback)) = (&result, on_token) {
            callback(token);
        }
        match (result, stale) {
            // The refresh failed but the old token is still good: keep using it.
            (Err(_), Some(old)) => Ok(old),
            (result, _) => result,
        }
    }
}
