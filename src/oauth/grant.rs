//! Grants at the token endpoint (RFC 6749 §4, §6): which form fields belong
//! to the client authentication, what repeating a grant's request could do,
//! and what the endpoint's answer means.
#![forbid(unsafe_code)]

use super::error_response::parse_error;
use super::retry::Repeat;
use super::token::{parse_token, Token};
use crate::error::{Error, Result};

/// The device authorization grant's type (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Form fields that only the client authentication may set.
const RESERVED: [&str; 5] = [
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// An `INVALID_ARGUMENT` error when `value` is empty.
pub(crate) fn required(what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        Err(Error::invalid_argument(format!("{what} is empty")))
    } else {
        Ok(())
    }
}

/// Checks a grant's type and parameters, and says what repeating its
/// request could do.
pub(crate) fn check_grant(grant_type: &str, params: &[(&str, &str)]) -> Result<Repeat> {
    required("the grant type", grant_type)?;
    for (name, _) in params {
        required("a parameter name", name)?;
        if RESERVED.contains(name) {
            return Err(Error::invalid_argument(format!(
                "the parameter \"{name}\" is set by tokenclient itself and cannot be passed"
            )));
        }
    }
    Ok(match grant_type {
        // A device code is spent by the request that gets its token.
        "authorization_code" | DEVICE_CODE_GRANT => Repeat::SingleUse,
        "refresh_token" => Repeat::RotatesState,
        _ => Repeat::Safe,
    })
}

/// The token endpoint's answer: a token for a 2xx, otherwise the error
/// (scrubbed of `redact`), marked transient for 5xx and 429 and carrying
/// the server's `Retry-After`.
pub(crate) fn read_answer(
    status: u32,
    body: &[u8],
    retry_after: Option<&str>,
    redact: &[&str],
) -> Result<Token> {
    if (200..300).contains(&status) {
        let token = parse_token(status, body)?;
        for value in [
            Some(token.access_token()),
            token.refresh_token(),
            token.id_token(),
        ] {
            value.into_iter().for_each(crate::audit::secret);
        }
        return Ok(token);
    }
    let mut error = parse_error(status, body, redact);
    if status >= 500 || status == 429 {
        // Overloaded or failing; with 429 and 503 the server says it did
        // not process the request.
        error = error.mark_transient(matches!(status, 429 | 503));
    }
    Err(match retry_after {
        Some(value) => error.with_retry_after(value),
        None => error,
    })
}
