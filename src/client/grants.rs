//! Token exchanges: a grant's form, the client authentication, one POST per
//! attempt, retried with OAuth semantics.
#![forbid(unsafe_code)]

use super::Client;
use crate::error::Result;
use crate::oauth::{check_grant, delay, may_retry, random_u64, read_answer, required, Form, Token};
use crate::transport::Request;

impl Client {
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
        required("the refresh token", refresh_token)?;
        let mut params = vec![("refresh_token", refresh_token)];
        params.extend(scope.map(|s| ("scope", s)));
        self.grant("refresh_token", &params)
    }

    /// The client_credentials grant (RFC 6749 §4.4).
    pub fn client_credentials(&self, scope: Option<&str>) -> Result<Token> {
        let params: Vec<(&str, &str)> = scope.map(|s| ("scope", s)).into_iter().collect();
        self.grant("client_credentials", &params)
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
    pub fn grant(&self, grant_type: &str, params: &[(&str, &str)]) -> Result<Token> {
        crate::audit::grant_params(params);
        let repeat = check_grant(grant_type, params)?;
        let policy = self.settings().retry;
        let mut attempt = 0;
        loop {
            match self.grant_once(grant_type, params) {
                Err(e) if attempt < policy.max_retries && may_retry(&e, repeat) => {
                    attempt += 1;
                    match delay(&policy, attempt, e.retry_after(), random_u64()) {
                        Some(wait) => std::thread::sleep(wait),
                        None => return Err(e),
                    }
                }
                result => return result,
            }
        }
    }

    /// One POST: the form, the client authentication (a new assertion),
    /// and the answer read.
    fn grant_once(&self, grant_type: &str, params: &[(&str, &str)]) -> Result<Token> {
        let settings = self.settings();
        let mut form = Form::new();
        form.push("grant_type", grant_type);
        for (name, value) in params {
            form.push(name, value);
        }
        let auth = self.authenticate(&settings, &mut form)?;
        let request = Request {
            url: self.token_url(),
            body: form.as_bytes(),
            authorization: auth.header.as_deref().map(|h| h.as_str()),
        };
        let response = self.pool().post(&settings.transport, &request)?;
        read_answer(
            response.status,
            &response.body,
            response.retry_after.as_deref(),
            &auth.redact(),
        )
    }
}
