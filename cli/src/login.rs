//! `tokenclient login`: a user logs in.
//!
//! The browser way (RFC 8252, OAuth for native apps): an authorization
//! request with PKCE, `state` and `nonce` (the library's), the system
//! browser opened at it, and a listener on 127.0.0.1 at a free port that
//! takes the one request the browser comes back with, then closes. The
//! library checks the callback (`state`, `iss`, errors), exchanges the code
//! and validates the ID token. The device way (RFC 8628): a code and a URL
//! to open on any device, then polling until the user approves.
#![forbid(unsafe_code)]

use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokenclient::{CallOptions, Client, ErrorKind, Token};

use crate::args::LoginArgs;
use crate::{exit, usage, Failure};

/// A request head larger than this is not a browser's redirect.
const MAX_REQUEST: usize = 16 * 1024;
/// How long one connection may take to send its request.
const REQUEST_TIME: Duration = Duration::from_secs(10);
/// How often a listener with nothing to accept looks again.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

/// The authorization code flow through the browser and a loopback redirect.
/// `secret_vars`: environment variables that hold secrets, kept from the
/// browser.
pub fn browser(c: &Client, a: &LoginArgs, secret_vars: &[&str]) -> Result<Arc<Token>, Failure> {
    let path = &a.redirect_path;
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
        return Err(usage("--redirect-path is a path such as /callback"));
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, a.port)).map_err(|e| {
        Failure::new(
            exit::CONFIG,
            format!("cannot listen on 127.0.0.1:{}: {e}", a.port),
        )
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::new(exit::TRANSPORT, format!("the listener has no address: {e}")))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}{path}");
    let mut auth = c.authorization(&redirect_uri, Some(&a.scope))?;
    for (name, value) in &a.params {
        auth.set_param(name, value)?;
    }
    let options = CallOptions::default();
    let call = c.call(&options);
    let url = call.authorization_url(&auth)?;
    eprintln!("tokenclient: log in at\n\n    {url}\n");
    if !a.no_browser && !open_browser(&url, secret_vars) {
        eprintln!("tokenclient: no browser could be started: open the URL above yourself");
    }
    let deadline = Instant::now() + Duration::from_secs(a.wait);
    let (mut stream, target) =
        receive(listener, path, auth.state(), deadline).map_err(|f| {
            match (f.status, f.message.as_str()) {
                (exit::TRANSPORT, "") => Failure::new(
                    exit::TRANSPORT,
                    format!("no browser came back to {redirect_uri} within {} s", a.wait),
                ),
                (exit::CALLBACK, "") => Failure::new(
                    exit::CALLBACK,
                    format!(
                    "no callback with this login's state came back to {redirect_uri} within {} s \
                     (callbacks with another state or none were refused: forged or crossed)",
                    a.wait
                ),
                ),
                _ => f,
            }
        })?;
    // The listener is closed: a second request to it is refused.
    let result = call
        .finish(&auth, &format!("http://127.0.0.1:{port}{target}"))
        .map_err(|e| {
            if e.kind() == ErrorKind::InvalidArgument {
                Failure::new(exit::CALLBACK, e.message())
            } else {
                Failure::from(e)
            }
        });
    if let Ok(token) = &result {
        if let Some(sub) = subject(token) {
            // Who logged in: a login completed in another account (with a
            // stolen authorization URL) shows here.
            eprintln!("tokenclient: logged in as {sub}");
        }
    }
    let page = match &result {
        Ok(_) => answer(
            200,
            "Logged in",
            "You are logged in. You can close this window.",
        ),
        Err(f) => answer(400, "Login failed", &f.message),
    };
    // The browser may be gone already; the result does not depend on it.
    let _ = stream.write_all(page.as_bytes());
    result
}

/// The device authorization grant: show the code and the URL, then poll.
pub fn device(c: &Client, a: &LoginArgs) -> Result<Arc<Token>, Failure> {
    let d = c.device_authorize(Some(&a.scope))?;
    eprintln!(
        "tokenclient: open {} and enter the code {}",
        printable(&d.verification_uri),
        printable(&d.user_code)
    );
    if let Some(complete) = &d.verification_uri_complete {
        eprintln!("tokenclient: or open {}", printable(complete));
    }
    let options = CallOptions {
        deadline: Some(Duration::from_secs(a.wait)),
        cancel: None,
    };
    Ok(Arc::new(c.call(&options).device_poll(&d)?))
}

