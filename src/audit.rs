//! Test-only record of every error message and every secret the library
//! handles, for the suite-wide secret scan (`tests/audit/scan.py`).
//!
//! Without the `test-hooks` cargo feature (every build that ships) the
//! functions here are empty and inlined away. With it, they append one JSON
//! line per call to `$TOKENCLIENT_AUDIT_DIR/<program>-<pid>.jsonl`, and only
//! when that variable is set: `make test` sets it, runs every suite, then
//! fails if any recorded message contains any recorded secret.
#![forbid(unsafe_code)]

/// An error text a caller can see (message, OAuth description or URI).
#[inline(always)]
pub(crate) fn message(text: &str) {
    sink::record("message", text);
}

/// A secret in play: a client secret, refresh token, code, assertion or
/// token value.
#[inline(always)]
pub(crate) fn secret(text: &str) {
    sink::record("secret", text);
}

/// Private key text as given (the scan ignores the PEM armour).
#[inline(always)]
pub(crate) fn key(text: &str) {
    sink::record("key", text);
}

/// The values of a grant's secret parameters (codes, refresh tokens,
/// verifiers, passwords, subject tokens).
#[inline(always)]
pub(crate) fn grant_params(params: &[(&str, &str)]) {
    for (name, value) in params {
        if name.ends_with("token") || name.contains("code") || name.contains("password") {
            sink::record("secret", value);
        }
    }
}

/// Shipped builds: nothing is recorded, and the calls above compile away.
#[cfg(not(feature = "test-hooks"))]
mod sink {
    #[inline(always)]
    pub(super) fn record(_kind: &str, _value: &str) {}
}

#[cfg(feature = "test-hooks")]
mod sink {
    use std::fs::File;
    use std::io::Write;
    use std::sync::Mutex;

    use once_cell::sync::Lazy;

    static SINK: Lazy<Option<Mutex<File>>> = Lazy::new(|| {
        let dir = std::path::PathBuf::from(std::env::var_os("TOKENCLIENT_AUDIT_DIR")?);
        let program = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "unknown".into());
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join(format!("{program}-{}.jsonl", std::process::id()));
        File::options()
            .create(true)
            .append(true)
            .open(path)
            .ok()
            .map(Mutex::new)
    });

    pub(super) fn record(kind: &str, value: &str) {
        if let Some(sink) = SINK.as_ref() {
            let mut line = serde_json::json!({ "kind": kind, "value": value }).to_string();
            line.push('\n');
            let mut file = sink.lock().unwrap_or_else(|e| e.into_inner());
            // One write per line, so lines from threads never interleave.
            let _ = file.write_all(line.as_bytes());
        }
    }
}
