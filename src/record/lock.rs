//! The exclusive lock on a report directory: one process at a time records into it. An
//! advisory `flock` on `DIR/.lock`, which the kernel releases when the process ends however it
//! ends (so a `kill -9` never leaves a stale lock); the holder's pid is written inside for the
//! message the next process prints.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::Path;

/// The lock file's name inside a report directory.
pub const LOCK_FILE: &str = ".lock";

/// Held while the value lives.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Why a directory could not be locked.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it.
    InUse {
        /// Its pid, when it could be read.
        pid: Option<u32>,
    },
    /// The lock file could not be opened.
    Io(io::Error),
}

impl DirLock {
    /// Takes the lock on `dir` without waiting.
    pub fn acquire(dir: &Path) -> Result<DirLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let mut f = super::files::open_rw(&path).map_err(LockError::Io)?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = f.read_to_string(&mut text);
                return Err(LockError::InUse {
                    pid: text.trim().parse().ok(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
        f.set_len(0).map_err(LockError::Io)?;
        f.rewind().map_err(LockError::Io)?;
        write!(f, "{}", std::process::id()).map_err(LockError::Io)?;
        Ok(DirLock { _file: f })
    }

    /// Fails with [`LockError::InUse`] when another process holds `dir`'s lock, without
    /// taking it beyond the check: a shared `flock` on the lock file, opened read-only (so a
    /// directory one may only read can still be checked), released on return. A reader that
    /// held it longer would make a run starting meanwhile exit 2 as "in use". A directory
    /// without a lock file was never locked.
    pub fn check_free(dir: &Path) -> Result<(), LockError> {
        let path = dir.join(LOCK_FILE);
        let mut f = match super::files::open_read(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(LockError::Io(e)),
        };
        match f.try_lock_shared() {
            Ok(()) => Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = f.read_to_string(&mut text);
                Err(LockError::InUse {
                    pid: text.trim().parse().ok(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io(e)),
        }
    }
}

impl LockError {
    /// The message for people, naming the directory.
    pub fn describe(&self, dir: &Path) -> String {
        match self {
            LockError::InUse { pid: Some(p) } => format!(
                "{} is in use by another docspace-batch process (pid {p})",
                dir.display()
            ),
            LockError::InUse { pid: None } => format!(
                "{} is in use by another docspace-batch process",
                dir.display()
            ),
            LockError::Io(e) => format!("cannot lock {}: {e}", dir.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_pid() {
        let d = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(d.path()).unwrap();
        match DirLock::acquire(d.path()) {
            Err(LockError::InUse { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(first);
        DirLock::acquire(d.path()).unwrap();
    }

    #[test]
    fn check_free_sees_a_holder_and_takes_nothing() {
        let d = tempfile::tempdir().unwrap();
        DirLock::check_free(d.path()).unwrap();
        assert!(
            !d.path().join(LOCK_FILE).exists(),
            "a check creates no lock file"
        );
        let held = DirLock::acquire(d.path()).unwrap();
        match DirLock::check_free(d.path()) {
            Err(LockError::InUse { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(held);
        DirLock::check_free(d.path()).unwrap();
        // The check released its shared lock: a run can take the directory right after.
        DirLock::acquire(d.path()).unwrap();
    }
}