/// The server's text with control characters (terminal escapes) replaced.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The validated ID token's `sub` (and `preferred_username`), printable.
fn subject(token: &Token) -> Option<String> {
    let claims: serde_json::Value = serde_json::from_str(token.id_token_claims()?).ok()?;
    let sub = claims.get("sub")?.as_str()?;
    Some(
        match claims.get("preferred_username").and_then(|u| u.as_str()) {
            Some(name) => printable(&format!("{name} ({sub})")),
            None => printable(sub),
        },
    )
}

/// Opens `url` in `$BROWSER`, else the desktop's opener; false when none
/// could be started. Its output is not ours to show, and it does not get
/// the environment variables that hold the login's secrets.
fn open_browser(url: &str, secret_vars: &[&str]) -> bool {
    let program = std::env::var_os("BROWSER")
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| {
            if cfg!(target_os = "macos") {
                "open".into()
            } else {
                "xdg-open".into()
            }
        });
    let mut command = Command::new(program);
    for var in secret_vars {
        command.env_remove(var);
    }
    command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .is_ok()
}

/// Waits until `deadline` for a GET of `path` with this login's `state`:
/// the connection it came on and its request target. The wait goes on past
/// everything else: other paths get 404 (a browser may ask for
/// /favicon.ico), a callback without this state gets 400 (a forged or
/// crossed one must not end the login), a connection that sends no whole
/// request within its time is dropped. The listener is closed on return.
/// Out of time: a failure with an empty message (the caller says what
/// for), `CALLBACK` when a callback was refused, else `TRANSPORT`.
fn receive(
    listener: TcpListener,
    path: &str,
    state: &str,
    deadline: Instant,
) -> Result<(TcpStream, String), Failure> {
    let fail =
        |e: std::io::Error| Failure::new(exit::TRANSPORT, format!("the listener failed: {e}"));
    listener.set_nonblocking(true).map_err(fail)?;
    let mut refused = false;
    loop {
        let now = Instant::now();
        if now >= deadline {
            let status = if refused {
                exit::CALLBACK
            } else {
                exit::TRANSPORT
            };
            return Err(Failure::new(status, ""));
        }
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == IoErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL.min(deadline - now));
                continue;
            }
            // A connection gone before it was taken is not the listener failing.
            Err(e)
                if matches!(
                    e.kind(),
                    IoErrorKind::Interrupted
                        | IoErrorKind::ConnectionAborted
                        | IoErrorKind::ConnectionReset
                ) =>
            {
                continue
            }
            Err(e) => return Err(fail(e)),
        };
        let Some(target) = read_target(&mut stream, deadline.min(now + REQUEST_TIME)) else {
            continue;
        };
        let (target_path, query) = target.split_once('?').unwrap_or((&target, ""));
        if target_path != path {
            let _ = stream.write_all(
                answer(404, "Not found", "This is not the login's redirect.").as_bytes(),
            );
            continue;
        }
        if has_state(query, state) {
            return Ok((stream, target));
        }
        refused = true;
        let _ = stream.write_all(
            answer(
                400,
                "Not this login",
                "This callback is not the one this login waits for (its state differs).",
            )
            .as_bytes(),
        );
    }
}

/// Whether `query` has exactly one `state`, equal to `state` (compared in
/// time that does not depend on where they differ). The library checks it
/// again, with `iss`, in `finish`.
fn has_state(query: &str, state: &str) -> bool {
    let mut found = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("state="));
    match (found.next(), found.next()) {
        (Some(given), None) => {
            given.len() == state.len()
                && given
                    .bytes()
                    .zip(state.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        }
        _ => false,
    }
}

/// The target of a `GET <target> HTTP/1.x` request on `stream`, or None
/// when it sends something else, too much, or not all of it by `end` (then
/// it has been answered or is dropped).
fn read_target(stream: &mut TcpStream, end: Instant) -> Option<String> {
    stream.set_nonblocking(false).ok()?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_REQUEST {
            let _ =
                stream.write_all(answer(431, "Too large", "The request is too large.").as_bytes());
            return None;
        }
        // One end for the whole request: a client that trickles bytes
        // cannot hold the listener past it.
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        stream.set_read_timeout(Some(left)).ok()?;
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("GET"), Some(target), Some(version))
            if target.starts_with('/') && version.starts_with("HTTP/1.") =>
        {
            Some(target.to_string())
        }
        _ => {
            let _ = stream
                .write_all(answer(405, "Not allowed", "Only GET is answered here.").as_bytes());
            None
        }
    }
}

/// A small HTML answer that closes the connection.
fn answer(status: u16, title: &str, message: &str) -> String {
    let escaped: String = message
        .chars()
        .map(|ch| match ch {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            other => other.to_string(),
        })
        .collect();
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>tokenclient: {title}</title>\
         </head><body><h1>{title}</h1><p>{escaped}</p></body></html>\n"
    );
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Request Header Fields Too Large",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}
