//! The store of one host: a directory of this user's (0700), an entry a file
//! (0600, replaced whole by a rename, so a reader never sees half of one),
//! a lease an exclusive `flock` on the entry's lock file. The kernel drops
//! the lock of a process that dies, so a killed holder blocks no one.
#![forbid(unsafe_code)]

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::seal::MAX_ENTRY;
use super::{Backend, Fault, Lease};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::CloseInChild;

pub(crate) struct FileStore {
    dir: PathBuf,
}

fn config(message: String) -> Error {
    Error::new(ErrorKind::Config, message)
}

/// This process's user id: the owner of what it creates.
fn my_uid() -> Result<u32> {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .map_err(|e| config(format!("cannot tell this process's user (/proc/self): {e}")))
}

/// `$XDG_RUNTIME_DIR/tokenclient` (a per-user directory the login session
/// owns), else `tokenclient-<uid>` in the temporary directory.
pub(crate) fn default_dir() -> Result<PathBuf> {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(runtime) => Ok(PathBuf::from(runtime).join("tokenclient")),
        None => Ok(std::env::temp_dir().join(format!("tokenclient-{}", my_uid()?))),
    }
}

impl FileStore {
    /// The store in `dir`, made 0700 if it is not there; an existing one
    /// must be a directory of this user's that no one else can enter.
    pub(crate) fn open(dir: &Path) -> Result<FileStore> {
        match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) => {
                return Err(config(format!(
                    "the token store directory {} cannot be made: {e}",
                    dir.display()
                )))
            }
        }
        let meta = std::fs::symlink_metadata(dir)
            .map_err(|e| config(format!("the token store directory {}: {e}", dir.display())))?;
        if !meta.is_dir() {
            return Err(config(format!(
                "the token store {} is not a directory (a symbolic link is refused)",
                dir.display()
            )));
        }
        if meta.uid() != my_uid()? {
            return Err(config(format!(
                "the token store directory {} belongs to another user",
                dir.display()
            )));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(config(format!(
                "the token store directory {} is open to other users (mode {:o}): it must be 0700",
                dir.display(),
                meta.permissions().mode() & 0o777
            )));
        }
        Ok(FileStore {
            dir: dir.to_path_buf(),
        })
    }

    fn fault(&self, what: &str, e: std::io::Error) -> Fault {
        Fault(format!(
            "the file store {}: {what}: {e}",
            self.dir.display()
        ))
    }
}

impl Backend for FileStore {
    fn get(&self, name: &str) -> std::result::Result<Option<Vec<u8>>, Fault> {
        let mut f = match File::open(self.dir.join(name)) {
            Ok(f) => f,
            Err(e) if e.kind() == IoErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.fault("reading an entry", e)),
        };
        let mut entry = Vec::new();
        // One byte more than an entry may have: a larger file is no entry.
        (&mut f)
            .take(MAX_ENTRY as u64 + 1)
            .read_to_end(&mut entry)
            .map_err(|e| self.fault("reading an entry", e))?;
        Ok(Some(entry))
    }

    fn put(&self, name: &str, entry: &[u8], _ttl: Duration) -> std::result::Result<(), Fault> {
        // The expiry is inside the sealed entry; a reader ignores an
        // expired one and the next writer replaces it.
        // Of this write only: two threads (or tiers) may write one name.
        let temporary = self
            .dir
            .join(format!(".{name}.{}.tmp", crate::random::uuid_v4().simple()));
        let written = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temporary)?;
            f.write_all(entry)?;
            std::fs::rename(&temporary, self.dir.join(name))
        })();
        written.map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            self.fault("writing an entry", e)
        })
    }

    fn try_lease(&self, name: &str, _ttl: Duration) -> std::result::Result<Option<Lease>, Fault> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.dir.join(format!("{name}.lock")))
            .map_err(|e| self.fault("opening a lock", e))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Lease {
                in_child: Some(CloseInChild::register(file.as_raw_fd())),
                file: Some(file),
                ..Lease::default()
            })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(self.fault("locking", e)),
        }
    }

    fn release(&self, lease: Lease) {
        // Its registration for forked children first, then the file:
        // closing it releases the lock.
        drop(lease.in_child);
        drop(lease.file);
    }
}
