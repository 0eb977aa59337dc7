//! What `docspace-batch --version` says about the build: the git commit and its date, the
//! build date, the target and the TLS stack. Read once per commit, not per build: the script
//! reruns only when HEAD moves or the lock file changes, so an edit-compile cycle does not
//! rebuild the crate for a new timestamp.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let (commit, commit_date) = git_commit();
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=DSB_COMMIT={commit}");
    println!("cargo:rustc-env=DSB_COMMIT_DATE={commit_date}");
    println!("cargo:rustc-env=DSB_BUILD_DATE={}", build_date());
    println!("cargo:rustc-env=DSB_TARGET={}", env("TARGET"));
    println!("cargo:rustc-env=DSB_PROFILE={}", env("PROFILE"));
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut tls = match locked_version(&lock, "rustls") {
        Some(v) => format!("rustls {v}"),
        None => "rustls".to_string(),
    };
    if locked_version(&lock, "ring").is_some() {
        tls.push_str(" (ring)");
    }
    if locked_version(&lock, "webpki-roots").is_some() {
        tls.push_str(", Mozilla root certificates built in (webpki-roots)");
    }
    println!("cargo:rustc-env=DSB_TLS={tls}");
}

/// The short commit and its date, or `unknown` outside a git checkout (a source tarball).
fn git_commit() -> (String, String) {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return ("unknown".into(), "unknown".into());
    };
    // HEAD, the branch it points at and packed refs: what moves when a commit is made or
    // checked out (resolved through --git-path, so a worktree's own HEAD is the one watched).
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch.push(branch);
    }
    for w in watch {
        if let Some(p) = git(&["rev-parse", "--git-path", &w]) {
            // A path that does not exist would make cargo rerun the script on every build.
            if Path::new(&p).exists() {
                println!("cargo:rerun-if-changed={p}");
            }
        }
    }
    let date = git(&["log", "-1", "--format=%cs", "HEAD"]).unwrap_or_else(|| "unknown".into());
    (commit, date)
}

/// `yyyy-mm-dd` (UTC) of `SOURCE_DATE_EPOCH` when set (reproducible builds), else of now.
fn build_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm); a build
/// script cannot use the crate's own date dependency.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The version of `name` in Cargo.lock (the first entry when several are locked).
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() == format!("name = \"{name}\"") {
            let v = lines.next()?.trim();
            return v
                .strip_prefix("version = \"")
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_string);
        }
    }
    None
}
