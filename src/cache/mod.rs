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
use crate::transport::{Deadline, PerProcess, CANCEL_POLL};

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
    state: PerProcess<Arc<State>>,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            state: PerProcess::inheriting(|parent| Arc::new(State::inherit(parent))),
        }
    }
}

/// Where a fetch runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Run {
    /// On the caller's thread, which waits for it.
    Inline,
    /// On a thread of its own, so that the caller that started it can
    /// stop waiting (its deadline or cancel) without stopping the request
    /// that other callers wait for.
    Detached,
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
struct Flight {
    cache: Arc<State>,
    key: String,
    landed: bool,
}

impl Flight {
    fn land(&mut self, result: &Result<Arc<Token>>, now: Reading, policy: &RefreshPolicy) {
        let mut slots = self.cache.lock();
        let slot = slots.entry(self.key.clone()).or_default();
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

impl Drop for Flight {
    fn drop(&mut self) {
        if !self.landed {
            let error = Error::new(ErrorKind::Panic, "the token request panicked");
            let mut slots = self.cache.lock();
            let slot = slots.entry(self.key.clone()).or_default();
            slot.in_flight = false;
            slot.flights += 1;
            slot.last = Some(Err(error));
            self.cache.landed.notify_all();
        }
    }
}

/// A token's lifetime (`expires_in`, else the policy's default, at most a
/// year), and after how long of it it is refreshed and until when it is
/// handed out: the one rule for the in-process cache and the shared store.
pub(crate) fn refresh_points(
    expires_in: Option<i64>,
    policy: &RefreshPolicy,
) -> (Duration, Duration, Duration) {
    let lifetime = expires_in
        .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)))
        .unwrap_or(policy.default_lifetime)
        // A token that lives for years is refreshed like one that lives a year.
        .min(Duration::from_secs(365 * 24 * 3600));
    // Short-lived tokens: the margin is at most half the lifetime.
    let margin = policy.margin.min(lifetime / 2);
    let usable_for = lifetime - margin;
    let refresh_after = lifetime.mul_f64(policy.fraction).min(usable_for);
    (lifetime, refresh_after, usable_for)
}

fn timings(token: Arc<Token>, now: Reading, policy: &RefreshPolicy) -> Cached {
    // A token of the shared store: when its entry says, for every process.
    let (refresh_after, usable_for) = token.store_times().unwrap_or_else(|| {
        let (_, refresh_after, usable_for) = refresh_points(token.expires_in(), policy);
        (refresh_after, usable_for)
    });
    token.set_fresh_until(now.mono() + refresh_after, now.wall() + refresh_after);
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

    /// The token of `key` while it is fresh. Otherwise one caller starts
    /// the fetch that `make_fetch` makes (and tells `watch`), and calls the
    /// `obtained` hook it makes with the token once it has landed, while callers
    /// that find the current token still usable keep getting it; callers
    /// that find none wait for that single fetch until the deadline or
    /// cancel of `call` (made only off the cached path), and share its result or its error. A failed
    /// refresh keeps handing out the old token while it is usable.
    ///
    /// `run` says where the fetch runs. Detached, the caller that started
    /// it then waits like the others, so its deadline or cancel ends only
    /// its own wait; if the old token is still usable it gets that at once
    /// (a refresh that then fails is not reported to it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn get<F, L>(
        &self,
        key: &str,
        clock: &Arc<dyn Clock>,
        policy: &RefreshPolicy,
        watch: &dyn Watch,
        call: impl FnOnce() -> Deadline,
        run: Run,
        make_fetch: impl FnOnce() -> (F, L),
    ) -> Result<Arc<Token>>
    where
        F: FnOnce() -> Result<Arc<Token>> + Send + 'static,
        L: FnOnce(&Result<Arc<Token>>, bool) + Send + 'static,
    {
        let state = self.state.get();
        let mut slots = state.lock();
        let now = Reading::of(clock.as_ref());
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
        // Off the cached path only: it reads the clock.
        let call = &call();
        if slot.in_flight {
            watch.wait();
            let flight = slot.flights;
            return wait_for(state, slots, key, flight, call);
        }
        call.check()?;
        slot.in_flight = true;
        let flight_no = slot.flights;
        drop(slots);
        watch.refresh_started();

        let mut flight = Flight {
            cache: state.clone(),
            key: key.to_string(),
            landed: false,
        };
        let (fetch, landed) = make_fetch();
        let old_served = stale.is_some();
        if run == Run::Detached {
            let (clock, policy) = (clock.clone(), *policy);
            let spawned = std::thread::Builder::new()
                .name("tokenclient-fetch".into())
                .spawn(move || {
                    let result = fetch();
                    flight.land(&result, Reading::of(clock.as_ref()), &policy);
                    landed(&result, old_served);
                });
            if let Err(e) = spawned {
                // The flight was dropped unlanded with the closure:
                // waiters have been told of a failure.
                return stale.ok_or_else(|| {
                    Error::new(
                        ErrorKind::Transport,
                        format!("no thread could be started for the token request: {e}"),
                    )
                });
            }
            // The old token is still good: this caller keeps it while the
            // refresh goes on in the background.
            if let Some(old) = stale {
                return Ok(old);
            }
            return wait_for(state, state.lock(), key, flight_no, call);
        }
        let result = fetch();
        flight.land(&result, Reading::of(clock.as_ref()), policy);
        landed(&result, old_served);
        match (result, stale) {
            // The refresh failed but the old token is still good: keep using it.
            (Err(_), Some(old)) => Ok(old),
            (result, _) => result,
        }
    }
}

