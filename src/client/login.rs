//! The authorization code flow of a client made from an issuer: the
//! authorization URL (directly, or by PAR, RFC 9126), and the callback:
//! `state`, `iss` (RFC 9207), errors, the code exchanged with its PKCE
//! verifier, and the ID token validated.
#![forbid(unsafe_code)]

use std::sync::Arc;

use openssl::memcmp;
use serde_json::Value;

use super::{Call, Client};
use crate::error::{Error, ErrorKind, OAuthDetails, Result};
use crate::oauth::{Form, Token};
use crate::oidc::Authorization;
use crate::transport::Request;
use crate::url::query_pairs;

impl Client {
    /// A new authorization request of this client (which must have been
    /// made from an issuer), to come back to `redirect_uri`, for `scope`.
    pub fn authorization(&self, redirect_uri: &str, scope: Option<&str>) -> Result<Authorization> {
        let metadata = self.metadata()?;
        Authorization::new(&metadata.issuer, self.client_id(), redirect_uri, scope)
    }

    /// An exported authorization request of this client, read again.
    pub fn import_authorization(&self, exported: &str) -> Result<Authorization> {
        let metadata = self.metadata()?;
        Authorization::import(&metadata.issuer, self.client_id(), exported)
    }
}

fn equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && memcmp::eq(a.as_bytes(), b.as_bytes())
}

fn join_query(endpoint: &str, query: &str) -> String {
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{sep}{query}")
}

impl Call<'_> {
    /// The URL to send the user's browser to. The parameters go in its
    /// query, or, when `auth` asks for PAR or the issuer requires it
    /// (`require_pushed_authorization_requests`), to the PAR endpoint with
    /// the client's authentication, the URL then carrying only `client_id`
    /// and the `request_uri` (valid once, for a short time: make the URL
    /// just before the redirect).
    pub fn authorization_url(&self, auth: &Authorization) -> Result<String> {
        let metadata = self.metadata()?;
        let endpoint = metadata.authorization_endpoint.as_deref().ok_or_else(|| {
            Error::config("the issuer's metadata names no authorization_endpoint")
        })?;
        if !(auth.par || metadata.require_pushed_authorization_requests) {
            return Ok(join_query(endpoint, &auth.form()));
        }
        let par = self.endpoint("pushed_authorization_request_endpoint")?;
        let par = par.as_str();
        let client = self.client;
        let settings = client.settings();
        let mut form = Form::new();
        for (name, value) in
            crate::url::query_pairs(&format!("?{}", auth.form())).unwrap_or_default()
        {
            // client_id goes with the client authentication, once.
            if name != "client_id" {
                form.push(&name, &value);
            }
        }
        let authn = client.authenticate(&settings, &mut form)?;
        let request = Request {
            url: par,
            body: Some(form.as_bytes()),
            authorization: authn.header.as_deref().map(|h| h.as_str()),
            dpop: None,
        };
        let response = client
            .pool()
            .send(&settings.transport, &request, &self.deadline())?;
        if !(200..300).contains(&response.status) {
            return Err(crate::oauth::parse_error(
                response.status,
                &response.body,
                &authn.redact(),
            ));
        }
        let doc: Value = serde_json::from_slice(&response.body)
            .map_err(|_| Error::new(ErrorKind::Response, "the PAR answer is not JSON"))?;
        let request_uri = doc
            .get("request_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::new(ErrorKind::Response, "the PAR answer has no request_uri"))?;
        let mut query = String::new();
        crate::oauth::encode_into(&mut query, "client_id");
        query.push('=');
        crate::oauth::encode_into(&mut query, client.client_id());
        query.push_str("&request_uri=");
        crate::oauth::encode_into(&mut query, request_uri);
        Ok(join_query(endpoint, &query))
    }

    /// Finishes the request with the URL the browser came back to: checks
    /// `state` (in constant time) and `iss` (RFC 9207: required when the
    /// issuer says it sends it), turns `error` into an `OAuth` error,
    /// exchanges the code with the PKCE verifier, and validates the ID
    /// token (required when `openid` was asked) with the request's `nonce`
    /// and `max_age` and the `at_hash`/`c_hash` it carries. The validated
    /// claims are on the token (`Token::id_token_claims`).
    pub fn finish(&self, auth: &Authorization, callback_url: &str) -> Result<Arc<Token>> {
        let metadata = self.metadata()?;
        let pairs = query_pairs(callback_url)
            .ok_or_else(|| Error::invalid_argument("the callback URL has a malformed query"))?;
        let get = |name: &str| {
            let mut found = pairs
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str());
            match (found.next(), found.next()) {
                (one, None) => Ok(one),
                _ => Err(Error::invalid_argument(format!(
                    "the callback URL has {name} more than once"
                ))),
            }
        };
        match get("state")? {
            Some(state) if equal(state, auth.state()) => {}
            Some(_) => {
                return Err(Error::invalid_argument(
                    "the callback's state is not this authorization request's (a forged or \
                     crossed callback)",
                ))
            }
            None => return Err(Error::invalid_argument("the callback URL has no state")),
        }
        match get("iss")? {
            Some(iss) if iss != metadata.issuer => {
                return Err(Error::invalid_argument(format!(
                    "the callback comes from the issuer {iss:?}, not {:?} (mix-up, RFC 9207)",
                    metadata.issuer
                )))
            }
            None if metadata.authorization_response_iss_parameter_supported => {
                return Err(Error::invalid_argument(
                    "the callback has no iss, which the issuer says it always sends (RFC 9207)",
                ))
            }
            _ => {}
        }
        if let Some(code) = get("error")? {
            // Text from the URL: no control character goes into a message.
            let printable = |s: &str| -> String {
                s.chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .take(512)
                    .collect()
            };
            let code = printable(code);
            let details = OAuthDetails {
                code: code.clone(),
                description: get("error_description")?.map(printable),
                uri: get("error_uri")?.map(printable),
            };
            let message = format!(
                "the authorization request was refused: {code}{}",
                details
                    .description
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            );
            return Err(Error::new(ErrorKind::OAuth, message).with_oauth(details));
        }
        let code =
            get("code")?.ok_or_else(|| Error::invalid_argument("the callback URL has no code"))?;
        crate::audit::secret(code);
        let token = self.exchange_code(code, &auth.redirect_uri, Some(&auth.verifier))?;
        match token.id_token() {
            Some(id_token) => {
                let claims = self.validate(
                    id_token,
                    Some(auth.nonce()),
                    auth.max_age,
                    Some(token.access_token()),
                    Some(code),
                )?;
                token.set_id_token_claims(&claims);
            }
            None if auth.is_openid() => {
                return Err(Error::new(
                    ErrorKind::Response,
                    "the token response has no id_token, although openid was asked",
                ))
            }
            None => {}
        }
        Ok(Arc::new(token))
    }
}
