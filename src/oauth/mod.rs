//! OAuth 2.0 at the token endpoint, independent of any client: the form
//! (`form`), RFC 7523 assertion claims (`assertion`), grants and what the
//! endpoint's answer means (`grant`), token responses (`token`), error
//! responses (`error_response`) and retry semantics (`retry`).
#![forbid(unsafe_code)]

mod assertion;
mod error_response;
mod form;
mod grant;
mod retry;
mod token;

pub(crate) use assertion::now;
pub use assertion::{Audience, ClaimsTemplate, JWT_BEARER_ASSERTION_TYPE};
pub use error_response::parse_error;
pub use form::{encode_into, Form};
pub(crate) use grant::{check_grant, read_answer, required, DEVICE_CODE_GRANT};
pub use retry::{delay, may_retry, random_u64, RetryPolicy};
pub use token::{c_string, parse_token, Token};
