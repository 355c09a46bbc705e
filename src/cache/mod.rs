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
use std::time::Duration;

use clock::Reading;
pub use clock::{Clock, SystemClock};

use crate::error::{Error, ErrorKind, Result};
use crate::oauth::Token;
use crate::transport::PerProcess;

/// What a `Cache::get` does, told as it happens (the client counts it and
/// turns it into events). Each does nothing unless implemented.
pub(crate) trait Watch {
    /// A token was served from the cache.
    fn hit(&self) {}
    /// No usable token was cached: this caller fetches or waits.
    fn miss(&self) {}
    /// This caller waits for another caller's request.
    fn wait(&self) {}
    /// This caller starts a request (on a miss, or to refresh early).
    fn refresh_started(&self) {}
    /// This caller's request got a token.
    fn obtained(&self, _token: &Arc<Token>) {}
    /// The refresh failed and the old token, still usable, was served.
    fn kept_old(&self, _error: &Error) {}
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

#[derive(Clone)]
struct Cached {
    token: Arc<Token>,
    /// When it was obtained.
    obtained: Reading,
    /// From this age on, the next caller refreshes.
    refresh_after: Duration,
    /// From this age on, the token is not handed out.
    usable_for: Duration,
}

#[derive(Default)]
struct Slot {
    cached: Option<Cached>,
    in_flight: bool,
    /// Counts finished flights, so waiters know theirs has landed.
    flights: u64,
    last: Option<Result<Arc<Token>>>,
}

/// The cache of one client, of this process: a forked child starts with
/// the tokens its parent had cached (when it can read them without
/// waiting), and none of its parent's requests in flight.
pub(crate) struct Cache {
    state: PerProcess<State>,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            state: PerProcess::inheriting(State::inherit),
        }
    }
}

#[derive(Default)]
struct State {
    slots: Mutex<HashMap<String, Slot>>,
    landed: Condvar,
}

impl State {
    /// A forked child's state: the parent's cached tokens, if its lock is
    /// free (it may have been held by a thread that did not survive the
    /// fork: then none), and none of its flights, which land only in the
    /// parent.
    fn inherit(parent: &State) -> State {
        let slots = match parent.slots.try_lock() {
            Ok(slots) => slots
                .iter()
                .filter_map(|(key, slot)| {
                    let cached = slot.cached.clone()?;
                    let slot = Slot {
                        cached: Some(cached),
                        ..Slot::default()
                    };
                    Some((key.clone(), slot))
                })
                .collect(),
            Err(_) => HashMap::new(),
        };
        State {
            slots: Mutex::new(slots),
            landed: Condvar::new(),
        }
    }
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache").finish_non_exhaustive()
    }
}

/// Lands a flight even if the fetch panics, so waiters never hang.
struct Flight<'a> {
    cache: &'a State,
    key: &'a str,
    landed: bool,
}

impl Flight<'_> {
    fn land(&mut self, result: &Result<Arc<Token>>, now: Reading, policy: &RefreshPolicy) {
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

fn timings(token: Arc<Token>, now: Reading, policy: &RefreshPolicy) -> Cached {
    let lifetime = token
        .expires_in()
        .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)))
        .unwrap_or(policy.default_lifetime)
        // A token that lives for years is refreshed like one that lives a year.
        .min(Duration::from_secs(365 * 24 * 3600));
    // Short-lived tokens: the margin is at most half the lifetime.
    let margin = policy.margin.min(lifetime / 2);
    let usable_for = lifetime - margin;
    let refresh_after = lifetime.mul_f64(policy.fraction).min(usable_for);
    Cached {
        token,
        obtained: now,
        refresh_after,
        usable_for,
    }
}

impl State {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn invalidate(&self, key: &str) {
        if let Some(slot) = self.lock().get_mut(key) {
            slot.cached = None;
        }
    }
}

impl Cache {
    /// Drops the cached token of `key`.
    pub(crate) fn invalidate(&self, key: &str) {
        self.state.get().invalidate(key)
    }

