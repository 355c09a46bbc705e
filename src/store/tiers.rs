//! Stores in front of one another, nearest first: typically the host's
//! file store in front of the fleet's Redis (`"default redis://..."`). A
//! read takes the nearest entry that is not due for refresh, and copies
//! one found farther into the nearer tiers, so the other processes of the
//! host read it there; a write goes to every tier; the lease is taken in
//! every tier, nearest first, so one process per host asks the fleet's
//! lease, and one process in the fleet asks the token endpoint.
//!
//! A tier that fails is gone around while another works (with Redis down,
//! the processes of a host still share through its file store); its fault
//! is kept until it works again (`degraded`), so the caller says it once
//! and says when it is over. Only when every tier fails does an operation
//! fail.
#![forbid(unsafe_code)]

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::seal::Times;
use super::{Backend, Fault, Lease};

pub(crate) struct Tiers {
    tiers: Vec<Box<dyn Backend>>,
    /// Each tier's fault, from its last operation that failed until one
    /// works.
    faults: Vec<Mutex<Option<Fault>>>,
}

impl Tiers {
    pub(crate) fn new(tiers: Vec<Box<dyn Backend>>) -> Tiers {
        Tiers {
            faults: tiers.iter().map(|_| Mutex::new(None)).collect(),
            tiers,
        }
    }

    /// The value of tier `i`'s `outcome`, or None after keeping its fault.
    fn skip<T>(&self, i: usize, outcome: Result<T, Fault>) -> Option<T> {
        let mut fault = self.faults[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok(value) => {
                *fault = None;
                Some(value)
            }
            Err(e) => {
                *fault = Some(e);
                None
            }
        }
    }

    /// The error when no tier worked.
    fn none_worked(&self) -> Fault {
        self.degraded()
            .unwrap_or_else(|| Fault("no tier of the token store worked".to_string()))
    }
}

impl Backend for Tiers {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, Fault> {
        let now = SystemTime::now();
        // The entry due for refresh that lasts longest, if no tier has a
        // fresh one.
        let mut stale: Option<(SystemTime, Vec<u8>)> = None;
        let mut answered = false;
        for (i, tier) in self.tiers.iter().enumerate() {
            let Some(found) = self.skip(i, tier.get(name)) else {
                continue;
            };
            answered = true;
            let Some(entry) = found else {
                continue;
            };
            let times = Times::of(&entry);
            match times {
                Some(t) if now < t.refresh_at => {
                    let ttl = t.usable_until.duration_since(now).unwrap_or(Duration::ZERO);
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
        if !answered {
            return Err(self.none_worked());
        }
        Ok(stale.map(|(_, entry)| entry))
    }

    fn get_latest(&self, name: &str) -> Result<Option<Vec<u8>>, Fault> {
        // Every tier is written, the farthest by every host: there it is
        // the latest, whatever the hosts' clocks say; without it, the
        // nearest that answers.
        for (i, tier) in self.tiers.iter().enumerate().rev() {
            if let Some(found) = self.skip(i, tier.get_latest(name)) {
                return Ok(found);
            }
        }
        Err(self.none_worked())
    }

    fn put(&self, name: &str, entry: &[u8], ttl: Duration) -> Result<(), Fault> {
        // The farthest first: the other hosts' processes see it as soon as
        // this host's do.
        let mut written = false;
        for (i, tier) in self.tiers.iter().enumerate().rev() {
            written |= self.skip(i, tier.put(name, entry, ttl)).is_some();
        }
        if written {
            Ok(())
        } else {
            Err(self.none_worked())
        }
    }

    fn try_lease(&self, name: &str, ttl: Duration) -> Result<Option<Lease>, Fault> {
        // `None` in `held`: a tier that failed, gone around.
        let mut held: Vec<Option<Lease>> = Vec::with_capacity(self.tiers.len());
        for (i, tier) in self.tiers.iter().enumerate() {
            match self.skip(i, tier.try_lease(name, ttl)) {
                Some(Some(lease)) => held.push(Some(lease)),
                Some(None) => {
                    self.release_held(held);
                    return Ok(None);
                }
                None => held.push(None),
            }
        }
        if held.iter().all(Option::is_none) {
            return Err(self.none_worked());
        }
        Ok(Some(Lease {
            name: name.to_string(),
            tiers: held,
            ..Lease::default()
        }))
    }

    fn release(&self, lease: Lease) {
        self.release_held(lease.tiers);
    }

    fn degraded(&self) -> Option<Fault> {
        self.faults
            .iter()
            .find_map(|f| f.lock().unwrap_or_else(PoisonError::into_inner).clone())
    }
}

impl Tiers {
    /// Gives back the leases held, the farthest first: the fleet's lease is
    /// free before this host's.
    fn release_held(&self, held: Vec<Option<Lease>>) {
        let held: Vec<(&Box<dyn Backend>, Option<Lease>)> = self.tiers.iter().zip(held).collect();
        for (tier, lease) in held.into_iter().rev() {
            if let Some(lease) = lease {
                tier.release(lease);
            }
        }
    }
}
