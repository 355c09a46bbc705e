//! The store of a fleet: Redis 6/7 or Valkey (`redis://`, `rediss://` with
//! TLS through OpenSSL, AUTH/ACL users). An entry is a key with the
//! entry's time to live; a lease is `SET NX PX` with a random owner value,
//! released by a script that deletes it only for its owner. Waiters poll
//! (bounded, see the client's store flow). Every command has the store's
//! time budget (`timeout_ms`, 50 ms by default): a slow Redis is a fault.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::{Connection, ErrorKind as RedisErrorKind, RedisError};

use super::{ttl_ms, Backend, Fault, Lease};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::PerProcess;

/// The time one command may take unless the URL says (`timeout_ms`).
const DEFAULT_BUDGET: Duration = Duration::from_millis(50);
/// The first connection, when the store is set, may take longer: a wrong
/// password or a TLS failure is found then.
const SET_TIME_BUDGET: Duration = Duration::from_secs(2);

/// Deletes the lease only for its owner.
const RELEASE: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

pub(crate) struct RedisStore {
    client: redis::Client,
    prefix: String,
    budget: Duration,
    shown: String,
    /// This process's connection (a forked child opens its own).
    slot: PerProcess<Arc<Slot>>,
}

/// A process's connection, and whether one is being made.
#[derive(Default)]
struct Slot {
    connection: Mutex<Option<Connection>>,
    /// A connection is being made, on a thread of its own: one at a time,
    /// waited for at most the time budget, put here whenever it is made.
    connecting: AtomicBool,
}

