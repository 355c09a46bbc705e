//! A client made from an issuer (discovery), and the endpoints its metadata
//! names beside the token endpoint: revocation (RFC 7009), introspection
//! (RFC 7662) and userinfo (OpenID Connect Core §5.3).
#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::{AuthMethod, Call, Client, Credentials};
use crate::error::{Error, ErrorKind, Result};
use crate::jose::Jwks;
use crate::oauth::{parse_error, Form};
use crate::observe::{emit, without_query, Event, Level};
use crate::oidc::{
    locations, validate_id_token, Expected, Metadata, DEFAULT_MAX_AGE, MAX_DOCUMENT_BYTES,
};
use crate::transport::{CallOptions, Deadline, Pool, Request, Response, TransportOptions};
use crate::url::check_endpoint;

/// The metadata of the issuer a client was made from, kept for its
/// freshness (`Cache-Control: max-age`, else an hour) and refreshed by one
/// caller at a time; a failed refresh keeps the last good copy.
pub(crate) struct Discovery {
    issuer: String,
    current: RwLock<Published>,
    refreshing: Mutex<()>,
    /// The issuer's signing keys (`jwks_uri`), fetched on first use.
    keys: Mutex<Keys>,
}

#[derive(Default)]
struct Keys {
    set: Option<Arc<Jwks>>,
    fetched: Option<Instant>,
    max_age: Duration,
    /// The last fetch made for a `kid` the set lacked.
    refetched: Option<Instant>,
}

/// A JWKS is fetched again for an unknown `kid` at most this often (tokens
/// naming keys that do not exist must not make every validation a
/// request); a fetch because the set's max-age passed does not count.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Published {
    metadata: Arc<Metadata>,
    fetched: Instant,
    max_age: Duration,
}

/// A token (or other secret) to send in a form, checked.
fn token_arg<'a>(what: &str, token: &'a str) -> Result<&'a str> {
    if token.is_empty() {
        return Err(Error::invalid_argument(format!("{what} is empty")));
    }
    crate::audit::secret(token);
    Ok(token)
}

/// How long a metadata document or JWKS is used: its `max-age` (else an
/// hour), at least a minute (a `no-cache` or `max-age=0` would otherwise
/// make every use a request) and at most a day.
fn freshness(max_age: Option<u64>) -> Duration {
    max_age
        .map_or(DEFAULT_MAX_AGE, Duration::from_secs)
        .clamp(MIN_MAX_AGE, Duration::from_secs(24 * 3600))
}

/// The shortest time a fetched document is used.
const MIN_MAX_AGE: Duration = Duration::from_secs(60);

/// Fetches the metadata of `issuer`, from the OpenID Connect location or
/// else RFC 8414's, and how long it stays fresh.
fn fetch_metadata(
    pool: &Pool,
    transport: &TransportOptions,
    issuer: &str,
    deadline: &Deadline,
) -> Result<(Metadata, Duration)> {
    let options = TransportOptions {
        max_response_bytes: transport.max_response_bytes.min(MAX_DOCUMENT_BYTES),
        ..transport.clone()
    };
    let mut not_found = Vec::new();
    for url in locations(issuer) {
        let request = Request {
            url: &url,
            body: None,
            authorization: None,
            dpop: None,
        };
        let response = pool.send(&options, &request, deadline)?;
        match response.status {
            200 => {
                let metadata = Metadata::parse(issuer, &response.body)?;
                return Ok((metadata, freshness(response.max_age)));
            }
            404 => not_found.push(url),
            status => {
                return Err(Error::new(
                    ErrorKind::Http,
                    format!("the metadata of {issuer} could not be read: HTTP {status} from {url}"),
                )
                .with_http_status(u16::try_from(status).unwrap_or(0)))
            }
        }
    }
    Err(Error::new(
        ErrorKind::Http,
        format!(
            "no metadata is published for {issuer} (HTTP 404 from {})",
            not_found.join(" and ")
        ),
    )
    .with_http_status(404))
}

impl Client {
    /// A client of the authorization server `issuer` (an `https://` URL, or
    /// `http://` to a loopback host), identified as `client_id`: its
    /// metadata is fetched (OpenID Connect Discovery, else RFC 8414) and
    /// must name `issuer` exactly; the token endpoint and the others come
    /// from it. The metadata is fetched with the default transport settings
    /// (the system's CAs, the proxy from the environment).
    pub fn from_issuer(issuer: &str, client_id: &str) -> Result<Client> {
        Client::from_issuer_with(issuer, client_id, &CallOptions::default())
    }