    /// The token of `key` while it is fresh. Otherwise one caller runs
    /// `fetch` (and tells `watch` what it got), while callers that
    /// find the current token still usable keep getting it; callers that
    /// find none wait for that single fetch, `wait_for` at most,
    /// and share its result or its error. A failed refresh keeps handing
    /// out the old token while it is usable.
    pub(crate) fn get(
        &self,
        key: &str,
        clock: &dyn Clock,
        policy: &RefreshPolicy,
        watch: &dyn Watch,
        wait_for: Duration,
        fetch: impl FnOnce() -> Result<Arc<Token>>,
    ) -> Result<Arc<Token>> {
        let state = self.state.get();
        let mut slots = state.lock();
        let now = Reading::of(clock);
        if !slots.contains_key(key) {
            slots.insert(key.to_string(), Slot::default());
        }
        let slot = slots.get_mut(key).expect("inserted above");
        let mut stale = None;
        if let Some(cached) = &slot.cached {
            let age = cached.obtained.elapsed_until(&now);
            if age < cached.refresh_after {
                watch.hit();
                return Ok(cached.token.clone());
            }
            if age < cached.usable_for {
                if slot.in_flight {
                    watch.hit();
                    return Ok(cached.token.clone());
                }
                stale = Some(cached.token.clone());
            }
        }
        if stale.is_none() {
            watch.miss();
        }
        if slot.in_flight {
            watch.wait();
            let flight = slot.flights;
            let wait = wait_for;
            let (slots, waited) = state
                .landed
                .wait_timeout_while(slots, wait, |s| {
                    s.get(key).is_some_and(|slot| slot.flights == flight)
                })
                .unwrap_or_else(PoisonError::into_inner);
            if waited.timed_out() {
                return Err(Error::new(
                    ErrorKind::Transport,
                    format!(
                        "the call's deadline of {} ms ran out while it waited for the token \
                         request in flight",
                        wait.as_millis()
                    ),
                ));
            }
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
        watch.refresh_started();

        let mut flight = Flight {
            cache: state,
            key,
            landed: false,
        };
        let result = fetch();
        flight.land(&result, Reading::of(clock), policy);
        match (result, stale) {
            (Ok(token), _) => {
                watch.obtained(&token);
                Ok(token)
            }
            // The refresh failed but the old token is still good: keep using it.
            (Err(e), Some(old)) => {
                watch.kept_old(&e);
                Ok(old)
            }
            (result, None) => result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
    use std::time::{Instant, SystemTime};

    /// Two clocks the test moves by hand: the monotonic one forwards only,
    /// the wall clock either way.
    struct TestClock {
        mono_start: Instant,
        wall_start: SystemTime,
        mono_s: AtomicU64,
        wall_s: AtomicI64,
    }

    impl TestClock {
        fn new() -> TestClock {
            TestClock {
                mono_start: Instant::now(),
                wall_start: SystemTime::now(),
                mono_s: AtomicU64::new(0),
                wall_s: AtomicI64::new(0),
            }
        }

        /// Both clocks move by `s` seconds, as in a running machine.
        fn pass(&self, s: u64) {
            self.mono_s.fetch_add(s, Ordering::SeqCst);
            self.wall_s.fetch_add(s as i64, Ordering::SeqCst);
        }

        /// Only the wall clock moves (a suspend: +; a step back: -).
        fn step_wall(&self, s: i64) {
            self.wall_s.fetch_add(s, Ordering::SeqCst);
        }
    }

    impl Clock for TestClock {
        fn now(&self) -> Instant {
            self.mono_start + Duration::from_secs(self.mono_s.load(Ordering::SeqCst))
        }

        fn wall(&self) -> SystemTime {
            let s = self.wall_s.load(Ordering::SeqCst);
            if s >= 0 {
                self.wall_start + Duration::from_secs(s as u64)
            } else {
                self.wall_start - Duration::from_secs(s.unsigned_abs())
            }
        }
    }

    struct Unwatched;
    impl Watch for Unwatched {}

    fn far() -> Duration {
        Duration::from_secs(60)
    }

    /// A cache, a clock and a fetch that counts its calls and issues
    /// tokens living `lifetime` seconds, named by their number.
    struct Fixture {
        cache: Cache,
        clock: TestClock,
        fetches: AtomicU64,
        policy: RefreshPolicy,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                cache: Cache::default(),
                clock: TestClock::new(),
                fetches: AtomicU64::new(0),
                policy: RefreshPolicy::default(),
            }
        }

        /// The access token `get` hands out, fetching one of 3600 s if needed.
        fn get(&self) -> String {
            let token = self.cache.get(
                "scope",
                &self.clock,
                &self.policy,
                &Unwatched,
                far(),
                || {
                    let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
                    let body = format!(
                        r#"{{"access_token":"t{n}","token_type":"Bearer","expires_in":3600}}"#
                    );
                    Ok(Arc::new(crate::oauth::parse_token(200, body.as_bytes())?))
                },
            );
            token.unwrap().access_token().to_string()
        }
    }

    #[test]
    fn refresh_and_expiry_follow_the_running_clocks() {
        let f = Fixture::new();
        assert_eq!(f.get(), "t1");
        f.clock.pass(2879); // just short of 80% of 3600 s: cached
        assert_eq!(f.get(), "t1");
        f.clock.pass(2); // past 80%: refreshed
        assert_eq!(f.get(), "t2");
        assert_eq!(f.fetches.load(Ordering::SeqCst), 2);
    }

    /// A suspend: the monotonic clock stands still while the wall clock
    /// moves 2 h. The token (1 h) has expired: it is refreshed, not served.
    #[test]
    fn a_suspend_expires_the_token() {
        let f = Fixture::new();
        assert_eq!(f.get(), "t1");
        f.clock.pass(60);
        f.clock.step_wall(2 * 3600);
        assert_eq!(f.get(), "t2");
        // The new token is judged from when it came, on both clocks.
        f.clock.pass(60);
        assert_eq!(f.get(), "t2");
    }

    /// The wall clock stepped back 1 h: the monotonic clock still ages the
    /// token, which is not served past its real lifetime.
    #[test]
    fn a_wall_clock_stepped_back_does_not_extend_a_token() {
        let f = Fixture::new();
        assert_eq!(f.get(), "t1");
        f.clock.step_wall(-3600);
        f.clock.pass(2879);
        assert_eq!(f.get(), "t1", "79.97% of its life on the monotonic clock");
        f.clock.pass(2);
        assert_eq!(f.get(), "t2", "refreshed by the monotonic clock alone");
        // While refreshes fail, the old token is served until its expiry
        // minus the margin (10 s) by the monotonic clock, and not after,
        // however far back the wall clock goes.
        let down = || {
            f.cache
                .get("scope", &f.clock, &f.policy, &Unwatched, far(), || {
                    Err(Error::new(ErrorKind::Transport, "down"))
                })
        };
        f.clock.pass(2900);
        assert_eq!(
            down().unwrap().access_token(),
            "t2",
            "refresh failed, t2 still usable"
        );
        f.clock.step_wall(-3600);
        f.clock.pass(3600 - 10 - 2900);
        let failing = down();
        assert_eq!(failing.unwrap_err().kind(), ErrorKind::Transport);
    }

    /// A waiter stops waiting for the flight of another caller at its own
    /// deadline, and the flight lands for the others all the same.
    #[test]
    fn a_waiter_stops_at_its_deadline() {
        let f = Fixture::new();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let fetcher =
                scope.spawn(|| {
                    f.cache.get("scope", &f.clock, &f.policy, &Unwatched, far(), || {
                    started_tx.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(600));
                    let body = r#"{"access_token":"slow","token_type":"Bearer","expires_in":3600}"#;
                    Ok(Arc::new(crate::oauth::parse_token(200, body.as_bytes())?))
                })
                });
            started_rx.recv().unwrap();
            let start = Instant::now();
            let waited = f.cache.get(
                "scope",
                &f.clock,
                &f.policy,
                &Unwatched,
                Duration::from_millis(100),
                || panic!("a waiter does not fetch"),
            );
            let took = start.elapsed();
            let e = waited.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Transport);
            assert!(e.message().contains("deadline"), "{e}");
            assert!(
                took >= Duration::from_millis(100) && took < Duration::from_millis(400),
                "{took:?}"
            );
            assert_eq!(fetcher.join().unwrap().unwrap().access_token(), "slow");
        });
        assert_eq!(f.get(), "slow", "the flight landed in the cache");
    }
}