impl Slot {
    fn connection(&self) -> std::sync::MutexGuard<'_, Option<Connection>> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why no connection was made.
enum Unconnected {
    /// The server refused this client (password, user, certificate): the
    /// configuration is wrong.
    Refused(String),
    /// Not there, not answering in time, or failing otherwise.
    Failed(String),
}

impl Unconnected {
    fn why(&self) -> &str {
        match self {
            Unconnected::Refused(why) | Unconnected::Failed(why) => why,
        }
    }
}

/// The URL without its password and query, for logs and errors. A URL may
/// be malformed (a password with `/`, `?` or `@` in it): everything up to
/// its last `@` is taken as user information, and only a user before a `:`
/// is shown.
fn without_password(url: &str) -> String {
    let url = url.split('#').next().unwrap_or("");
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let (shown, rest) = match rest.rsplit_once('@') {
        Some((userinfo, rest)) => match userinfo.split_once(':') {
            Some((user, _)) if !user.is_empty() && !user.contains(['/', '?']) => {
                (format!("{user}:***@"), rest)
            }
            _ => ("***@".to_string(), rest),
        },
        None => (String::new(), rest),
    };
    let rest = rest.split('?').next().unwrap_or("");
    format!("{scheme}://{shown}{rest}")
}

impl RedisStore {
    /// The store of `url`, with this library's own query parameters
    /// (`prefix`, `timeout_ms`) taken out. Connects once: a refused
    /// password or TLS handshake is a `Config` error; a Redis that is not
    /// there yet is not (calls go on without the store until it is).
    pub(crate) fn open(url: &str) -> Result<(RedisStore, String)> {
        // `#insecure` (no certificate check) is the redis crate's.
        let (url_only, fragment) = match url.split_once('#') {
            Some((u, f)) => (u, format!("#{f}")),
            None => (url, String::new()),
        };
        let (base, query) = url_only.split_once('?').unwrap_or((url_only, ""));
        let mut prefix = "tokenclient:".to_string();
        let mut budget = DEFAULT_BUDGET;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("prefix", p)) => {
                    prefix = crate::url::percent_decode(p)
                        .ok_or_else(|| Error::invalid_argument("the store's prefix is malformed"))?
                }
                Some(("timeout_ms", ms)) => {
                    let ms: u64 = ms
                        .parse()
                        .ok()
                        .filter(|ms| (1..=60_000).contains(ms))
                        .ok_or_else(|| {
                            Error::invalid_argument("the store's timeout_ms is 1 to 60000")
                        })?;
                    budget = Duration::from_millis(ms);
                }
                _ => rest.push(pair),
            }
        }
        let target = if rest.is_empty() {
            format!("{base}{fragment}")
        } else {
            format!("{base}?{}{fragment}", rest.join("&"))
        };
        let shown = without_password(url);
        let client = redis::Client::open(target.as_str()).map_err(|e| {
            // Not the URL: it may be malformed around its password.
            Error::invalid_argument(format!(
                "the Redis URL ({}) is not valid: {}",
                shown.split("://").next().unwrap_or("redis"),
                e.category()
            ))
        })?;
        let store = RedisStore {
            client,
            prefix,
            budget,
            shown: shown.clone(),
            slot: PerProcess::default(),
        };
        match store.connect(SET_TIME_BUDGET) {
            Err(Unconnected::Refused(why)) => Err(Error::new(
                ErrorKind::Config,
                format!("the Redis store {shown} refused this client: {why}"),
            )),
            // Connected, or not there yet: the calls go on without it
            // until it is.
            _ => Ok((store, shown)),
        }
    }

    /// Makes this process's connection, on a thread of its own, waiting
    /// for it at most `budget` (DNS, TCP, TLS and AUTH included); one made
    /// later is kept for the next call. One is made at a time.
    fn connect(&self, budget: Duration) -> std::result::Result<(), Unconnected> {
        let slot = self.slot.get().clone();
        if slot.connecting.swap(true, Ordering::AcqRel) {
            return Err(Unconnected::Failed(
                "a connection is still being made".to_string(),
            ));
        }
        let (done, made) = mpsc::sync_channel(1);
        let (client, commands, holder) = (self.client.clone(), self.budget, slot.clone());
        let spawned = std::thread::Builder::new()
            .name("tokenclient-redis".to_string())
            .spawn(move || {
                let outcome = make_connection(&client, budget, commands).map(|c| {
                    let mut connection = holder.connection();
                    if connection.is_none() {
                        *connection = Some(c);
                    }
                });
                holder.connecting.store(false, Ordering::Release);
                let _ = done.send(outcome);
            });
        if let Err(e) = spawned {
            slot.connecting.store(false, Ordering::Release);
            return Err(Unconnected::Failed(format!("no thread to connect on: {e}")));
        }
        made.recv_timeout(budget).unwrap_or_else(|_| {
            Err(Unconnected::Failed(format!(
                "no connection within {} ms",
                budget.as_millis()
            )))
        })
    }

    /// Runs `command` on this process's connection (made now if there is
    /// none); a failed command drops the connection, so the next one
    /// starts clean.
    fn with<T>(
        &self,
        what: &str,
        command: impl FnOnce(&mut Connection) -> std::result::Result<T, RedisError>,
    ) -> std::result::Result<T, Fault> {
        let slot = self.slot.get().clone();
        if slot.connection().is_none() {
            self.connect(self.budget).map_err(|e| {
                Fault(format!(
                    "the Redis store {}: {what}: {}",
                    self.shown,
                    e.why()
                ))
            })?;
        }
        let mut connection = slot.connection();
        // Another thread's failed command may have dropped it since.
        let Some(c) = connection.as_mut() else {
            return Err(Fault(format!(
                "the Redis store {}: {what}: the connection was lost",
                self.shown
            )));
        };
        command(c).map_err(|e| {
            *connection = None;
            self.fault(what, &e)
        })
    }

    fn fault(&self, what: &str, e: &RedisError) -> Fault {
        Fault(format!(
            "the Redis store {}: {what}: {}",
            self.shown,
            describe(e)
        ))
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// A connection to the store's server, with `commands` as every command's
/// time budget.
fn make_connection(
    client: &redis::Client,
    budget: Duration,
    commands: Duration,
) -> std::result::Result<Connection, Unconnected> {
    if let redis::ConnectionAddr::TcpTls {
        host,
        port,
        insecure: false,
        ..
    } = &client.get_connection_info().addr
    {
        tls_handshake(host, *port, budget)?;
    }
    // The redis crate panics on a TLS handshake that fails within a
    // timeout (0.32): the handshake above finds a refused certificate
    // first; whatever else fails that way is a failed connection.
    let connected = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        client.get_connection_with_timeout(budget)
    }))
    .map_err(|_| Unconnected::Failed("the TLS handshake failed".to_string()))?;
    let unconnected = |e: RedisError| {
        if matches!(e.kind(), RedisErrorKind::AuthenticationFailed)
            || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"))
        {
            Unconnected::Refused(describe(&e))
        } else {
            Unconnected::Failed(describe(&e))
        }
    };
    let c = connected.map_err(unconnected)?;
    c.set_read_timeout(Some(commands)).map_err(unconnected)?;
    c.set_write_timeout(Some(commands)).map_err(unconnected)?;
    Ok(c)
}