    /// `from_issuer`, bounded by `options`.
    pub fn from_issuer_with(
        issuer: &str,
        client_id: &str,
        options: &CallOptions,
    ) -> Result<Client> {
        check_endpoint("the issuer", issuer)?;
        let transport = TransportOptions::default();
        let deadline = Deadline::for_call(transport.total_timeout, options);
        let pool = Pool::default();
        let (metadata, max_age) = fetch_metadata(&pool, &transport, issuer, &deadline)?;
        let mut client = Client::new(&metadata.token_endpoint, client_id)?;
        let discovery = Discovery {
            issuer: issuer.to_string(),
            current: RwLock::new(Published {
                metadata: Arc::new(metadata),
                fetched: Instant::now(),
                max_age,
            }),
            refreshing: Mutex::new(()),
            keys: Mutex::new(Keys::default()),
        };
        Arc::get_mut(&mut client.inner)
            .expect("a new client is not shared")
            .discovery = Some(discovery);
        Ok(client)
    }

    /// The issuer's metadata as last fetched, without asking again; `None`
    /// for a client not made from an issuer.
    pub(super) fn published_metadata(&self) -> Option<Arc<Metadata>> {
        let discovery = self.inner.discovery.as_ref()?;
        let current = discovery
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Some(current.metadata.clone())
    }

    /// The issuer's metadata (see `Call::metadata`).
    pub fn metadata(&self) -> Result<Arc<Metadata>> {
        self.call(&CallOptions::default()).metadata()
    }

    /// Revokes a token (see `Call::revoke`).
    pub fn revoke(&self, token: &str, token_type_hint: Option<&str>) -> Result<()> {
        self.call(&CallOptions::default())
            .revoke(token, token_type_hint)
    }

    /// Introspects a token (see `Call::introspect`).
    pub fn introspect(&self, token: &str, token_type_hint: Option<&str>) -> Result<String> {
        self.call(&CallOptions::default())
            .introspect(token, token_type_hint)
    }

    /// Authenticates with a client secret by the method the issuer's
    /// metadata prefers (`token_endpoint_auth_methods_supported`):
    /// client_secret_basic when listed (or when nothing is listed, its
    /// default per RFC 8414), else client_secret_post, else
    /// client_secret_jwt. Returns the method chosen.
    pub fn set_client_secret_auto(&self, secret: &str) -> Result<AuthMethod> {
        if secret.is_empty() {
            return Err(Error::invalid_argument("the client secret is empty"));
        }
        let metadata = self.metadata()?;
        let listed = &metadata.token_endpoint_auth_methods_supported;
        let method = [
            AuthMethod::ClientSecretBasic,
            AuthMethod::ClientSecretPost,
            AuthMethod::ClientSecretJwt,
        ]
        .into_iter()
        .find(|m| listed.is_empty() || listed.iter().any(|l| l == m.name()))
        .ok_or_else(|| {
            Error::config(format!(
                "the issuer lists no client secret method among its token endpoint auth                  methods ({})",
                listed.join(", ")
            ))
        })?;
        self.set_client_secret(secret, method)?;
        Ok(method)
    }

    /// Validates an ID token (see `Call::validate_id_token`).
    pub fn validate_id_token(&self, id_token: &str, nonce: Option<&str>) -> Result<String> {
        self.call(&CallOptions::default())
            .validate_id_token(id_token, nonce)
    }

    /// The userinfo of an access token (see `Call::userinfo`).
    pub fn userinfo(&self, access_token: &str) -> Result<String> {
        self.call(&CallOptions::default()).userinfo(access_token)
    }
}

