//! Case 10: private reports whatever the umask. Access lists hold names and e-mail addresses:
//! the report directory is 0700 and every file in it 0600, the record's SQLite side files
//! included, while the run goes and after, for `run`, `--resume` and `restore`.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use docspace_batch::sandbox::SandboxOptions;

use super::*;

/// Asserts `dir` is 0700 and holds only regular files, each 0600. Returns their names.
fn assert_private(dir: &Path) -> Vec<String> {
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        assert!(meta.is_file(), "{} is not a regular file", p.display());
        assert_eq!(mode(&p), 0o600, "{}", p.display());
        names.push(p.file_name().unwrap().to_string_lossy().into_owned());
    }
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_0700_and_0600_under_umask_022_and_000() {
    let sb = sandbox_with(SandboxOptions {
        latency: Duration::from_millis(30),
        ..SandboxOptions::default()
    })
    .await;
    let w = Work::new();
    w.csv_job("job.csv", (105..=124).chain(201..=205), "lock");
    w.csv_job("users.csv", 201..=205, "protectusers");
    let report = w.report();
    let child = Cli::shell(
        &w,
        "umask 022; exec docspace-batch run job.csv --report-dir report --concurrency 1 --rate unlimited --progress never",
    )
    .sandbox(&sb)
    .spawn();
    assert!(
        wait_until(Duration::from_secs(20), || whole_rows(&report) >= 3).await,
        "rows appear"
    );
    let during = assert_private(&report);
    assert!(
        during.iter().any(|n| n == "run.db-wal"),
        "the record's side files exist mid-run: {during:?}"
    );
    let o = child.wait(Duration::from_secs(60)).await;
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let after = assert_private(&report);
    for name in [
        "results.csv",
        "access.csv",
        "summary.json",
        "summary.md",
        "run.db",
        ".lock",
    ] {
        assert!(after.iter().any(|n| n == name), "{name} in {after:?}");
    }

    // No umask at all: a protectusers run (access.csv with names and e-mail addresses), its
    // resume, and a restore into a default directory under reports/.
    let o = Cli::shell(
        &w,
        "umask 000; exec docspace-batch run users.csv --report-dir people --progress never",
    )
    .sandbox(&sb)
    .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let people = w.path().join("people");
    assert_private(&people);
    assert!(
        std::fs::read_to_string(people.join("access.csv"))
            .unwrap()
            .contains('@'),
        "access.csv holds e-mail addresses"
    );
    let o = Cli::shell(
        &w,
        "umask 000; exec docspace-batch run users.csv --resume people --progress never",
    )
    .sandbox(&sb)
    .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_private(&people);
    let o = Cli::shell(
        &w,
        "umask 000; exec docspace-batch restore report --rate unlimited --progress never",
    )
    .sandbox(&sb)
    .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_private(&report);
    let reports = w.path().join("reports");
    let made: Vec<_> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_private(&made[0]);
}
