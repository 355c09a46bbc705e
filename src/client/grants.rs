//! Token exchanges: a grant's form, the client authentication, one POST per
//! attempt, retried with OAuth semantics.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use super::{AuthMethod, Call, Client};
use crate::error::{Error, ErrorKind, Result};
use crate::oauth::{check_grant, delay, may_retry, random_u64, read_answer, required, Form, Token};
use crate::observe::{emit, without_query, Event, Level};
use crate::transport::{CallOptions, Deadline, Request};
use zeroize::Zeroizing;

/// The token exchange grant's type (RFC 8693 §2.1).
const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// A retry is started only when at least this much of the call's time
/// remains after its backoff: less would not cover a request.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);

impl Client {
    /// The authorization_code grant (RFC 6749 §4.1.3), with PKCE (RFC 7636)
    /// when `code_verifier` is given.
    pub fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<Token> {
        self.call(&CallOptions::default())
            .exchange_code(code, redirect_uri, code_verifier)
    }

    /// The refresh_token grant (RFC 6749 §6), optionally narrowing `scope`.
    pub fn refresh(&self, refresh_token: &str, scope: Option<&str>) -> Result<Token> {
        self.call(&CallOptions::default())
            .refresh(refresh_token, scope)
    }

    /// The client_credentials grant (RFC 6749 §4.4).
    pub fn client_credentials(&self, scope: Option<&str>) -> Result<Token> {
        self.call(&CallOptions::default()).client_credentials(scope)
    }

    /// Token exchange, RFC 8693 (see `Call::token_exchange`).
    pub fn token_exchange(
        &self,
        subject_token: &str,
        subject_token_type: &str,
        params: &[(&str, &str)],
    ) -> Result<Token> {
        self.call(&CallOptions::default())
            .token_exchange(subject_token, subject_token_type, params)
    }

    /// Any grant: `grant_type` plus `params` (see `Call::grant`).
    pub fn grant(&self, grant_type: &str, params: &[(&str, &str)]) -> Result<Token> {
        self.call(&CallOptions::default()).grant(grant_type, params)
    }

    pub(super) fn refresh_by(
        &self,
        refresh_token: &str,
        scope: Option<&str>,
        deadline: &Deadline,
    ) -> Result<Token> {
        required("the refresh token", refresh_token)?;
        let mut params = vec![("refresh_token", refresh_token)];
        params.extend(scope.map(|s| ("scope", s)));
        self.grant_by("refresh_token", &params, deadline)
    }

    pub(super) fn client_credentials_by(
        &self,
        scope: Option<&str>,
        deadline: &Deadline,
    ) -> Result<Token> {
        let params: Vec<(&str, &str)> = scope.map(|s| ("scope", s)).into_iter().collect();
        self.grant_by("client_credentials", &params, deadline)
    }

    pub(super) fn grant_by(
        &self,
        grant_type: &str,
        params: &[(&str, &str)],
        deadline: &Deadline,
    ) -> Result<Token> {
        let result = self.attempts(grant_type, params, deadline);
        if let Err(e) = &result {
            self.inner.counters.error(e.kind());
        }
        result
    }

    /// The attempts of one grant, retried by the policy within the deadline.
    pub(super) fn attempts(
        &self,
        grant_type: &str,
        params: &[(&str, &str)],
        deadline: &Deadline,
    ) -> Result<Token> {
        crate::audit::grant_params(params);
        let repeat = check_grant(grant_type, params)?;
        let settings = self.settings();
        let policy = settings.retry;
        let log = settings.log.as_ref();
        let event = |name, attempts| Event {
            name,
            endpoint: Some(without_query(self.token_url())),
            grant_type: Some(grant_type),
            auth_method: settings.auth_method().map(AuthMethod::name),
            attempt: Some(attempts),
            scope: params.iter().find(|(n, _)| *n == "scope").map(|(_, v)| *v),
            ..Event::default()
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            emit(log, Level::Debug, || event("request.sent", attempts));
            let started = Instant::now();
            let result = self.grant_once(grant_type, params, deadline);
            let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.inner.counters.request(grant_type, duration_us);
            let error = match result {
                Err(e) => e,
                ok => {
                    emit(log, Level::Info, || Event {
                        duration_us: Some(duration_us),
                        ..event("request.done", attempts)
                    });
                    return ok;
                }
            };
            emit(log, Level::Warn, || {
                Event {
                    duration_us: Some(duration_us),
                    ..event("request.failed", attempts)
                }
                .with_error(&error)
            });
            let retries_left = attempts <= policy.max_retries && may_retry(&error, repeat);
            let wait = retries_left
                .then(|| delay(&policy, attempts, error.retry_after(), random_u64()))
                .flatten();
            match wait {
                Some(wait) if wait + MIN_ATTEMPT <= deadline.remaining() => {
                    self.inner.counters.retry();
                    emit(log, Level::Warn, || Event {
                        delay_ms: Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
                        ..event("retry.scheduled", attempts + 1)
                    });
                    deadline.sleep(wait)?;
                }
                // A retry was due, but the deadline comes first.
                Some(_) => return Err(error.with_deadline_note(deadline.total(), attempts)),
                None if deadline.remaining().is_zero() => {
                    return Err(error.with_deadline_note(deadline.total(), attempts))
                }
                None => return Err(error),
            }
        }
    }

