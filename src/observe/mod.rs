//! What the library does, for operators: events handed to a callback the
//! caller sets per client (`Client::set_log_callback`), and counters kept
//! per client (`Client::counters`). Neither ever holds a secret: an event's
//! fields are names, numbers, the endpoint URL without its query, the
//! scope and the (already scrubbed) OAuth error code.
#![forbid(unsafe_code)]

mod counters;

use std::fmt::Write as _;
use std::sync::Arc;

pub(crate) use counters::CounterSet;
pub use counters::Counters;

use crate::error::ErrorKind;

/// How much an event matters. A callback set for a level receives the
/// events of that level and the more severe ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

/// One thing the library did. `name` is stable (e.g. `request.done`);
/// fields that do not apply are `None`.
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    pub name: &'static str,
    /// The token endpoint, without query or fragment.
    pub endpoint: Option<&'a str>,
    pub grant_type: Option<&'a str>,
    pub auth_method: Option<&'static str>,
    /// 1 for the first attempt of a call.
    pub attempt: Option<u32>,
    pub http_status: Option<u16>,
    /// The OAuth `error` code of the answer, as scrubbed for messages.
    pub oauth_error: Option<&'a str>,
    pub error_kind: Option<ErrorKind>,
    /// How long the request (or the wait) took.
    pub duration_us: Option<u64>,
    /// A backoff before the next attempt.
    pub delay_ms: Option<u64>,
    pub scope: Option<&'a str>,
    /// The shared token store, as a URL without any password.
    pub store: Option<&'a str>,
    /// Why a store operation failed (never a secret).
    pub reason: Option<&'a str>,
}

/// The name of an error kind in events and counters.
pub fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidArgument => "invalid_argument",
        ErrorKind::Key => "key",
        ErrorKind::Config => "config",
        ErrorKind::Transport => "transport",
        ErrorKind::OAuth => "oauth",
        ErrorKind::Http => "http",
        ErrorKind::Response => "response",
        ErrorKind::Panic => "panic",
        ErrorKind::Cancelled => "cancelled",
    }
}

impl<'a> Event<'a> {
    /// The event with the fields of `error`: its kind, HTTP status (when
    /// there was an answer) and OAuth error code.
    pub(crate) fn with_error(self, error: &'a crate::error::Error) -> Self {
        Event {
            error_kind: Some(error.kind()),
            http_status: Some(error.http_status()).filter(|s| *s != 0),
            oauth_error: error.oauth().map(|o| o.code.as_str()),
            ..self
        }
    }

    /// The fields that apply, as (name, value) pairs in a fixed order.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut text = |name, value: Option<&str>| {
            if let Some(v) = value {
                out.push((name, v.to_string()));
            }
        };
        text("endpoint", self.endpoint);
        text("grant_type", self.grant_type);
        text("auth_method", self.auth_method);
        text("scope", self.scope);
        text("oauth_error", self.oauth_error);
        text("error_kind", self.error_kind.map(kind_name));
        text("store", self.store);
        text("reason", self.reason);
        let mut number = |name, value: Option<u64>| {
            if let Some(v) = value {
                out.push((name, v.to_string()));
            }
        };
        number("attempt", self.attempt.map(u64::from));
        number("http_status", self.http_status.map(u64::from));
        number("duration_us", self.duration_us);
        number("delay_ms", self.delay_ms);
        out
    }

    /// The event as one JSON object: `level`, `event` and the fields.
    pub fn to_json(&self, level: Level) -> String {
        let mut json = format!(r#"{{"level":"{}","event":"{}""#, level.name(), self.name);
        for (name, value) in self.fields() {
            let numeric = matches!(name, "attempt" | "http_status" | "duration_us" | "delay_ms");
            if numeric {
                let _ = write!(json, r#","{name}":{value}"#);
            } else {
                let _ = write!(json, r#","{name}":{}"#, serde_json::Value::from(value));
            }
        }
        json.push('}');
        json
    }
}

/// Called with each event at or above the level it was set for, on the
/// thread that caused it; it must not call back into the same client's
/// setters.
pub type LogCallback = Arc<dyn Fn(Level, &Event<'_>) + Send + Sync>;

/// A callback and the least severe level it receives.
#[derive(Clone)]
pub(crate) struct LogSink {
    pub(crate) level: Level,
    pub(crate) callback: LogCallback,
}

/// Hands `event` to `sink` when its level is wanted; the event is built
/// only then. Every event goes to the test-hooks audit, so the secret scan
/// covers it.
pub(crate) fn emit<'a>(sink: Option<&LogSink>, level: Level, event: impl FnOnce() -> Event<'a>) {
    if let Some(sink) = sink.filter(|s| level <= s.level) {
        let event = event();
        // Only the test-hooks build records (and so formats) it here.
        #[cfg(feature = "test-hooks")]
        crate::audit::message(&event.to_json(level));
        (sink.callback)(level, &event);
    }
}

/// `url` without its query and fragment, for events.
pub(crate) fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_fields_that_apply() {
        let event = Event {
            name: "request.done",
            endpoint: Some("https://as/token"),
            grant_type: Some("client_credentials"),
            attempt: Some(2),
            http_status: Some(503),
            scope: Some("a \"b\""),
            ..Event::default()
        };
        let json: serde_json::Value = serde_json::from_str(&event.to_json(Level::Warn)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"level": "warn", "event": "request.done", "endpoint": "https://as/token",
                "grant_type": "client_credentials", "attempt": 2, "http_status": 503, "scope": "a \"b\""})
        );
        assert_eq!(without_query("https://as/token?x=1#f"), "https://as/token");
    }

    #[test]
    fn levels_filter() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let sink = LogSink {
            level: Level::Info,
            callback: Arc::new(move |level, e| record.lock().unwrap().push((level, e.name))),
        };
        emit(Some(&sink), Level::Debug, || Event {
            name: "cache.hit",
            ..Event::default()
        });
        emit(Some(&sink), Level::Warn, || Event {
            name: "retry.scheduled",
            ..Event::default()
        });
        emit(None, Level::Error, || {
            panic!("no sink: the event is not built")
        });
        assert_eq!(
            *seen.lock().unwrap(),
            vec![(Level::Warn, "retry.scheduled")]
        );
    }
}
