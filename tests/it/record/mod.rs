//! The run record: `run.db` per report directory, locked, never written through a link,
//! private, with write intents that make `restore` exact after `kill -9`. One submodule per
//! group of cases, each a test that failed before the record and passes with it: planted links
//! (`links`), one process per directory (`exclusive`), `kill -9` and `restore` (`chaos`),
//! exports that follow the record (`exports`), a record that cannot be written (`io_failure`),
//! signals in the first milliseconds (`signals`), file modes (`modes`). This file holds what
//! they share.

mod chaos;
mod exclusive;
mod exports;
mod io_failure;
mod links;
mod modes;
mod signals;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use docspace_batch::sandbox::{RecordedRequest, Sandbox};

use crate::common::*;

/// The caller's display name in the sandbox: a lock held by the run.
const CALLER: &str = "Sandbox Admin";

/// The sandbox's bulk files `100000..100000 + n` (room 6000), as IDs.
fn bulk(n: u32) -> std::ops::Range<u32> {
    100_000..100_000 + n
}

/// Sends `SIGKILL` with kill(2) (no fork of kill(1) between the decision and the signal) and
/// waits until the process is gone. A process that already ended on its own (and was reaped
/// while the caller watched it) is returned as it ended: the caller's check of the exit status
/// then says what it printed, instead of this failing on "no such process".
async fn kill9(mut child: Running) -> Ran {
    let pid = libc::pid_t::try_from(child.pid()).unwrap();
    let sent = unsafe { libc::kill(pid, libc::SIGKILL) };
    let err = std::io::Error::last_os_error();
    assert!(
        sent == 0 || (err.raw_os_error() == Some(libc::ESRCH) && child.exited()),
        "kill -9 {pid}: {err}"
    );
    child.wait(Duration::from_secs(10)).await
}

/// The file ID in `/api/2.0/files/file/{id}...`, and what follows it.
fn file_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/api/2.0/files/file/")?;
    Some(match rest.split_once('/') {
        Some((id, tail)) => (id, tail),
        None => (rest, ""),
    })
}

/// Lock (`lock = true`) or unlock PUTs per file ID in `log`, whatever their answer (a PUT the
/// client did not wait for may have been applied all the same).
fn puts_per_file(log: &[RecordedRequest], lock: bool) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in log.iter().filter(|r| r.method == "PUT") {
        if let Some((id, "lock")) = file_path(&r.path) {
            if r.body.contains("true") == lock {
                *m.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    m
}

/// `GET /api/2.0/files/file/{id}` (the state read) per file ID in `log`.
fn reads_per_file(log: &[RecordedRequest]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in log.iter().filter(|r| r.method == "GET") {
        if let Some((id, "")) = file_path(&r.path) {
            *m.entry(id.to_string()).or_default() += 1;
        }
    }
    m
}

/// The files of `ids` the sandbox says are locked (by anyone).
fn locked(sb: &Sandbox, ids: impl IntoIterator<Item = u32>) -> Vec<u32> {
    ids.into_iter()
        .filter(|id| sb.lock_owner(&id.to_string()).is_some())
        .collect()
}

/// `--progress never --rate unlimited`, and the rest of `args`, after `run`/`restore`.
fn quick<'a>(cmd: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![cmd];
    v.extend_from_slice(args);
    v.extend(["--progress", "never", "--rate", "unlimited"]);
    v
}

/// Whether `path` is a symbolic link (not followed).
fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}