    /// One POST: the form, the client authentication (a new assertion),
    /// the DPoP proof if the client has a key, and the answer read. A
    /// server that wants a DPoP nonce (`use_dpop_nonce` with a
    /// `DPoP-Nonce`) is asked once more with it, at once and outside the
    /// retry policy; asking again after that is an error.
    fn grant_once(
        &self,
        grant_type: &str,
        params: &[(&str, &str)],
        deadline: &Deadline,
    ) -> Result<Token> {
        let settings = self.settings();
        let url = self.token_endpoint(&settings);
        let dpop = settings.dpop.as_deref();
        let mut nonce = dpop.and_then(|_| self.inner.dpop_nonces.get(&url));
        let mut challenged = false;
        loop {
            let mut form = Form::new();
            form.push("grant_type", grant_type);
            for (name, value) in params {
                form.push(name, value);
            }
            let signing = Instant::now();
            let auth = self.authenticate(&settings, &mut form)?;
            if deadline.remaining().is_zero() {
                // A signer (a callback, an HSM) that took the call's time.
                return Err(Error::new(
                    ErrorKind::Transport,
                    format!(
                        "the request timed out: the call's deadline passed while its client \
                         authentication was made ({} ms)",
                        signing.elapsed().as_millis()
                    ),
                ));
            }
            let proof = dpop
                .map(|key| key.proof("POST", &url, None, nonce.as_deref()))
                .transpose()?
                .map(Zeroizing::new);
            let request = Request {
                url: &url,
                body: Some(form.as_bytes()),
                authorization: auth.header.as_deref().map(|h| h.as_str()),
                dpop: proof.as_deref().map(String::as_str),
            };
            let response = self.pool().send(&settings.transport, &request, deadline)?;
            let given = dpop.and_then(|_| self.take_nonce(&url, &response));
            let answer = read_answer(
                response.status,
                &response.body,
                response.retry_after.as_deref(),
                &auth.redact(),
            );
            let error = match answer {
                Ok(token) => return self.check_binding(&settings, proof.is_some(), token),
                Err(e) => e,
            };
            let wants_nonce =
                dpop.is_some() && error.oauth().is_some_and(|o| o.code == "use_dpop_nonce");
            match given {
                _ if !wants_nonce => return Err(error),
                Some(Err(bad)) => return Err(bad.with_note("in the answer to use_dpop_nonce")),
                None => return Err(error.with_note("the server gave no DPoP-Nonce to use")),
                Some(Ok(_)) if challenged => {
                    return Err(error.with_note(
                        "the server asked for a DPoP nonce again after the request with its nonce",
                    ))
                }
                Some(Ok(fresh)) => {
                    challenged = true;
                    nonce = Some(fresh);
                }
            }
        }
    }
}

impl Call<'_> {
    /// The authorization_code grant (RFC 6749 §4.1.3), with PKCE (RFC 7636)
    /// when `code_verifier` is given.
    pub fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<Token> {
        required("the code", code)?;
        required("the redirect URI", redirect_uri)?;
        let mut params = vec![("code", code), ("redirect_uri", redirect_uri)];
        if let Some(verifier) = code_verifier {
            required("the code verifier", verifier)?;
            params.push(("code_verifier", verifier));
        }
        self.grant("authorization_code", &params)
    }

    /// The refresh_token grant (RFC 6749 §6), optionally narrowing `scope`.
    pub fn refresh(&self, refresh_token: &str, scope: Option<&str>) -> Result<Token> {
        self.client
            .refresh_by(refresh_token, scope, &self.deadline())
    }

    /// The client_credentials grant (RFC 6749 §4.4).
    pub fn client_credentials(&self, scope: Option<&str>) -> Result<Token> {
        self.client.client_credentials_by(scope, &self.deadline())
    }

    /// Token exchange (RFC 8693): trades `subject_token` (of type
    /// `subject_token_type`, e.g. `urn:ietf:params:oauth:token-type:access_token`)
    /// for a token of this client, with `params` such as `audience`,
    /// `resource`, `scope`, `requested_token_type` or an `actor_token` and
    /// its `actor_token_type`. The answer's `issued_token_type` is in the
    /// token (`Token::get`).
    pub fn token_exchange(
        &self,
        subject_token: &str,
        subject_token_type: &str,
        params: &[(&str, &str)],
    ) -> Result<Token> {
        required("the subject token", subject_token)?;
        required("the subject token type", subject_token_type)?;
        crate::audit::secret(subject_token);
        let mut all = vec![
            ("subject_token", subject_token),
            ("subject_token_type", subject_token_type),
        ];
        all.extend_from_slice(params);
        self.grant(TOKEN_EXCHANGE_GRANT, &all)
    }

    /// Any grant: `grant_type` plus `params` (name, value; a name may
    /// repeat, e.g. `resource`), with the client's authentication added.
    /// Use it too to send extra parameters such as `audience` or
    /// `resource` with a standard grant.
    ///
    /// Failures are retried by the client's retry policy with OAuth
    /// semantics: transport failures, 5xx and 429 only, never an OAuth
    /// error; a refresh_token grant only when the server cannot have
    /// processed it (not sent, or 429/503), an authorization_code grant only
    /// when it was never sent. Every attempt carries a new assertion.
    ///
    /// The call's deadline (the options', else the client's total timeout)
    /// bounds the whole call, retries and backoff included: each attempt
    /// gets what remains of it, a retry is not started when less than
    /// 100 ms would remain after its backoff, and a `Retry-After` beyond the
    /// remaining time ends the call with the server's error. Such an error
    /// says that the deadline ran out, and after how many attempts. A
    /// cancel ends the call with a `Cancelled` error, abandoning the
    /// request under way.
    pub fn grant(&self, grant_type: &str, params: &[(&str, &str)]) -> Result<Token> {
        self.client.grant_by(grant_type, params, &self.deadline())
    }
}