/// Waits, until `call`'s deadline or cancel, for the flight `flight` of
/// `key` to land, and returns its result.
fn wait_for(
    state: &State,
    mut slots: MutexGuard<'_, HashMap<String, Slot>>,
    key: &str,
    flight: u64,
    call: &Deadline,
) -> Result<Arc<Token>> {
    let in_flight =
        |s: &mut HashMap<String, Slot>| s.get(key).is_some_and(|slot| slot.flights == flight);
    loop {
        // A flight that has landed is taken even when the time is up.
        if !in_flight(&mut slots) {
            break;
        }
        let remaining = call.remaining();
        if remaining.is_zero() {
            return Err(Error::new(
                ErrorKind::Transport,
                format!(
                    "the call's deadline of {} ms ran out while it waited for the token \
                     request in flight",
                    call.total().as_millis()
                ),
            ));
        }
        // A cancellable wait looks at its cancel signal every few ms.
        let slice = match call.cancel() {
            Some(_) => remaining.min(CANCEL_POLL),
            None => remaining,
        };
        let (guard, _) = state
            .landed
            .wait_timeout_while(slots, slice, in_flight)
            .unwrap_or_else(PoisonError::into_inner);
        slots = guard;
        if !in_flight(&mut slots) {
            break;
        }
        call.check()?;
    }
    match slots.get(key).and_then(|s| s.last.clone()) {
        Some(result) => result,
        None => Err(Error::new(
            ErrorKind::Panic,
            "the token cache lost a result",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{CallOptions, Cancel};
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

    fn far() -> Deadline {
        Deadline::after(Duration::from_secs(60))
    }

    fn token(name: &str) -> Result<Arc<Token>> {
        let body =
            format!(r#"{{"access_token":"{name}","token_type":"Bearer","expires_in":3600}}"#);
        Ok(Arc::new(crate::oauth::parse_token(200, body.as_bytes())?))
    }

    /// A cache, a clock and a fetch that counts its calls and issues
    /// tokens living 3600 s, named by their number.
    struct Fixture {
        cache: Cache,
        clock: Arc<TestClock>,
        fetches: Arc<AtomicU64>,
        policy: RefreshPolicy,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                cache: Cache::default(),
                clock: Arc::new(TestClock::new()),
                fetches: Arc::default(),
                policy: RefreshPolicy::default(),
            }
        }

        fn clock(&self) -> Arc<dyn Clock> {
            self.clock.clone()
        }

        /// `Cache::get` of the key "scope" with `fetch`.
        fn get_with<F>(&self, call: &Deadline, run: Run, fetch: F) -> Result<Arc<Token>>
        where
            F: FnOnce() -> Result<Arc<Token>> + Send + 'static,
        {
            let clock = self.clock();
            self.cache.get(
                "scope",
                &clock,
                &self.policy,
                &Unwatched,
                || call.clone(),
                run,
                || (fetch, |_: &Result<Arc<Token>>, _: bool| {}),
            )
        }

        /// The access token `get` hands out, fetching one if needed.
        fn get(&self) -> String {
            let fetches = self.fetches.clone();
            let fetch = move || token(&format!("t{}", fetches.fetch_add(1, Ordering::SeqCst) + 1));
            let token = self.get_with(&far(), Run::Inline, fetch);
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
            f.get_with(&far(), Run::Inline, || {
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

    /// A fetch that signals when it starts and then takes `ms`.
    fn slow(
        started: std::sync::mpsc::Sender<()>,
        ms: u64,
        name: &'static str,
    ) -> impl FnOnce() -> Result<Arc<Token>> + Send + 'static {
        move || {
            started.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(ms));
            token(name)
        }
    }

    /// A waiter stops waiting for the flight of another caller at its own
    /// deadline, and the flight lands for the others all the same.
    #[test]
    fn a_waiter_stops_at_its_deadline() {
        let f = Fixture::new();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let fetcher =
                scope.spawn(|| f.get_with(&far(), Run::Inline, slow(started_tx, 600, "slow")));
            started_rx.recv().unwrap();
            let start = Instant::now();
            let short = Deadline::after(Duration::from_millis(100));
            let waited = f.get_with(&short, Run::Inline, || panic!("a waiter does not fetch"));
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

    fn cancellable() -> (Cancel, Deadline) {
        let cancel = Cancel::new();
        let options = CallOptions {
            deadline: None,
            cancel: Some(cancel.clone()),
        };
        (
            cancel,
            Deadline::for_call(Duration::from_secs(60), &options),
        )
    }

    /// The caller that starts a detached fetch and then is cancelled stops
    /// at once with `Cancelled`; the fetch goes on, a waiter gets its
    /// token, and it lands in the cache.
    #[test]
    fn a_cancelled_starter_does_not_stop_the_fetch_others_wait_for() {
        let f = Fixture::new();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (cancel, call) = cancellable();
        std::thread::scope(|scope| {
            let starter = scope.spawn(|| {
                let start = Instant::now();
                let r = f.get_with(&call, Run::Detached, slow(started_tx, 400, "shared"));
                (r, start.elapsed())
            });
            started_rx.recv().unwrap();
            let waiter = scope
                .spawn(|| f.get_with(&far(), Run::Inline, || panic!("a waiter does not fetch")));
            std::thread::sleep(Duration::from_millis(50));
            let cancelled_at = Instant::now();
            cancel.cancel();
            let (result, _) = starter.join().unwrap();
            let stopped_after = cancelled_at.elapsed();
            assert_eq!(result.unwrap_err().kind(), ErrorKind::Cancelled);
            assert!(
                stopped_after < Duration::from_millis(50),
                "{stopped_after:?}"
            );
            assert_eq!(waiter.join().unwrap().unwrap().access_token(), "shared");
        });
        assert_eq!(f.get(), "shared");
        assert_eq!(f.fetches.load(Ordering::SeqCst), 0, "no second fetch");
    }

    /// A cancelled call starts nothing; a cancelled waiter stops waiting
    /// and the others still get the token.
    #[test]
    fn cancelled_waiters_stop_and_the_rest_get_the_token() {
        let f = Fixture::new();
        let (cancel, call) = cancellable();
        cancel.cancel();
        let e = f
            .get_with(&call, Run::Detached, || panic!("not started"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Cancelled);

        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let halves: Vec<(Cancel, Deadline)> = (0..20).map(|_| cancellable()).collect();
        std::thread::scope(|scope| {
            let fetcher =
                scope.spawn(|| f.get_with(&far(), Run::Inline, slow(started_tx, 300, "t")));
            started_rx.recv().unwrap();
            let waiters: Vec<_> = halves
                .iter()
                .map(|(_, call)| {
                    scope.spawn(|| f.get_with(call, Run::Detached, || panic!("waits")))
                })
                .collect();
            std::thread::sleep(Duration::from_millis(50));
            for (cancel, _) in halves.iter().step_by(2) {
                cancel.cancel();
            }
            for (i, w) in waiters.into_iter().enumerate() {
                let r = w.join().unwrap();
                if i % 2 == 0 {
                    assert_eq!(r.unwrap_err().kind(), ErrorKind::Cancelled);
                } else {
                    assert_eq!(r.unwrap().access_token(), "t");
                }
            }
            assert_eq!(fetcher.join().unwrap().unwrap().access_token(), "t");
        });
    }

    /// Past the refresh point, a detached caller gets the old token at once
    /// while the refresh runs; the next one gets the new token.
    #[test]
    fn a_detached_refresh_serves_the_old_token_meanwhile() {
        let f = Fixture::new();
        assert_eq!(f.get(), "t1");
        f.clock.pass(3000);
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let start = Instant::now();
        let old = f
            .get_with(&far(), Run::Detached, slow(started_tx, 200, "t2"))
            .unwrap();
        assert_eq!(old.access_token(), "t1");
        assert!(start.elapsed() < Duration::from_millis(150));
        started_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(f.get(), "t2");
    }

    /// A detached refresh that fails while the old token is served tells its
    /// hook so (the client counts it and emits cache.refresh.failed_kept_old).
    #[test]
    fn a_failed_background_refresh_is_told() {
        let f = Fixture::new();
        assert_eq!(f.get(), "t1");
        f.clock.pass(3000);
        let (told_tx, told_rx) = std::sync::mpsc::channel();
        let clock = f.clock();
        let old = f
            .cache
            .get(
                "scope",
                &clock,
                &f.policy,
                &Unwatched,
                far,
                Run::Detached,
                || {
                    let fetch = || Err(Error::new(ErrorKind::Transport, "down"));
                    let landed = move |r: &Result<Arc<Token>>, old_served: bool| {
                        told_tx.send((r.is_err(), old_served)).unwrap();
                    };
                    (fetch, landed)
                },
            )
            .unwrap();
        assert_eq!(old.access_token(), "t1");
        let told = told_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(told, (true, true));
    }

    /// The freshness a cached token reports follows the refresh point.
    #[test]
    fn a_cached_token_knows_how_long_it_is_served() {
        let f = Fixture::new();
        f.get();
        let t = f
            .get_with(&far(), Run::Inline, || panic!("cached"))
            .unwrap();
        let fresh = t.fresh_for().unwrap();
        // 80% of 3600 s, from the (test) clock reading at landing.
        assert!(
            fresh > Duration::from_secs(2870) && fresh <= Duration::from_secs(2880),
            "{fresh:?}"
        );
        assert_eq!(token("x").unwrap().fresh_for(), None);
    }
}
