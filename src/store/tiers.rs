//! Stores in front of one another, nearest first: typically the host's
//! file store in front of the fleet's Redis (`"default redis://..."`). A
//! read takes the nearest entry that is not due for refresh, and copies
//! one found farther into the nearer tiers, so the other processes of the
//! host read it there; a write goes to every tier; the lease is taken in
//! every tier, nearest first, so one process per host asks the fleet's
//! lease, and one process in the fleet asks the token endpoint.
#![forbid(unsafe_code)]

use std::time::{Duration, SystemTime};

use super::seal::Times;
use super::{Backend, Fault, Lease};

pub(crate) struct Tiers {
    tiers: Vec<Box<dyn Backend>>,
}

impl Tiers {
    pub(crate) fn new(tiers: Vec<Box<dyn Backend>>) -> Tiers {
        Tiers { tiers }
    }
}

impl Backend for Tiers {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, Fault> {
        let now = SystemTime::now();
        // The entry due for refresh that lasts longest, if no tier has a
        // fresh one.
        let mut stale: Option<(SystemTime, Vec<u8>)> = None;
        for (i, tier) in self.tiers.iter().enumerate() {
            let Some(entry) = tier.get(name)? else {
                continue;
            };
            let times = Times::of(&entry);
            match times {
                Some(t) if now < t.refresh_at => {
                    let ttl = t.expires.duration_since(now).unwrap_or(Duration::ZERO);
                    for nearer in &self.tiers[..i] {
                        // A copy that fails costs the nearer tier a read
                        // of this one next time, no more; a write that
                        // fails is said by `put`.
                        let _ = nearer.put(name, &entry, ttl);
                    }
                    return Ok(Some(entry));
                }
                _ => {
                    let refresh_at = times.map_or(SystemTime::UNIX_EPOCH, |t| t.refresh_at);
                    if stale.as_ref().is_none_or(|(at, _)| refresh_at > *at) {
                        stale = Some((refresh_at, entry));
                    }
                }
            }
        }
        Ok(stale.map(|(_, entry)| entry))
    }

    fn get_latest(&self, name: &str) -> Result<Option<Vec<u8>>, Fault> {
        // Every tier is written, the farthest by every host: there it is
        // the latest, whatever the hosts' clocks say.
        match self.tiers.last() {
            Some(farthest) => farthest.get_latest(name),
            None => Ok(None),
        }
    }

    fn put(&self, name: &str, entry: &[u8], ttl: Duration) -> Result<(), Fault> {
        // The farthest first: the other hosts' processes see it as soon as
        // this host's do.
        let mut outcome = Ok(());
        for tier in self.tiers.iter().rev() {
            if let Err(fault) = tier.put(name, entry, ttl) {
                outcome = outcome.and(Err(fault));
            }
        }
        outcome
    }

    fn try_lease(&self, name: &str, ttl: Duration) -> Result<Option<Lease>, Fault> {
        let mut held = Vec::with_capacity(self.tiers.len());
        for tier in &self.tiers {
            let taken = tier.try_lease(name, ttl);
            match taken {
                Ok(Some(lease)) => held.push(lease),
                Ok(None) | Err(_) => {
                    self.release(Lease {
                        tiers: held,
                        ..Lease::default()
                    });
                    return taken.map(|_| None);
                }
            }
        }
        Ok(Some(Lease {
            name: name.to_string(),
            tiers: held,
            ..Lease::default()
        }))
    }

    fn release(&self, lease: Lease) {
        // The farthest first: the fleet's lease is free before this host's.
        let held: Vec<(&Box<dyn Backend>, Lease)> = self.tiers.iter().zip(lease.tiers).collect();
        for (tier, lease) in held.into_iter().rev() {
            tier.release(lease);
        }
    }
}
