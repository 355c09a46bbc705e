//! Store entries sealed: AES-256-GCM (OpenSSL) under a key derived with
//! HKDF-SHA256 from the client's credential, or from a key the caller set.
//! The same derivation names the entries, so a name reveals nothing of what
//! it holds, and a process with other credentials neither finds nor opens
//! (nor can plant) an entry.
//!
//! An entry: `TCS2` | times | 12-byte nonce | 16-byte tag | ciphertext of
//! the value (the token endpoint's JSON answer, or a refresh token). The
//! times say when the token should be refreshed, until when it may be
//! handed out and when it expires (wall-clock ms since the epoch,
//! big-endian u64 each); they are in the clear, so that a store in front of
//! another (`Tiers`) can tell a stale entry without the keys, and
//! authenticated with the entry's name as additional data: an entry moved
//! to another name, or with other times, does not open.
#![forbid(unsafe_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::md::Md;
use openssl::pkey::Id;
use openssl::pkey_ctx::PkeyCtx;
use openssl::sha::Sha256;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

const MAGIC: &[u8; 4] = b"TCS2";
const TIMES: usize = 24;
const NONCE: usize = 12;
const TAG: usize = 16;
/// Entries larger than this are not tokens (the response cap is 1 MiB).
pub(crate) const MAX_ENTRY: usize = 1024 * 1024 + 64;

/// When an entry's token should be refreshed, until when it may be handed
/// out, and when it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Times {
    pub(crate) refresh_at: SystemTime,
    pub(crate) usable_until: SystemTime,
    pub(crate) expires: SystemTime,
}

/// The keys of one credential: one names entries, one seals them.
pub(crate) struct Keys {
    naming: Zeroizing<[u8; 32]>,
    sealing: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

fn hkdf(secret: &[u8], info: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let fail = |_| Error::new(ErrorKind::Config, "HKDF-SHA256 failed in OpenSSL");
    let mut ctx = PkeyCtx::new_id(Id::HKDF).map_err(fail)?;
    ctx.derive_init().map_err(fail)?;
    ctx.set_hkdf_md(Md::sha256()).map_err(fail)?;
    ctx.set_hkdf_key(secret).map_err(fail)?;
    ctx.set_hkdf_salt(b"tokenclient token store")
        .map_err(fail)?;
    ctx.add_hkdf_info(info).map_err(fail)?;
    let mut out = Zeroizing::new([0u8; 32]);
    ctx.derive(Some(&mut out[..])).map_err(fail)?;
    Ok(out)
}

impl Keys {
    /// The keys of a credential's secret material (a client secret, a
    /// private key's private part, or a key the caller set).
    pub(crate) fn derive(secret: &[u8]) -> Result<Keys> {
        Ok(Keys {
            naming: hkdf(secret, b"entry names v1")?,
            sealing: hkdf(secret, b"entry sealing v1")?,
        })
    }