impl Call<'_> {
    /// The metadata of the issuer the client was made from, from its cache
    /// while fresh. Once stale, one caller fetches it again while the
    /// others keep the current copy; a failed fetch keeps the current copy
    /// (and says so in a warn event).
    pub fn metadata(&self) -> Result<Arc<Metadata>> {
        let client = self.client;
        let Some(discovery) = &client.inner.discovery else {
            return Err(Error::config(
                "the client was not made from an issuer (tokenclient_client_from_issuer): it has \
                 no metadata",
            ));
        };
        let current = discovery
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let settings = client.settings();
        if settings
            .clock
            .now()
            .saturating_duration_since(current.fetched)
            < current.max_age
        {
            return Ok(current.metadata);
        }
        // Someone else is refreshing it: keep using the current copy.
        let Ok(_refreshing) = discovery.refreshing.try_lock() else {
            return Ok(current.metadata);
        };
        match fetch_metadata(
            client.pool(),
            &settings.transport,
            &discovery.issuer,
            &self.deadline(),
        ) {
            Ok((metadata, max_age)) => {
                let fresh = Published {
                    metadata: Arc::new(metadata),
                    fetched: settings.clock.now(),
                    max_age,
                };
                *discovery
                    .current
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = fresh.clone();
                Ok(fresh.metadata)
            }
            Err(e) => {
                emit(settings.log.as_ref(), Level::Warn, || {
                    Event {
                        name: "metadata.refresh.failed_kept_old",
                        endpoint: Some(without_query(&discovery.issuer)),
                        ..Event::default()
                    }
                    .with_error(&e)
                });
                Ok(current.metadata)
            }
        }
    }

    /// Validates `id_token` as an ID token of the issuer for this client
    /// (OpenID Connect Core §3.1.3.7) and returns its claims as JSON: the
    /// signature with the issuer's JWKS (fetched from `jwks_uri` and cached
    /// for its max-age, fetched again at most every 10 s for an unknown
    /// `kid`) or, for HS*, with the client secret; `alg` among the
    /// metadata's `id_token_signing_alg_values_supported`, never `none`;
    /// `iss`, `aud` (and `azp`), `exp`, `iat`, `nbf` with the clock-skew
    /// setting as leeway; `nonce` when given.
    pub fn validate_id_token(&self, id_token: &str, nonce: Option<&str>) -> Result<String> {
        self.validate(id_token, nonce, None, None, None)
    }

    /// `validate_id_token` with what the authorization request and the
    /// token response add: `max_age`, and the access token and code for
    /// `at_hash` and `c_hash`.
    pub(crate) fn validate(
        &self,
        id_token: &str,
        nonce: Option<&str>,
        max_age: Option<u64>,
        access_token: Option<&str>,
        code: Option<&str>,
    ) -> Result<String> {
        let metadata = self.metadata()?;
        let settings = self.client.settings();
        let secret = match &settings.credentials {
            Credentials::Secret { secret, .. } => Some(secret.as_bytes()),
            _ => None,
        };
        let expected = Expected {
            issuer: &metadata.issuer,
            client_id: self.client.client_id(),
            nonce,
            max_age,
            access_token,
            code,
            algorithms: &metadata.id_token_signing_alg_values_supported,
            secret,
            now: settings.clock.wall(),
            skew: Duration::from_secs(u64::from(settings.clock_skew)),
        };
        validate_id_token(id_token, &expected, &mut |refetch| {
            self.keys(&metadata, refetch)
        })
    }

    /// The issuer's signing keys: the cached set while fresh, else fetched;
    /// `refetch` fetches again (for a `kid` the set lacks) unless such a
    /// fetch was made in the last 10 s.
    fn keys(&self, metadata: &Metadata, refetch: bool) -> Result<Arc<Jwks>> {
        let discovery = self.client.inner.discovery.as_ref().expect("metadata came");
        let lock = || {
            discovery
                .keys
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        let clock = self.client.settings().clock.clone();
        let age = |at: Instant| clock.now().saturating_duration_since(at);
        // Decided under the lock, fetched without it: a slow fetch must not
        // hold up validations with other deadlines (or cancels) meanwhile.
        let cached = {
            let keys = lock();
            if let (Some(set), Some(fetched)) = (&keys.set, keys.fetched) {
                let keep = if refetch {
                    // Once per interval, however many unknown kids come.
                    keys.refetched
                        .is_some_and(|at| age(at) < JWKS_REFETCH_INTERVAL)
                } else {
                    age(fetched) < keys.max_age
                };
                if keep {
                    return Ok(set.clone());
                }
            }
            keys.set.clone()
        };
        match self.fetch_keys(metadata) {
            Ok((set, max_age)) => {
                let now = clock.now();
                let mut keys = lock();
                let refetched = if refetch { Some(now) } else { keys.refetched };
                *keys = Keys {
                    set: Some(set.clone()),
                    fetched: Some(now),
                    refetched,
                    max_age,
                };
                Ok(set)
            }
            // A set that could not be fetched again: the last one still
            // verifies what it verified (the caller's refetch then finds
            // no new kid).
            Err(e) => cached.ok_or(e),
        }
    }

    /// The issuer's JWKS, fetched, and how long it stays fresh.
    fn fetch_keys(&self, metadata: &Metadata) -> Result<(Arc<Jwks>, Duration)> {
        let url = metadata
            .jwks_uri
            .as_ref()
            .ok_or_else(|| Error::config("the issuer's metadata names no jwks_uri"))?;
        let settings = self.client.settings();
        let transport = TransportOptions {
            max_response_bytes: settings
                .transport
                .max_response_bytes
                .min(MAX_DOCUMENT_BYTES),
            ..settings.transport.clone()
        };
        let request = Request {
            url,
            body: None,
            authorization: None,
            dpop: None,
        };
        let response = self
            .client
            .pool()
            .send(&transport, &request, &self.deadline())?;
        if response.status != 200 {
            return Err(Error::new(
                ErrorKind::Http,
                format!(
                    "the issuer's JWKS could not be read: HTTP {} from {url}",
                    response.status
                ),
            )
            .with_http_status(u16::try_from(response.status).unwrap_or(0)));
        }
        Ok((
            Arc::new(Jwks::parse(&response.body)?),
            freshness(response.max_age),
        ))
    }

    /// The URL of the endpoint the metadata names `name`: its mTLS alias
    /// (RFC 8705 §5) when the client presents a certificate.
    pub(super) fn endpoint(&self, name: &str) -> Result<String> {
        let metadata = self.metadata()?;
        let mtls = self.client.settings().transport.client_cert.is_some();
        metadata
            .endpoint(name, mtls)
            .map(str::to_string)
            .ok_or_else(|| Error::config(format!("the issuer's metadata names no {name}")))
    }

    /// POSTs `params` with the client's authentication to `url` and returns
    /// the 2xx answer; other answers become errors as at the token endpoint,
    /// with `secrets` (a token sent) kept out of their text too should the
    /// server echo them.
    pub(super) fn post_authenticated(
        &self,
        url: &str,
        params: &[(&str, &str)],
        secrets: &[&str],
    ) -> Result<Response> {
        let client = self.client;
        let settings = client.settings();
        let mut form = Form::new();
        for (name, value) in params {
            form.push(name, value);
        }
        let auth = client.authenticate(&settings, &mut form)?;
        let request = Request {
            url,
            body: Some(form.as_bytes()),
            authorization: auth.header.as_deref().map(|h| h.as_str()),
            dpop: None,
        };
        let response = client
            .pool()
            .send(&settings.transport, &request, &self.deadline())?;
        if (200..300).contains(&response.status) {
            return Ok(response);
        }
        let mut redact = auth.redact();
        redact.extend_from_slice(secrets);
        Err(parse_error(response.status, &response.body, &redact))
    }

    /// Revokes `token` (RFC 7009) at the issuer's revocation endpoint, with
    /// the client's authentication. `token_type_hint`: "access_token" or
    /// "refresh_token" (or None). A token the server does not know is
    /// revoked all the same (RFC 7009 §2.2: it answers 200).
    pub fn revoke(&self, token: &str, token_type_hint: Option<&str>) -> Result<()> {
        let token = token_arg("the token", token)?;
        let url = self.endpoint("revocation_endpoint")?;
        let mut params = vec![("token", token)];
        params.extend(token_type_hint.map(|h| ("token_type_hint", h)));
        self.post_authenticated(&url, &params, &[token]).map(drop)
    }

    /// Introspects `token` (RFC 7662) at the issuer's introspection endpoint,
    /// with the client's authentication, and returns the answer's JSON
    /// object (`active` is false for a token that is not valid).
    pub fn introspect(&self, token: &str, token_type_hint: Option<&str>) -> Result<String> {
        let token = token_arg("the token", token)?;
        let url = self.endpoint("introspection_endpoint")?;
        let mut params = vec![("token", token)];
        params.extend(token_type_hint.map(|h| ("token_type_hint", h)));
        let response = self.post_authenticated(&url, &params, &[token])?;
        json_object("the introspection answer", &response.body, |doc| {
            if doc
                .get("active")
                .and_then(serde_json::Value::as_bool)
                .is_none()
            {
                return Err(Error::new(
                    ErrorKind::Response,
                    "the introspection answer has no boolean \"active\"",
                ));
            }
            Ok(())
        })
    }

    /// The claims the userinfo endpoint gives for `access_token` (a JSON
    /// object; a signed or encrypted userinfo answer is refused).
    pub fn userinfo(&self, access_token: &str) -> Result<String> {
        let access_token = token_arg("the access token", access_token)?;
        let url = self.endpoint("userinfo_endpoint")?;
        let client = self.client;
        let settings = client.settings();
        let mut bearer = Zeroizing::new(String::with_capacity(access_token.len() + 7));
        bearer.push_str("Bearer ");
        bearer.push_str(access_token);
        let request = Request {
            url: &url,
            body: None,
            authorization: Some(&bearer),
            dpop: None,
        };
        let response = client
            .pool()
            .send(&settings.transport, &request, &self.deadline())?;
        if !(200..300).contains(&response.status) {
            return Err(parse_error(
                response.status,
                &response.body,
                &[access_token],
            ));
        }
        json_object("the userinfo answer", &response.body, |_| Ok(()))
    }
}

/// `body` as text, if it is a JSON object that `check` accepts.
fn json_object(
    what: &str,
    body: &[u8],
    check: impl FnOnce(&serde_json::Value) -> Result<()>,
) -> Result<String> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::new(ErrorKind::Response, format!("{what} is not UTF-8")))?;
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| Error::new(ErrorKind::Response, format!("{what} is not JSON")))?;
    if !doc.is_object() {
        return Err(Error::new(
            ErrorKind::Response,
            format!("{what} is not a JSON object"),
        ));
    }
    check(&doc)?;
    Ok(text.to_string())
}
