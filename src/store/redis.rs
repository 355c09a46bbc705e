//! The store of a fleet: Redis 6/7 or Valkey (`redis://`, `rediss://` with
//! TLS through OpenSSL, AUTH/ACL users). An entry is a key with the
//! entry's time to live; a lease is `SET NX PX` with a random owner value,
//! released by a script that deletes it only for its owner. Waiters poll
//! (bounded, see the client's store flow). Every command has the store's
//! time budget (`timeout_ms`, 50 ms by default): a slow Redis is a fault.
#![forbid(unsafe_code)]

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::{Connection, ErrorKind as RedisErrorKind, RedisError};

use super::{Backend, Fault, Lease};
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
    connection: PerProcess<Mutex<Option<Connection>>>,
}

/// The URL without the password, for logs.
fn without_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            if user.is_empty() {
                format!("***@{host}")
            } else {
                format!("{user}:***@{host}")
            }
        }
        None => authority.to_string(),
    };
    let path = tail.split('?').next().unwrap_or("");
    format!("{scheme}://{host}{path}")
}

impl RedisStore {
    /// The store of `url`, with this library's own query parameters
    /// (`prefix`, `timeout_ms`) taken out. Connects once: a refused
    /// password or TLS handshake is a `Config` error; a Redis that is not
    /// there yet is not (calls go on without the store until it is).
    pub(crate) fn open(url: &str) -> Result<(RedisStore, String)> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
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
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let shown = without_password(url);
        let client = redis::Client::open(target.as_str()).map_err(|e| {
            Error::invalid_argument(format!(
                "the Redis URL {shown} is not valid: {}",
                e.category()
            ))
        })?;
        let store = RedisStore {
            client,
            prefix,
            budget,
            shown: shown.clone(),
            connection: PerProcess::default(),
        };
        match store.connect(SET_TIME_BUDGET) {
            Ok(c) => *store.slot() = Some(c),
            Err(e) if refused(&e) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "the Redis store {shown} refused this client: {}",
                        describe(&e)
                    ),
                ))
            }
            // Not there yet: the calls go on without it until it is.
            Err(_) => {}
        }
        Ok((store, shown))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Connection>> {
        self.connection
            .get()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn connect(&self, budget: Duration) -> std::result::Result<Connection, RedisError> {
        if let redis::ConnectionAddr::TcpTls {
            host,
            port,
            insecure: false,
            ..
        } = &self.client.get_connection_info().addr
        {
            tls_handshake(host, *port, budget)?;
        }
        // The redis crate panics on a TLS handshake that fails within a
        // timeout (0.32): the handshake above finds a refused certificate
        // first; whatever else fails that way is a failed connection.
        let connected = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.client.get_connection_with_timeout(budget)
        }));
        let c = connected.unwrap_or_else(|_| {
            Err(RedisError::from((
                RedisErrorKind::IoError,
                "the TLS handshake failed",
            )))
        })?;
        c.set_read_timeout(Some(self.budget))?;
        c.set_write_timeout(Some(self.budget))?;
        Ok(c)
    }

    /// Runs `command` on this process's connection (made now if there is
    /// none); a failed command drops the connection, so the next one
    /// starts clean.
    fn with<T>(
        &self,
        what: &str,
        command: impl FnOnce(&mut Connection) -> std::result::Result<T, RedisError>,
    ) -> std::result::Result<T, Fault> {
        let mut slot = self.slot();
        if slot.is_none() {
            *slot = Some(
                self.connect(self.budget)
                    .map_err(|e| self.fault(what, &e))?,
            );
        }
        command(slot.as_mut().expect("connected above")).map_err(|e| {
            *slot = None;
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

/// A TLS handshake with `host:port` within `budget`, verified as the redis
/// crate's (OpenSSL's default trust store, which `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` change, and the host name), so that a certificate that is
/// not trusted is an error that says why.
fn tls_handshake(host: &str, port: u16, budget: Duration) -> std::result::Result<(), RedisError> {
    use openssl::ssl::{HandshakeError, SslConnector, SslMethod};
    let failed = |why: String| RedisError::from((RedisErrorKind::IoError, "TLS", why));
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))?
        .next()
        .ok_or_else(|| failed(format!("{host} has no address")))?;
    let tcp = std::net::TcpStream::connect_timeout(&addr, budget)?;
    tcp.set_read_timeout(Some(budget))?;
    tcp.set_write_timeout(Some(budget))?;
    let connector = SslConnector::builder(SslMethod::tls_client())
        .map_err(|e| failed(format!("OpenSSL: {e}")))?
        .build();
    match connector.connect(host, tcp) {
        Ok(_) => Ok(()),
        Err(HandshakeError::Failure(mid)) | Err(HandshakeError::WouldBlock(mid)) => {
            let verify = mid.ssl().verify_result();
            Err(failed(if verify.as_raw() != 0 {
                format!(
                    "the TLS handshake failed: certificate verify failed ({})",
                    verify.error_string()
                )
            } else {
                format!("the TLS handshake failed: {}", mid.error())
            }))
        }
        Err(HandshakeError::SetupFailure(e)) => Err(failed(format!("the TLS setup failed: {e}"))),
    }
}

/// A refused password or user, or a TLS failure: the configuration is wrong.
fn refused(e: &RedisError) -> bool {
    matches!(e.kind(), RedisErrorKind::AuthenticationFailed)
        || e.code() == Some("NOAUTH")
        || e.code() == Some("WRONGPASS")
        || e.to_string().to_ascii_lowercase().contains("tls")
        || e.to_string().to_ascii_lowercase().contains("ssl")
        || e.to_string().to_ascii_lowercase().contains("certificate")
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
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
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
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
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
    }
}
