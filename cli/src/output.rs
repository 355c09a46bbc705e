//! Where results go. A token (or an assertion) is written to `--output`, or
//! to standard output when that is not a terminal; on a terminal it is only
//! described unless `--output -` asks for it.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::Path;

use zeroize::Zeroizing;

use crate::args::{Format, OutputArgs};
use crate::{exit, Failure};
use tokenclient::Token;

/// Writes `text` (which holds a secret when `secret`) where `o` says.
pub fn text(text: &str, o: &OutputArgs, secret: bool) -> Result<(), Failure> {
    match o.output.as_deref() {
        Some(path) if path == Path::new("-") => stdout(text),
        Some(path) => to_file(path, text),
        None if secret && std::io::stdout().is_terminal() => {
            stdout(&format!(
                "(a secret of {} characters, not shown on a terminal)",
                text.chars().count()
            ))?;
            hint();
            Ok(())
        }
        None => stdout(text),
    }
}

/// Writes the token in the asked format where `o` says; on a terminal
/// without `--output`, a description without the tokens themselves.
pub fn token(t: &Token, o: &OutputArgs) -> Result<(), Failure> {
    if o.output.is_none() && std::io::stdout().is_terminal() {
        stdout(&describe(t))?;
        hint();
        return Ok(());
    }
    let rendered = match o.format {
        Format::Json => Zeroizing::new(t.json().to_string()),
        Format::Token => Zeroizing::new(t.access_token().to_string()),
        Format::Env => env(t),
    };
    text(&rendered, o, true)
}

fn hint() {
    eprintln!(
        "tokenclient: tokens are not shown on a terminal: write them with --output FILE, or \
         --output - to show them here"
    );
}

/// What a token is, without any of its secrets.
fn describe(t: &Token) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "token_type: {}", t.token_type());
    if let Some(e) = t.expires_in() {
        let _ = writeln!(out, "expires_in: {e}");
    }
    if let Some(s) = t.scope() {
        let _ = writeln!(out, "scope: {s}");
    }
    let _ = writeln!(
        out,
        "access_token: ({} characters, not shown)",
        t.access_token().len()
    );
    if t.refresh_token().is_some() {
        let _ = writeln!(out, "refresh_token: (present, not shown)");
    }
    if t.id_token().is_some() {
        let _ = writeln!(out, "id_token: (present, not shown)");
    }
    out.trim_end().to_string()
}

/// `TOKENCLIENT_NAME='value'` lines for a shell's eval.
fn env(t: &Token) -> Zeroizing<String> {
    // Sized once (a quote becomes four characters), so growing never
    // leaves an unwiped copy behind.
    let values = [
        t.access_token(),
        t.refresh_token().unwrap_or(""),
        t.id_token().unwrap_or(""),
    ];
    let capacity =
        256 + t.scope().map_or(0, str::len) * 4 + values.iter().map(|v| v.len() * 4).sum::<usize>();
    let mut out = Zeroizing::new(String::with_capacity(capacity));
    for (name, value) in [
        ("ACCESS_TOKEN", Some(t.access_token())),
        ("TOKEN_TYPE", Some(t.token_type())),
        ("SCOPE", t.scope()),
        ("REFRESH_TOKEN", t.refresh_token()),
        ("ID_TOKEN", t.id_token()),
    ] {
        if let Some(v) = value {
            out.push_str("TOKENCLIENT_");
            out.push_str(name);
            out.push_str("='");
            // Single quotes hold anything but a single quote (pushed piece
            // by piece: no unwiped copy of the token).
            for piece in v.split_inclusive('\'') {
                match piece.strip_suffix('\'') {
                    Some(head) => {
                        out.push_str(head);
                        out.push_str("'\\''");
                    }
                    None => out.push_str(piece),
                }
            }
            out.push_str("'\n");
        }
    }
    if let Some(e) = t.expires_in() {
        let _ = writeln!(out, "TOKENCLIENT_EXPIRES_IN={e}");
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

fn stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| {
            Failure::new(
                exit::CONFIG,
                format!("cannot write to standard output: {e}"),
            )
        })
}

/// Writes the file readable by its owner only: a new 0600 file beside it,
/// then renamed over it, so a failed write leaves the old file whole (a
/// login's refresh token is not lost) and a symbolic link at `path` is
/// replaced, not followed.
fn to_file(path: &Path, text: &str) -> Result<(), Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| {
        Failure::new(
            exit::CONFIG,
            format!("cannot write {}: {e}", path.display()),
        )
    };
    let name = path
        .file_name()
        .ok_or_else(|| fail(std::io::Error::other("not a file name")))?;
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(name);
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(fail(e));
    }
    eprintln!("tokenclient: written to {}", path.display());
    Ok(())
}
