//! Provider token URL helpers.

use std::ffi::c_char;

use super::strings::into_owned_raw;
use super::{boundary, error::tokenclient_error, out_arg, str_arg, write_out};
use crate::error::Error;
use crate::providers::{pingone_token_url, talkdesk_token_url, TalkdeskRegion};

/// A Talkdesk region; pass one of the `TOKENCLIENT_TALKDESK_*` values.
/// (An integer type, so that an out-of-range value from C is an error, not
/// undefined behaviour.)
pub type tokenclient_talkdesk_region = u32;
/// `https://{account}.talkdeskid.com/oauth/token`
pub const TOKENCLIENT_TALKDESK_US: tokenclient_talkdesk_region = 0;
/// `https://{account}.talkdeskid.eu/oauth/token`
pub const TOKENCLIENT_TALKDESK_EU: tokenclient_talkdesk_region = 1;
/// `https://{account}.talkdeskidca.com/oauth/token`
pub const TOKENCLIENT_TALKDESK_CA: tokenclient_talkdesk_region = 2;

/// Writes to `*out` the token URL of Talkdesk `account` in `region`, e.g.
/// `https://acme.talkdeskid.com/oauth/token`.
///
/// `account` must be 1 to 63 ASCII letters, digits or '-' (not at either
/// end): anything that could change the host or path is refused.
///
/// Ownership: on success `*out` is a new string; free it with
/// `tokenclient_string_free`. On error `*out` is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, invalid UTF-8, a
/// bad account or an unknown region.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_talkdesk_token_url(
    account: *const c_char,
    region: tokenclient_talkdesk_region,
    out: *mut *mut c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let account = str_arg(account, "account")?;
        let region = match region {
            TOKENCLIENT_TALKDESK_US => TalkdeskRegion::Us,
            TOKENCLIENT_TALKDESK_EU => TalkdeskRegion::Eu,
            TOKENCLIENT_TALKDESK_CA => TalkdeskRegion::Ca,
            other => {
                return Err(Error::invalid_argument(format!(
                    "unknown Talkdesk region {other}"
                )))
            }
        };
        let url = talkdesk_token_url(account, region)?;
        write_out(out, into_owned_raw(url));
        Ok(())
    })
}

/// Writes to `*out` the PingOne token URL `{auth_base}/{env_id}/as/token`,
/// e.g. `https://auth.pingone.com/<env>/as/token`.
///
/// `auth_base` is a scheme and host such as `https://auth.pingone.eu` (a
/// trailing '/' is ignored; `http://` only for a loopback host). `env_id`
/// must be ASCII letters, digits or '-'.
///
/// Ownership: on success `*out` is a new string; free it with
/// `tokenclient_string_free`. On error `*out` is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for NULL, invalid UTF-8, a
/// bad base or environment id.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_pingone_token_url(
    auth_base: *const c_char,
    env_id: *const c_char,
    out: *mut *mut c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out, "out")?;
        let url = pingone_token_url(str_arg(auth_base, "auth_base")?, str_arg(env_id, "env_id")?)?;
        write_out(out, into_owned_raw(url));
        Ok(())
    })
}
