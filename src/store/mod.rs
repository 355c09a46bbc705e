//! The shared token store: where the processes of one host (a directory) or
//! of a fleet (Redis) keep the tokens they obtained, so that one token
//! request serves them all for a token's lifetime, and a rotated refresh
//! token is what the next refresher in any process uses.
//!
//! A store holds sealed entries (`seal`) under names that reveal nothing,
//! and leases: a short lock with an expiry, taken by the one process that
//! asks the token endpoint while the others wait for its entry. Every
//! operation is bounded in time; a store that fails, is slow or answers
//! garbage is a `Fault`, and the caller then goes on without it (the
//! in-process cache and its single flight), never worse than no store.
#![forbid(unsafe_code)]

mod file;
mod redis;
pub(crate) mod seal;
mod tiers;

pub(crate) use tiers::Tiers;

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

/// Why a store operation failed; never holds a secret (no password, no
/// entry), shown in logs.
#[derive(Debug, Clone)]
pub(crate) struct Fault(pub(crate) String);

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A time to live in whole milliseconds, at least 1 (what Redis's `PX`
/// and the callback store take).
pub(crate) fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// A lease held: released by `Backend::release`, or by its expiry (Redis,
/// a callback store) or the holder's death (a file lock).
#[derive(Default)]
pub(crate) struct Lease {
    name: String,
    /// Redis, a callback store: the random value only its owner knows.
    owner: String,
    /// The file store: the locked file's registration to be closed in a
    /// forked child (dropped first), and the file (closing it releases the
    /// lock).
    in_child: Option<crate::transport::CloseInChild>,
    file: Option<std::fs::File>,
    /// Tiers: the lease of each tier, nearest first (None: a tier that
    /// failed, gone around).
    tiers: Vec<Option<Lease>>,
}

impl Lease {
    /// A lease of `name` with a random owner value.
    pub(crate) fn owned(name: String) -> Lease {
        Lease {
            name,
            owner: crate::random::uuid_v4().simple().to_string(),
            ..Lease::default()
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }
}

/// What a store does. Entries are opaque bytes; names are 64 hex digits.
pub(crate) trait Backend: Send + Sync {
    /// The entry of `name`, if any.
    fn get(&self, name: &str) -> std::result::Result<Option<Vec<u8>>, Fault>;
    /// The entry of `name` as the last writer left it, where every
    /// process writes (the farthest tier): a refresh token's chain.
    fn get_latest(&self, name: &str) -> std::result::Result<Option<Vec<u8>>, Fault> {
        self.get(name)
    }
    /// Writes the entry of `name`, to live `ttl`.
    fn put(&self, name: &str, entry: &[u8], ttl: Duration) -> std::result::Result<(), Fault>;
    /// Takes the lease of `name` for `ttl` if no one holds it.
    fn try_lease(&self, name: &str, ttl: Duration) -> std::result::Result<Option<Lease>, Fault>;
    /// Gives a lease back (only its owner's is removed).
    fn release(&self, lease: Lease);
    /// Why the store works only in part (a tier gone around since it
    /// failed, until it works again); the caller says it.
    fn degraded(&self) -> Option<Fault> {
        None
    }
}

/// A store, as `set_token_store` configured it.
pub(crate) struct Store {
    backend: Box<dyn Backend>,
    /// The URL without credentials, for logs and errors.
    shown: String,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("url", &self.shown).finish()
    }
}

impl Store {
    /// The store a URL names: `default` (a directory of this user's on this
    /// host), `file:///dir`, `redis://[user:pass@]host[:port][/db][?prefix=P&timeout_ms=N]`
    /// or `rediss://...` (TLS). A store that cannot work at all (a
    /// directory that cannot be made private, a Redis that refuses the
    /// password or the TLS handshake) is a `Config` error now.
    ///
    /// Several URLs separated by spaces are tiers, nearest first (e.g. the
    /// host's `default` store in front of a fleet's Redis): see `Tiers`.
    pub(crate) fn open(url: &str) -> Result<Store> {
        let urls: Vec<&str> = url.split_ascii_whitespace().collect();
        match urls.as_slice() {
            [] => Err(Error::invalid_argument("the token store URL is empty")),
            [one] => Store::open_one(one),
            many => {
                let stores = many
                    .iter()
                    .map(|u| Store::open_one(u))
                    .collect::<Result<Vec<Store>>>()?;
                // One directory twice would take its own lease in vain.
                for (i, (url, store)) in many.iter().zip(&stores).enumerate() {
                    let same = |(u, s): (&&str, &Store)| {
                        u == url || (s.shown.starts_with("file://") && s.shown == store.shown)
                    };
                    if many[..i].iter().zip(&stores).any(same) {
                        return Err(Error::invalid_argument(format!(
                            "a tier of the token store is there twice ({})",
                            if store.shown.starts_with("file://") {
                                store.shown.as_str()
                            } else {
                                "a Redis URL"
                            }
                        )));
                    }
                }
                let shown = stores
                    .iter()
                    .map(|s| s.shown.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                Ok(Store {
                    backend: Box::new(Tiers::new(stores.into_iter().map(|s| s.backend).collect())),
                    shown,
                })
            }
        }
    }

    /// A store of the caller's (the C callback store).
    pub(crate) fn custom(backend: Box<dyn Backend>, shown: String) -> Store {
        Store { backend, shown }
    }

    fn open_one(url: &str) -> Result<Store> {
        if url == "default" {
            let dir = file::default_dir()?;
            return Ok(Store {
                shown: format!("file://{}", dir.display()),
                backend: Box::new(file::FileStore::open(&dir)?),
            });
        }
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(Error::invalid_argument(
                    "a file store URL is file:///absolute/path",
                ));
            }
            let dir =
                std::path::PathBuf::from(crate::url::percent_decode(path).ok_or_else(|| {
                    Error::invalid_argument("the file store URL's path is not valid UTF-8")
                })?);
            return Ok(Store {
                shown: url.to_string(),
                backend: Box::new(file::FileStore::open(&dir)?),
            });
        }
        if url.starts_with("redis://") || url.starts_with("rediss://") {
            let (store, shown) = redis::RedisStore::open(url)?;
            return Ok(Store {
                backend: Box::new(store),
                shown,
            });
        }
        Err(Error::invalid_argument(
            "a token store is \"default\", file:///dir, redis://... or rediss://...",
        ))
    }

    /// The URL, without any password.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    pub(crate) fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }
}
