//! Random UUIDs for assertion `jti`s, with the randomness fetched in
//! batches: one call to OpenSSL's DRBG per 32 UUIDs, per thread, instead of
//! one system call per UUID (which was a quarter of the cost of an HS256
//! assertion). A forked child never reuses its parent's batch: the buffer
//! is refilled when the process has forked since it was filled.
#![forbid(unsafe_code)]

use std::cell::RefCell;

use zeroize::Zeroize;

const BATCH: usize = 32 * 16;

struct Batch {
    bytes: [u8; BATCH],
    used: usize,
    forks: u64,
}

thread_local! {
    static BATCH_OF_THREAD: RefCell<Batch> = const {
        RefCell::new(Batch { bytes: [0; BATCH], used: BATCH, forks: 0 })
    };
}

/// A random (version 4) UUID.
pub(crate) fn uuid_v4() -> uuid::Uuid {
    // Without fork detection, no batching: ask the OS every time.
    let Some(forks) = crate::transport::fork_count() else {
        return uuid::Uuid::new_v4();
    };
    BATCH_OF_THREAD
        .try_with(|batch| {
            let mut batch = batch.borrow_mut();
            if batch.used == BATCH || batch.forks != forks {
                openssl::rand::rand_bytes(&mut batch.bytes).ok()?;
                batch.used = 0;
                batch.forks = forks;
            }
            let mut bytes = [0u8; 16];
            let at = batch.used;
            bytes.copy_from_slice(&batch.bytes[at..at + 16]);
            // Used bytes are wiped, so the buffer only ever holds future ones.
            batch.bytes[at..at + 16].zeroize();
            batch.used += 16;
            Some(uuid::Builder::from_random_bytes(bytes).into_uuid())
        })
        .ok()
        .flatten()
        .unwrap_or_else(uuid::Uuid::new_v4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn version_4_and_distinct_across_batches_and_threads() {
        let ids: Vec<uuid::Uuid> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..1000).map(|_| uuid_v4()).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        assert!(ids
            .iter()
            .all(|u| u.get_version_num() == 4 && u.get_variant() == uuid::Variant::RFC4122));
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 4000);
    }
}
