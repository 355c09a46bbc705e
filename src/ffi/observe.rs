//! Events and counters: the log callback, the event it receives, and the
//! client's counters as JSON.

use std::cell::OnceCell;
use std::ffi::{c_char, c_void, CString};
use std::ptr;
use std::sync::Arc;

use super::client::tokenclient_client;
use super::strings::into_owned_raw;
use super::{
    boundary, error::tokenclient_error, guard, out_arg, ref_arg, str_arg, to_cstring, write_out,
    UserData,
};
use crate::error::{Error, Result};
use crate::observe::{Event, Level, LogCallback};

/// How much an event matters: one of the `TOKENCLIENT_LOG_*` values. A
/// callback set for a level receives that level and the more severe ones.
pub type tokenclient_log_level = u32;
/// A failure nothing recovers from (reserved: no event has this level yet;
/// a failed request is a warning, and the call returns its error).
pub const TOKENCLIENT_LOG_ERROR: tokenclient_log_level = 1;
/// Something went wrong and was handled: a failed request (retried or
/// not), a retry scheduled, a failed refresh while the old token was kept.
pub const TOKENCLIENT_LOG_WARN: tokenclient_log_level = 2;
/// What a client did: a request answered, a token refresh started.
pub const TOKENCLIENT_LOG_INFO: tokenclient_log_level = 3;
/// Everything: requests sent, cache hits and misses, single-flight waits.
pub const TOKENCLIENT_LOG_DEBUG: tokenclient_log_level = 4;

fn level_of(level: tokenclient_log_level) -> Result<Level> {
    Ok(match level {
        TOKENCLIENT_LOG_ERROR => Level::Error,
        TOKENCLIENT_LOG_WARN => Level::Warn,
        TOKENCLIENT_LOG_INFO => Level::Info,
        TOKENCLIENT_LOG_DEBUG => Level::Debug,
        other => {
            return Err(Error::invalid_argument(format!(
                "unknown log level {other}: use TOKENCLIENT_LOG_ERROR, _WARN, _INFO or _DEBUG"
            )))
        }
    })
}

/// One event, handed to a `tokenclient_log_callback`. Opaque; read it with
/// the `tokenclient_event_*` functions during the callback only. It never
/// holds a secret: its fields are names, numbers, the endpoint URL without
/// its query, the scope and the OAuth error code.
pub struct tokenclient_event {
    level: Level,
    name: CString,
    /// The event this is a view of; it outlives the view (both live only
    /// during the callback).
    event: *const Event<'static>,
    /// The event's text, made when the callback first asks for it: one
    /// that reads only the name pays for nothing else.
    text: OnceCell<Text>,
}

struct Text {
    json: CString,
    fields: Vec<(&'static str, CString)>,
}

impl tokenclient_event {
    fn new(level: Level, event: &Event<'_>) -> Self {
        tokenclient_event {
            level,
            name: to_cstring(event.name),
            event: (event as *const Event<'_>).cast(),
            text: OnceCell::new(),
        }
    }

    fn text(&self) -> &Text {
        // SAFETY: the view lives only during the callback, inside the
        // borrow of the event it was made from (see `new`'s caller).
        let event = unsafe { &*self.event };
        self.text.get_or_init(|| Text {
            json: to_cstring(&event.to_json(self.level)),
            fields: event
                .fields()
                .into_iter()
                .map(|(name, value)| (name, to_cstring(&value)))
                .collect(),
        })
    }
}

/// Called with each event of the client at or above the level it was set
/// for (`tokenclient_client_set_log_callback`), on the thread that caused
/// it, possibly from many threads at once. `event` is valid only during the
/// call. Return quickly, and do not call the same client's setters from it.
pub type tokenclient_log_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const tokenclient_event)>;

/// Hands the client's events at `level` (a `TOKENCLIENT_LOG_*` value) and
/// above to `callback(user_data, event)`. A NULL callback removes it.
/// `user_data` is passed back untouched and is not freed by tokenclient.
/// Events are per client, so that each part of a program can route its
/// clients' events where it wants. Event names are stable: `request.sent`
/// (debug), `request.done` (info), `request.failed` and `retry.scheduled`
/// (warn), `cache.hit`, `cache.miss` and `singleflight.wait` (debug),
/// `cache.refresh.started` (info), `cache.refresh.failed_kept_old` (warn).
///
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL client or an
/// unknown level.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_set_log_callback(
    client: *mut tokenclient_client,
    level: tokenclient_log_level,
    callback: tokenclient_log_callback,
    user_data: *mut c_void,
) -> *mut tokenclient_error {
    boundary(|| {
        let c = &ref_arg(client, "client")?.inner;
        let level = level_of(level)?;
        let hook = callback.map(|f| {
            let data = UserData(user_data);
            Arc::new(move |level: Level, event: &Event<'_>| {
                let view = tokenclient_event::new(level, event);
                // SAFETY: the caller registered `f` for this `user_data`;
                // `view` lives until after the call returns.
                unsafe { f(data.ptr(), &view) };
            }) as LogCallback
        });
        c.set_log_callback(level, hook)
    })
}

