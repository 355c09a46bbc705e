//! Token exchanges: grants -> form fields, client authentication -> form
//! fields or an `Authorization` header, one POST, and the answer parsed.
#![forbid(unsafe_code)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use crate::client::{AuthMethod, Client, Credentials, Settings};
use crate::error::{Error, Result};
use crate::form::{encode_into, Form};
use crate::response::{parse_error, parse_token, Token};
use crate::retry::{delay, may_retry, random_u64, Repeat};
use crate::transport::Request;

/// `client_assertion_type` of RFC 7523 client authentication.
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Form fields that only the client authentication may set.
const RESERVED: [&str; 5] = [
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

fn required(what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        Err(Error::invalid_argument(format!("{what} is empty")))
    } else {
        Ok(())
    }
}

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
        required("the grant type", grant_type)?;
        for (name, _) in params {
            required("a parameter name", name)?;
            if RESERVED.contains(name) {
                return Err(Error::invalid_argument(format!(
                    "the parameter \"{name}\" is set by tokenclient itself and cannot be passed"
                )));
            }
        }
        let repeat = match grant_type {
            "authorization_code" => Repeat::SingleUse,
            "refresh_token" => Repeat::RotatesState,
            _ => Repeat::Safe,
        };
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
    /// and the answer parsed.
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
        if (200..300).contains(&response.status) {
            let token = parse_token(response.status, &response.body)?;
            for value in [
                Some(token.access_token()),
                token.refresh_token(),
                token.id_token(),
            ] {
                value.into_iter().for_each(crate::audit::secret);
            }
            Ok(token)
        } else {
            let mut error = parse_error(response.status, &response.body, &auth.redact());
            if response.status >= 500 || response.status == 429 {
                // Overloaded or failing; with 429 and 503 the server says it
                // did not process the request.
                error = error.mark_transient(matches!(response.status, 429 | 503));
            }
            Err(match &response.retry_after {
                Some(value) => error.with_retry_after(value),
                None => error,
            })
        }
    }

    /// Adds the client authentication to `form`, or returns the
    /// `Authorization` header it needs.
    fn authenticate(&self, settings: &Settings, form: &mut Form) -> Result<Auth> {
        let mut auth = Auth::default();
        match &settings.credentials {
            Credentials::Unset => {
                return Err(Error::config(
                    "no credentials: set a client secret, a private key, or make the client public",
                ))
            }
            Credentials::Public => form.push("client_id", self.client_id()),
            Credentials::Secret { secret, method, .. } => {
                auth.secret = Some(secret.clone());
                match method {
                    AuthMethod::ClientSecretBasic => {
                        // RFC 6749 §2.3.1: form-urlencode both, then join and base64.
                        let mut pair = Zeroizing::new(String::new());
                        encode_into(&mut pair, self.client_id());
                        pair.push(':');
                        encode_into(&mut pair, secret);
                        let mut header = Zeroizing::new(String::from("Basic "));
                        STANDARD.encode_string(pair.as_bytes(), &mut header);
                        auth.header = Some(header);
                    }
                    AuthMethod::ClientSecretPost => {
                        form.push("client_id", self.client_id());
                        form.push("client_secret", secret);
                    }
                    _ => self.push_assertion(settings, form, &mut auth)?,
                }
            }
            Credentials::PrivateKey { .. } => self.push_assertion(settings, form, &mut auth)?,
        }
        Ok(auth)
    }

    /// A new assertion (new `jti`) for every request.
    fn push_assertion(&self, settings: &Settings, form: &mut Form, auth: &mut Auth) -> Result<()> {
        let assertion = Zeroizing::new(self.assertion_with(settings)?);
        form.push("client_id", self.client_id());
        form.push("client_assertion_type", JWT_BEARER_ASSERTION_TYPE);
        // base64url and dots: nothing to escape.
        form.push_unescaped("client_assertion", &assertion);
        auth.assertion = Some(assertion);
        Ok(())
    }
}

/// What the authentication of one request produced, kept so that error
/// messages can be scrubbed of it.
#[derive(Default)]
struct Auth {
    header: Option<Zeroizing<String>>,
    secret: Option<std::sync::Arc<Zeroizing<String>>>,
    assertion: Option<Zeroizing<String>>,
}

impl Auth {
    fn redact(&self) -> Vec<&str> {
        let mut out = Vec::new();
        out.extend(self.secret.as_deref().map(|s| s.as_str()));
        out.extend(self.assertion.as_deref().map(|s| s.as_str()));
        out.extend(self.header.as_deref().map(|s| s.as_str()));
        out
    }
}
