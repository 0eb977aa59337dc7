//! Opening report files without trusting the directory: nothing is opened through a symbolic
//! link (`O_NOFOLLOW`), new files are private (0600) and directories 0700 whatever the umask
//! (access lists hold names and e-mail addresses), and whole files are replaced by writing a
//! new file and renaming it over the old one, so a reader never sees half a file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` (and missing parents) with mode 0700. `Ok(false)` when it already existed.
pub fn create_private_dir(dir: &Path) -> io::Result<bool> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {
            // The umask may have taken bits away, never added them; set exactly 0700.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = std::fs::symlink_metadata(dir)?;
            if meta.file_type().is_symlink() || !meta.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a directory", dir.display()),
                ));
            }
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    o
}

/// Opens `path` for appending (creating it 0600); a symbolic link there is an error.
pub fn open_append(path: &Path) -> io::Result<File> {
    options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| link_error(path, e))
}

/// Opens `path` for reading only; a symbolic link there is an error.
pub fn open_read(path: &Path) -> io::Result<File> {
    options()
        .read(true)
        .open(path)
        .map_err(|e| link_error(path, e))
}

/// Opens `path` for reading and writing (creating it 0600); a symbolic link there is an error.
pub fn open_rw(path: &Path) -> io::Result<File> {
    options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| link_error(path, e))
}

/// Replaces `path` with `data`: written to a new private file beside it, synced, renamed over
/// `path`. A link planted at either name is never followed (the temporary file is created
/// exclusively; `rename` replaces a link at `path` rather than writing through it, and
/// [`check_no_links`] refuses one beforehand).
pub fn replace(path: &Path, data: &[u8]) -> io::Result<()> {
    replace_with(path, |f| f.write_all(data))
}

/// Like [`replace`], with the content written by `fill`.
pub fn replace_with(path: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let tmp = temp_name(path);
    if std::fs::symlink_metadata(&tmp).is_ok() {
        // A leftover of a killed process, or something planted: remove the name only (unlink
        // never touches a link's target).
        std::fs::remove_file(&tmp)?;
    }
    let mut f = options()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| link_error(&tmp, e))?;
    let written = fill(&mut f).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path)
}

/// The temporary name [`replace`] uses for `path`: `.NAME.tmp` beside it.
pub fn temp_name(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Fails when any of `names` inside `dir` is a symbolic link (a planted link is an error, and
/// its target is never touched).
pub fn check_no_links(dir: &Path, names: &[&str]) -> io::Result<()> {
    for name in names {
        for p in [dir.join(name), temp_name(&dir.join(name))] {
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{} is a symbolic link; report files are never written through links. Remove it or choose another report directory",
                        p.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// ELOOP from `O_NOFOLLOW` says "symbolic link"; say it in words.
fn link_error(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; report files are never written through links",
                path.display()
            ),
        )
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_writes_through_a_link_and_files_are_private() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let dir = d.path().join("r");
        assert!(create_private_dir(&dir).unwrap());
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        std::os::unix::fs::symlink(&victim, dir.join("a.csv")).unwrap();
        assert!(open_append(&dir.join("a.csv")).is_err());
        assert!(check_no_links(&dir, &["a.csv"]).is_err());
        std::os::unix::fs::symlink(&victim, temp_name(&dir.join("b.json"))).unwrap();
        assert!(check_no_links(&dir, &["b.json"]).is_err());
        replace(&dir.join("b.json"), b"{}").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        let m = std::fs::metadata(dir.join("b.json")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        drop(open_append(&dir.join("c.csv")).unwrap());
        let m = std::fs::metadata(dir.join("c.csv")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
    }
}