/// A TLS handshake with `host:port` (each of its addresses in turn),
/// verified as the redis crate verifies (OpenSSL's default trust store,
/// which `SSL_CERT_FILE` and `SSL_CERT_DIR` change, and the host name), so
/// that a certificate that is not trusted is a refusal that says why.
fn tls_handshake(host: &str, port: u16, budget: Duration) -> std::result::Result<(), Unconnected> {
    use openssl::ssl::{HandshakeError, SslConnector, SslMethod};
    let failed =
        |what: &str, e: &dyn std::fmt::Display| Unconnected::Failed(format!("{what}: {e}"));
    let addrs = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .map_err(|e| failed("resolving the host", &e))?;
    let mut last = Unconnected::Failed(format!("{host} has no address"));
    for addr in addrs {
        let tcp = match std::net::TcpStream::connect_timeout(&addr, budget) {
            Ok(tcp) => tcp,
            Err(e) => {
                last = failed("connecting", &e);
                continue;
            }
        };
        tcp.set_read_timeout(Some(budget))
            .and_then(|()| tcp.set_write_timeout(Some(budget)))
            .map_err(|e| failed("connecting", &e))?;
        let connector = SslConnector::builder(SslMethod::tls_client())
            .map_err(|e| failed("OpenSSL", &e))?
            .build();
        return match connector.connect(host, tcp) {
            Ok(_) => Ok(()),
            Err(HandshakeError::Failure(mid)) | Err(HandshakeError::WouldBlock(mid)) => {
                let verify = mid.ssl().verify_result();
                if verify.as_raw() != 0 {
                    Err(Unconnected::Refused(format!(
                        "the TLS handshake failed: certificate verify failed ({})",
                        verify.error_string()
                    )))
                } else {
                    Err(failed("the TLS handshake failed", mid.error()))
                }
            }
            Err(HandshakeError::SetupFailure(e)) => Err(failed("the TLS setup failed", &e)),
        };
    }
    Err(last)
}

/// A Redis error in words, without what the server may have echoed.
fn describe(e: &RedisError) -> String {
    match e.code() {
        Some(code) => format!("{} ({code})", e.category()),
        None if e.is_timeout() => "no answer within the time budget".to_string(),
        None if e.is_connection_refusal() => "connection refused".to_string(),
        None => {
            let text = e.to_string();
            // Transport errors (I/O, TLS) are ours to show; a server's
            // free text is not shown.
            let shown: String = text.chars().take(160).filter(|c| !c.is_control()).collect();
            format!("{}: {shown}", e.category())
        }
    }
}

impl Backend for RedisStore {
    fn get(&self, name: &str) -> std::result::Result<Option<Vec<u8>>, Fault> {
        self.with("GET", |c| redis::cmd("GET").arg(self.key(name)).query(c))
    }

    fn put(&self, name: &str, entry: &[u8], ttl: Duration) -> std::result::Result<(), Fault> {
        let ms = ttl_ms(ttl);
        self.with("SET", |c| {
            redis::cmd("SET")
                .arg(self.key(name))
                .arg(entry)
                .arg("PX")
                .arg(ms)
                .query::<()>(c)
        })
    }

    fn try_lease(&self, name: &str, ttl: Duration) -> std::result::Result<Option<Lease>, Fault> {
        let lease = Lease::owned(format!("{}.lease", self.key(name)));
        let ms = ttl_ms(ttl);
        let set: Option<String> = self.with("SET NX", |c| {
            redis::cmd("SET")
                .arg(lease.name())
                .arg(lease.owner())
                .arg("NX")
                .arg("PX")
                .arg(ms)
                .query(c)
        })?;
        Ok(set.map(|_| lease))
    }

    fn release(&self, lease: Lease) {
        // A release that fails leaves the lease to expire.
        let _ = self.with("release", |c| {
            redis::cmd("EVAL")
                .arg(RELEASE)
                .arg(1)
                .arg(&lease.name)
                .arg(&lease.owner)
                .query::<i64>(c)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            without_password("redis://app:s3cret@cache:6380/2?prefix=x"),
            "redis://app:***@cache:6380/2"
        );
        assert_eq!(without_password("rediss://:pw@h"), "rediss://***@h");
        assert_eq!(without_password("redis://h:6379"), "redis://h:6379");
        // Malformed around the password: nothing of it is shown.
        assert_eq!(without_password("redis://u:pa/ss@h/0"), "redis://u:***@h/0");
        assert_eq!(without_password("redis://u:pa?ss@h"), "redis://u:***@h");
        assert_eq!(without_password("redis://secret@h"), "redis://***@h");
        assert_eq!(
            without_password("rediss://h/1?prefix=x#insecure"),
            "rediss://h/1"
        );
    }
}
