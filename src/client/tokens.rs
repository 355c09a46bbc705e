//! `get_token`: the client's cached tokens, obtained with the refresh token
//! when the client has one (following its rotation) or with client
//! credentials.
#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex, PoisonError};

use zeroize::Zeroizing;

use super::{Call, Client, Settings};
use crate::cache::{Run, Watch};
use crate::error::{Error, Result};
use crate::oauth::Token;
use crate::observe::{emit, without_query, Event, Level};
use crate::transport::{CallOptions, Deadline, PerProcess};

/// The refresh token `get_token` uses, if any.
#[derive(Default)]
pub(super) struct RefreshToken {
    current: Mutex<Option<Zeroizing<String>>>,
    /// Serialises refresh_token grants across scopes: a rotated refresh
    /// token must be stored before the next grant uses it. Held through a
    /// grant, so a forked child has its own (the parent's may be held by a
    /// thread that is not in the child).
    in_use: PerProcess<Mutex<()>>,
}

impl RefreshToken {
    fn get(&self) -> Option<Zeroizing<String>> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn is_set(&self) -> bool {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    pub(super) fn set(&self, token: Option<&str>) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) =
            token.map(|t| Zeroizing::new(t.to_string()));
    }
}

/// What `get_token`'s cache does, counted and told as events.
struct TokenWatch<'a> {
    client: &'a Client,
    settings: &'a Settings,
    scope: Option<&'a str>,
}

impl TokenWatch<'_> {
    fn emit(&self, level: Level, name: &'static str, error: Option<&Error>) {
        emit(self.settings.log.as_ref(), level, || {
            let event = Event {
                name,
                endpoint: Some(without_query(self.client.token_url())),
                scope: self.scope,
                ..Event::default()
            };
            match error {
                Some(error) => event.with_error(error),
                None => event,
            }
        });
    }
}

impl TokenWatch<'_> {
    /// The refresh failed and the old token, still usable, was served.
    fn kept_old(&self, error: &Error) {
        self.client.inner.counters.refresh_failed_kept_old();
        self.emit(Level::Warn, "cache.refresh.failed_kept_old", Some(error));
    }
}

impl Watch for TokenWatch<'_> {
    fn hit(&self) {
        self.client.inner.counters.cache_hit();
        self.emit(Level::Debug, "cache.hit", None);
    }

    fn miss(&self) {
        self.client.inner.counters.cache_miss();
        self.emit(Level::Debug, "cache.miss", None);
    }

    fn wait(&self) {
        self.client.inner.counters.singleflight_wait();
        self.emit(Level::Debug, "singleflight.wait", None);
    }

    fn refresh_started(&self) {
        self.client.inner.counters.refresh();
        self.emit(Level::Info, "cache.refresh.started", None);
    }
}

impl Client {
    /// A valid access token for `scope` (see `Call::get_token`).
    pub fn get_token(&self, scope: Option<&str>) -> Result<Arc<Token>> {
        self.call(&CallOptions::default()).get_token(scope)
    }

    /// A new token of `scope`: through the shared store when the client
    /// has one, else from the token endpoint.
    fn fetch(&self, scope: Option<&str>, deadline: &Deadline) -> Result<Token> {
        let settings = self.settings();
        match &settings.store {
            Some(setting) => self.fetch_shared(setting, &settings, scope, deadline, |chain| {
                self.fetch_direct(scope, deadline, chain)
            }),
            None => self.fetch_direct(scope, deadline, None),
        }
    }

    /// A new token of `scope` from the token endpoint: with the refresh
    /// token when the client has one (`chain`: the latest one, from the
    /// shared store, which any process may have rotated), else with client
    /// credentials.
    fn fetch_direct(
        &self,
        scope: Option<&str>,
        deadline: &Deadline,
        chain: Option<Zeroizing<String>>,
    ) -> Result<Token> {
        if self.inner.refresh_token.get().is_none() {
            return self.client_credentials_by(scope, deadline);
        }
        let _one_at_a_time = self
            .inner
            .refresh_token
            .in_use
            .get()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(latest) = chain {
            self.inner.refresh_token.set(Some(&latest));
        }
        // Read it again under the lock: another scope may have rotated it.
        let current = self
            .inner
            .refresh_token
            .get()
            .ok_or_else(|| Error::config("the refresh token was cleared"))?;
        let token = self.refresh_by(&current, scope, deadline)?;
        if let Some(rotated) = token.refresh_token() {
            if rotated != current.as_str() {
                self.inner.refresh_token.set(Some(rotated));
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
        self.inner.refresh_token.set(refresh_token);
        Ok(())
    }

    /// Drops the cached token of `scope` (e.g. after a resource server
    /// rejected it), so the next `get_token` obtains a new one.
    pub fn invalidate_token(&self, scope: Option<&str>) {
        let key = Client::cache_key(&self.settings(), scope.unwrap_or(""));
        self.inner.cache.invalidate(&key);
    }
}

impl Call<'_> {
    /// A valid access token for `scope` (None: the server's default),
    /// from the cache while it is fresh. Otherwise one caller obtains a new
    /// one, with the refresh token when the client has one
    /// (`set_refresh_token`, rotated as the server rotates it) or with
    /// client credentials, while callers that find the current token still
    /// usable keep getting it; callers that find none wait for that single
    /// request and share its result or its error.
    ///
    /// With call options (a deadline or a cancel signal), the request runs
    /// on a thread of its own with the client's total timeout: the call's
    /// deadline or cancel ends only this caller's wait, never the request
    /// that other callers share; a caller that finds the old token still
    /// usable gets it at once while the refresh goes on.
    pub fn get_token(&self, scope: Option<&str>) -> Result<Arc<Token>> {
        let client = self.client;
        let settings = client.settings();
        // "" and None are the same request (no scope parameter) and slot.
        let scope = scope.filter(|s| !s.is_empty());
        let watch = TokenWatch {
            client,
            settings: &settings,
            scope,
        };
        let total = settings.transport.total_timeout;
        let run = if self.options.is_default() {
            Run::Inline
        } else {
            Run::Detached
        };
        let call = || Deadline::for_call(total, self.options);
        client.inner.cache.get(
            &Client::cache_key(&settings, scope.unwrap_or("")),
            &settings.clock,
            &settings.refresh,
            &watch,
            call,
            run,
            || {
                let detached = run == Run::Detached;
                let (run, deadline) = client.detach();
                // Counted until the hook has run too: freeing the client
                // waits for both.
                let run = Arc::new(run);
                let kept = run.clone();
                let scope = scope.map(str::to_string);
                let event_scope = scope.clone();
                let fetch = move || {
                    super::mark_detached_thread_if(detached);
                    Ok(Arc::new(run.client().fetch(scope.as_deref(), &deadline)?))
                };
                let settings = settings.clone();
                let landed = move |result: &Result<Arc<Token>>, old_served: bool| {
                    let client = kept.client();
                    match result {
                        // Once per new token, in the process that obtained it.
                        Ok(token) if !token.is_from_store() => {
                            if let Some(callback) = &settings.on_token {
                                callback(token);
                            }
                        }
                        Ok(_) => {}
                        Err(error) if old_served => {
                            let watch = TokenWatch {
                                client,
                                settings: &settings,
                                scope: event_scope.as_deref(),
                            };
                            watch.kept_old(error);
                        }
                        Err(_) => {}
                    }
                };
                (fetch, landed)
            },
        )
    }
}
