//! The fuzzed entry points, shared by the cargo-fuzz targets in `fuzz_targets/`.
//!
//! The loaders take a path (they check size, extension and `files_from` relative to it), so each
//! input is written to a per-process scratch file in /dev/shm (or the temp dir) first.

use std::path::PathBuf;
use std::time::Duration;

use docspace_batch::job::{self, Action, LoadOptions};

fn scratch(ext: &str) -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("docspace-fuzz-{}.{ext}", std::process::id()))
}

/// The YAML loader must return Ok or an error, never panic, and answer quickly.
pub fn yaml(data: &[u8]) {
    let p = scratch("yaml");
    std::fs::write(&p, data).unwrap();
    let _ = job::load_file(&p, &LoadOptions::default());
}

/// The CSV loader, with and without a default action.
pub fn csv(data: &[u8]) {
    let p = scratch("csv");
    std::fs::write(&p, data).unwrap();
    let _ = job::load_file(&p, &LoadOptions::default());
    let _ = job::load_file(
        &p,
        &LoadOptions {
            default_action: Some(Action::Info),
        },
    );
}

/// The envelope decoder: 2 bytes of status, 1 byte choosing `Retry-After`/`Location`, then the
/// optional location (up to a NUL) and the body.
pub fn envelope(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]) % 1000;
    let flags = data[2];
    let rest = &data[3..];
    let (location, body) = if flags & 1 == 1 {
        match rest.iter().position(|&b| b == 0) {
            Some(i) => (
                Some(String::from_utf8_lossy(&rest[..i]).into_owned()),
                &rest[i + 1..],
            ),
            None => (None, rest),
        }
    } else {
        (None, rest)
    };
    let retry = (flags & 2 == 2).then(|| Duration::from_secs(u64::from(flags >> 2)));
    match docspace_batch::decode_envelope(status, retry, location.as_deref(), body) {
        Ok(_) => assert!((200..300).contains(&status), "success only for 2xx"),
        Err(e) => {
            // Portal text is cleaned: no control characters reach a message.
            assert!(!e.message.chars().any(char::is_control), "{:?}", e.message);
        }
    }
}