    /// The name of the entry for `parts` (everything that makes a token
    /// different), as 64 hex digits: a keyed hash, so it reveals nothing.
    pub(crate) fn name(&self, parts: &[&[u8]]) -> String {
        let mut h = Sha256::new();
        h.update(&self.naming[..]);
        for p in parts {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
            h.update(&(p.len() as u64).to_be_bytes());
            h.update(p);
        }
        h.finish().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The sealed entry of `value` for `name`.
    pub(crate) fn seal(&self, name: &str, times: Times, value: &[u8]) -> Result<Vec<u8>> {
        let fail = |_| Error::new(ErrorKind::Config, "AES-256-GCM failed in OpenSSL");
        let clear = times.to_bytes();
        let mut nonce = [0u8; NONCE];
        openssl::rand::rand_bytes(&mut nonce).map_err(fail)?;
        let mut tag = [0u8; TAG];
        let sealed = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.sealing[..],
            Some(&nonce),
            &additional_data(name, &clear),
            value,
            &mut tag,
        )
        .map_err(fail)?;
        let mut out = Vec::with_capacity(MAGIC.len() + TIMES + NONCE + TAG + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&clear);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&tag);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The times and value of a sealed entry, or None when it does not
    /// open: not an entry, truncated, tampered with, sealed under another
    /// key or for another name.
    pub(crate) fn open(&self, name: &str, entry: &[u8]) -> Option<(Times, Zeroizing<Vec<u8>>)> {
        let times = Times::of(entry)?;
        let rest = &entry[MAGIC.len()..];
        let (clear, rest) = rest.split_at(TIMES);
        let (nonce, rest) = rest.split_at(NONCE);
        let (tag, sealed) = rest.split_at(TAG);
        let value = Zeroizing::new(
            decrypt_aead(
                Cipher::aes_256_gcm(),
                &self.sealing[..],
                Some(nonce),
                &additional_data(name, clear),
                sealed,
                tag,
            )
            .ok()?,
        );
        Some((times, value))
    }
}

/// What the tag authenticates besides the value: the name and the times.
fn additional_data(name: &str, times: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(name.len() + times.len());
    data.extend_from_slice(name.as_bytes());
    data.extend_from_slice(times);
    data
}

impl Times {
    fn to_bytes(self) -> [u8; TIMES] {
        let mut out = [0u8; TIMES];
        for (i, t) in [self.refresh_at, self.usable_until, self.expires]
            .into_iter()
            .enumerate()
        {
            out[i * 8..i * 8 + 8].copy_from_slice(&millis(t).to_be_bytes());
        }
        out
    }

    /// The times an entry says it has, not yet authenticated (`Keys::open`
    /// does that): None when it is not an entry at all.
    pub(crate) fn of(entry: &[u8]) -> Option<Times> {
        if entry.len() < MAGIC.len() + TIMES + NONCE + TAG
            || entry.len() > MAX_ENTRY
            || &entry[..MAGIC.len()] != MAGIC
        {
            return None;
        }
        let clear = &entry[MAGIC.len()..MAGIC.len() + TIMES];
        let at = |i: usize| -> Option<SystemTime> {
            let ms = u64::from_be_bytes(clear[i * 8..i * 8 + 8].try_into().ok()?);
            UNIX_EPOCH.checked_add(Duration::from_millis(ms))
        };
        Some(Times {
            refresh_at: at(0)?,
            usable_until: at(1)?,
            expires: at(2)?,
        })
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_opens_only_with_its_key_and_name() {
        let keys = Keys::derive(b"client secret one").unwrap();
        let name = keys.name(&[b"https://idp/token", b"client", b"read"]);
        assert_eq!(name.len(), 64);
        let times = Times {
            refresh_at: UNIX_EPOCH + Duration::from_secs(1_999_999_000),
            usable_until: UNIX_EPOCH + Duration::from_secs(1_999_999_990),
            expires: UNIX_EPOCH + Duration::from_secs(2_000_000_000),
        };
        let entry = keys.seal(&name, times, br#"{"access_token":"t"}"#).unwrap();
        let (when, json) = keys.open(&name, &entry).unwrap();
        assert_eq!((when, &json[..]), (times, &br#"{"access_token":"t"}"#[..]));
        // Another credential, another name, a flipped bit, a truncation.
        let other = Keys::derive(b"client secret two").unwrap();
        assert!(other.open(&name, &entry).is_none());
        assert_ne!(
            other.name(&[b"https://idp/token", b"client", b"read"]),
            name
        );
        assert!(keys
            .open(
                &keys.name(&[b"https://idp/token", b"client", b"write"]),
                &entry
            )
            .is_none());
        for i in 0..entry.len() {
            let mut bad = entry.clone();
            bad[i] ^= 1;
            assert!(keys.open(&name, &bad).is_none(), "bit {i}");
        }
        for len in 0..entry.len() {
            assert!(keys.open(&name, &entry[..len]).is_none(), "length {len}");
        }
        // The name hashes length-prefixed parts.
        assert_ne!(keys.name(&[b"ab", b"c"]), keys.name(&[b"a", b"bc"]));
    }
}
