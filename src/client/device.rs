//! The device authorization grant (RFC 8628): start it at the issuer's
//! device authorization endpoint, then poll the token endpoint until the
//! user approves, denies, or the code expires.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use serde_json::Value;
use zeroize::Zeroizing;

use super::{Call, Client};
use crate::error::{Error, ErrorKind, Result};
use crate::oauth::{Token, DEVICE_CODE_GRANT};
use crate::transport::{CallOptions, Deadline};

/// The longest polling interval and lifetime accepted from a server.
const MAX_INTERVAL: u64 = 300;
const MAX_EXPIRES_IN: u64 = 24 * 3600;
/// RFC 8628 §3.5: a `slow_down` adds 5 s to the interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// A started device authorization: what to show the user, and what to poll
/// with (the device code, a secret, wiped when dropped).
pub struct DeviceAuthorization {
    device_code: Zeroizing<String>,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    /// Seconds the codes live, as the server said.
    pub expires_in: u64,
    /// Seconds between polls (RFC 8628 §3.2: 5 when not said).
    pub interval: u64,
    started: Instant,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .finish_non_exhaustive()
    }
}

fn response_error(message: &str) -> Error {
    Error::new(
        ErrorKind::Response,
        format!("the device authorization answer {message}"),
    )
}

fn parse(body: &[u8]) -> Result<DeviceAuthorization> {
    let doc: Value = serde_json::from_slice(body).map_err(|_| response_error("is not JSON"))?;
    let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_string);
    let number = |name: &str| doc.get(name).and_then(Value::as_u64);
    let device_code = text("device_code").ok_or_else(|| response_error("has no device_code"))?;
    crate::audit::secret(&device_code);
    Ok(DeviceAuthorization {
        device_code: Zeroizing::new(device_code),
        user_code: text("user_code").ok_or_else(|| response_error("has no user_code"))?,
        verification_uri: text("verification_uri")
            .ok_or_else(|| response_error("has no verification_uri"))?,
        verification_uri_complete: text("verification_uri_complete"),
        expires_in: number("expires_in")
            .ok_or_else(|| response_error("has no expires_in"))?
            .min(MAX_EXPIRES_IN),
        interval: number("interval").unwrap_or(5).clamp(1, MAX_INTERVAL),
        started: Instant::now(),
    })
}

impl Client {
    /// Starts a device authorization (see `Call::device_authorize`).
    pub fn device_authorize(&self, scope: Option<&str>) -> Result<DeviceAuthorization> {
        self.call(&CallOptions::default()).device_authorize(scope)
    }

    /// Polls for the device authorization's token (see `Call::device_poll`).
    pub fn device_poll(&self, device: &DeviceAuthorization) -> Result<Token> {
        self.call(&CallOptions::default()).device_poll(device)
    }
}

impl Call<'_> {
    /// Starts a device authorization (RFC 8628 §3.1) for `scope` at the
    /// issuer's `device_authorization_endpoint`, with the client's
    /// authentication: show the user the user code and the verification
    /// URI, then `device_poll`.
    pub fn device_authorize(&self, scope: Option<&str>) -> Result<DeviceAuthorization> {
        let url = self.endpoint("device_authorization_endpoint")?;
        let params: Vec<(&str, &str)> = scope.map(|s| ("scope", s)).into_iter().collect();
        let response = self.post_authenticated(&url, &params, &[])?;
        parse(&response.body)
    }

    /// Polls the token endpoint (RFC 8628 §3.4) every `interval` seconds
    /// until the user approves (the token), denies (`OAuth` error
    /// access_denied) or the code expires (`OAuth` expired_token, or a
    /// `Transport` error saying the code's time ran out). `slow_down` adds
    /// 5 s to the interval. The call's deadline, when the options give one,
    /// bounds the polling; otherwise the code's lifetime does. A cancel
    /// stops it between or during polls.
    pub fn device_poll(&self, device: &DeviceAuthorization) -> Result<Token> {
        let lifetime = Duration::from_secs(device.expires_in);
        let left = lifetime.saturating_sub(device.started.elapsed());
        let deadline = Deadline::for_call(left, self.options);
        let mut interval = Duration::from_secs(device.interval);
        loop {
            let wait = interval.min(deadline.remaining());
            deadline.sleep(wait)?;
            if deadline.remaining().is_zero() {
                return Err(Error::new(
                    ErrorKind::Transport,
                    format!(
                        "the device authorization was not approved within the call's {} ms",
                        deadline.total().as_millis()
                    ),
                ));
            }
            let params = [("device_code", device.device_code.as_str())];
            // A pending poll is the grant working, not an error: only the
            // poll that ends it is counted.
            match self.client.attempts(DEVICE_CODE_GRANT, &params, &deadline) {
                Ok(token) => return Ok(token),
                Err(e) => match e.oauth().map(|o| o.code.as_str()) {
                    Some("authorization_pending") => {}
                    Some("slow_down") => interval += SLOW_DOWN_STEP,
                    _ => {
                        self.client.inner.counters.error(e.kind());
                        return Err(e);
                    }
                },
            }
        }
    }
}