/// The event's level, a `TOKENCLIENT_LOG_*` value; 0 for a NULL event.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_event_level(
    event: *const tokenclient_event,
) -> tokenclient_log_level {
    guard(0, || {
        event
            .as_ref()
            .map_or(0, |e| e.level as tokenclient_log_level)
    })
}

/// The event's stable name, e.g. "request.done"; NULL for a NULL event.
/// Ownership: belongs to `event`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_event_name(event: *const tokenclient_event) -> *const c_char {
    guard(ptr::null(), || {
        event.as_ref().map_or(ptr::null(), |e| e.name.as_ptr())
    })
}

/// A field of the event by name: "endpoint", "grant_type", "auth_method",
/// "scope", "oauth_error", "error_kind", "attempt", "http_status",
/// "duration_us" or "delay_ms" (numbers in decimal). NULL when the event
/// has no such field, or for a NULL or non-UTF-8 argument. Ownership:
/// belongs to `event`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_event_field(
    event: *const tokenclient_event,
    name: *const c_char,
) -> *const c_char {
    guard(ptr::null(), || {
        let (Some(e), Ok(name)) = (event.as_ref(), str_arg(name, "name")) else {
            return ptr::null();
        };
        e.text()
            .fields
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(ptr::null(), |(_, v)| v.as_ptr())
    })
}

/// The whole event as one JSON object: "level" ("error", "warn", "info" or
/// "debug"), "event" (the name) and its fields (numbers as numbers). NULL
/// for a NULL event. Ownership: belongs to `event`.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_event_json(event: *const tokenclient_event) -> *const c_char {
    guard(ptr::null(), || {
        event
            .as_ref()
            .map_or(ptr::null(), |e| e.text().json.as_ptr())
    })
}

/// The client's counters as one JSON object, written to `*out_json`:
/// "requests" (attempts sent, by grant: "authorization_code",
/// "refresh_token", "client_credentials", the device grant, "other"),
/// "errors" (calls that failed, by error kind: "transport", "oauth", ...),
/// "retries", "cache_hits", "cache_misses", "refreshes" (token requests
/// the cache started), "refresh_failures_kept_old", "singleflight_waits",
/// and "latency_us" (token endpoint requests by duration: "le_1000" ...
/// "le_5000000", "inf"). Counting is always on and costs a relaxed atomic
/// increment.
///
/// Ownership: on success `*out_json` is a string to free with
/// `tokenclient_string_free`. On error it is not written.
/// Errors: `TOKENCLIENT_ERROR_INVALID_ARGUMENT` for a NULL argument.
#[no_mangle]
pub unsafe extern "C" fn tokenclient_client_counters(
    client: *const tokenclient_client,
    out_json: *mut *mut c_char,
) -> *mut tokenclient_error {
    boundary(|| {
        out_arg(out_json, "out_json")?;
        let c = &ref_arg(client, "client")?.inner;
        write_out(out_json, into_owned_raw(c.counters().to_json()));
        Ok(())
    })
}
