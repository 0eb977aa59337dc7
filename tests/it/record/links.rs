//! Case 1: planted symbolic links. Every name the binary opens in a report directory (the
//! exports, the record and its SQLite side files, the lock file, the temporary names exports
//! are written under) is refused when it is a link, before the first request (exit 2); a link
//! planted while the run goes is replaced or refused, never written through. The link's target,
//! existing or not, is never written or created.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use docspace_batch::sandbox::SandboxOptions;

use super::*;

/// Every name a process opens inside a report directory.
const REPORT_NAMES: [&str; 12] = [
    "results.csv",
    "access.csv",
    "summary.json",
    "summary.md",
    "run.db",
    "run.db-wal",
    "run.db-shm",
    ".lock",
    // The temporary names of write-new-then-rename (`files::temp_name`).
    ".results.csv.tmp",
    ".access.csv.tmp",
    ".summary.json.tmp",
    ".summary.md.tmp",
];

const VICTIM: &[u8] = b"a\nb";

/// A file outside the report directory that a link points at, and a path that must not come
/// into existence through a dangling link.
struct Victims {
    file: PathBuf,
    missing: PathBuf,
}

impl Victims {
    fn new(w: &Work) -> Victims {
        let file = w.path().join("victim");
        std::fs::write(&file, VICTIM).unwrap();
        Victims {
            file,
            missing: w.path().join("never-created"),
        }
    }

    /// Both untouched.
    fn assert_untouched(&self, what: &str) {
        assert_eq!(
            std::fs::read(&self.file).unwrap(),
            VICTIM,
            "{what}: the link's target was written"
        );
        assert!(
            std::fs::symlink_metadata(&self.missing).is_err(),
            "{what}: a dangling link's target was created"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_at_any_report_path_is_exit_2_before_any_request_and_its_target_is_untouched() {
    let sb = sandbox().await;
    let w = Work::new();
    let v = Victims::new(&w);
    let job = w.csv_job("job.csv", 105..=109, "lock");
    for name in REPORT_NAMES {
        for (kind, target) in [
            ("an existing file", &v.file),
            ("a missing file", &v.missing),
        ] {
            let tag = if target == &v.file {
                "to-file"
            } else {
                "dangling"
            };
            let dir = w.path().join(format!("r-{tag}-{name}"));
            std::fs::create_dir(&dir).unwrap();
            symlink(target, dir.join(name)).unwrap();
            let o = Cli::new(&w)
                .sandbox(&sb)
                .args(quick(
                    "run",
                    &[job.to_str().unwrap(), "--report-dir", dir.to_str().unwrap()],
                ))
                .run();
            let what = format!("a link to {kind} at {name}");
            assert_eq!(o.code(), 2, "{what}: {}", o.stderr());
            assert!(
                o.stderr().contains("symbolic link"),
                "{what}: {}",
                o.stderr()
            );
            v.assert_untouched(&what);
            assert!(is_link(&dir.join(name)), "{what}: the link itself stays");
        }
    }
    assert!(sb.requests().is_empty(), "nothing was sent");
    assert!(locked(&sb, 105..=109).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_planted_before_resume_or_restore_is_exit_2_and_its_target_is_untouched() {
    let sb = sandbox().await;
    let w = Work::new();
    let v = Victims::new(&w);
    let job = w.csv_job("job.csv", 105..=109, "lock");
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let sent = sb.requests().len();
    let report = w.report();
    let results = std::fs::read(report.join("results.csv")).unwrap();
    for name in REPORT_NAMES {
        for (kind, target) in [
            ("an existing file", &v.file),
            ("a missing file", &v.missing),
        ] {
            // The real file steps aside for the link and comes back after.
            let path = report.join(name);
            let aside = report.join(format!("{name}.aside"));
            let had = std::fs::rename(&path, &aside).is_ok();
            symlink(target, &path).unwrap();
            let what = format!("a link to {kind} at {name}");
            let resume = Cli::new(&w)
                .sandbox(&sb)
                .args(quick("run", &["job.csv", "--resume", "report"]))
                .run();
            assert_eq!(resume.code(), 2, "--resume, {what}: {}", resume.stderr());
            let restore = Cli::new(&w)
                .sandbox(&sb)
                .args(quick("restore", &["report", "--report-dir", "restored"]))
                .run();
            assert_eq!(restore.code(), 2, "restore, {what}: {}", restore.stderr());
            for o in [&resume, &restore] {
                // A dangling link at run.db reads as no record at all; also refused.
                let no_record = name == "run.db"
                    && o.stderr()
                        .contains("is not a docspace-batch report directory");
                assert!(
                    o.stderr().contains("symbolic link") || no_record,
                    "{what}: {}",
                    o.stderr()
                );
            }
            v.assert_untouched(&what);
            std::fs::remove_file(&path).unwrap();
            if had {
                std::fs::rename(&aside, &path).unwrap();
            }
            let _ = std::fs::remove_dir_all(w.path().join("restored"));
        }
    }
    assert_eq!(sb.requests().len(), sent, "nothing was sent");
    assert_eq!(std::fs::read(report.join("results.csv")).unwrap(), results);
    assert_eq!(locked(&sb, 105..=109).len(), 5, "nothing was unlocked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_dir_that_is_a_link_is_exit_2_and_the_linked_directory_stays_empty() {
    let sb = sandbox().await;
    let w = Work::new();
    let elsewhere = w.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    symlink(&elsewhere, w.report()).unwrap();
    let job = w.csv_job("job.csv", 105..=109, "lock");
    let o = Cli::new(&w).sandbox(&sb).job([job.to_str().unwrap()]).run();
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert!(sb.requests().is_empty(), "nothing was sent");
}

/// Plants a link to `v` at each export name in `dir` (the file there, if any, removed first),
/// as someone with access to the directory could while the run goes.
fn plant_links(dir: &Path, v: &Victims) {
    for name in ["results.csv", "access.csv", "summary.json", "summary.md"] {
        let _ = std::fs::remove_file(dir.join(name));
        symlink(&v.file, dir.join(name)).unwrap();
    }
    for name in [
        ".results.csv.tmp",
        ".access.csv.tmp",
        ".summary.json.tmp",
        ".summary.md.tmp",
    ] {
        symlink(&v.missing, dir.join(name)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_planted_mid_run_are_never_written_through() {
    // At the state read of 110 (tasks run one at a time, so 105-109 have finished and the CSV
    // exports are open), links replace every export and sit at every temporary name.
    let w = Work::new();
    let v = Arc::new(Victims::new(&w));
    let report = w.report();
    let planted = Arc::new(AtomicBool::new(false));
    let (p2, v2, r2) = (planted.clone(), v.clone(), report.clone());
    let sb = sandbox_with(SandboxOptions {
        interceptor: Some(Arc::new(move |r| {
            if r.method == "GET"
                && r.path == "/api/2.0/files/file/110"
                && !p2.swap(true, Ordering::SeqCst)
            {
                plant_links(&r2, &v2);
            }
            None
        })),
        ..SandboxOptions::default()
    })
    .await;
    let job = w.csv_job("job.csv", 105..=116, "lock");
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([
            job.to_str().unwrap(),
            "--concurrency",
            "1",
            "--rate",
            "unlimited",
        ])
        .run();
    assert!(planted.load(Ordering::SeqCst), "the links were planted");
    v.assert_untouched("links planted mid-run");
    // Replacing a link by renaming a new file over it is as good as refusing it; writing
    // through it is not.
    match o.code() {
        0 => {
            for e in std::fs::read_dir(&report).unwrap() {
                let p = e.unwrap().path();
                assert!(
                    !is_link(&p),
                    "{} is still a link after a clean exit",
                    p.display()
                );
            }
            let rows = w.rows();
            assert_eq!(rows.len(), 12, "results.csv holds every row: {rows:#?}");
            assert!(rows.iter().all(|r| r.outcome == "ok"), "{rows:#?}");
            assert_eq!(w.summary()["outcomes"]["ok"], 12);
        }
        3 => assert!(o.stderr().contains("symbolic link"), "{}", o.stderr()),
        c => panic!("exit {c}: {}", o.stderr()),
    }
    assert_eq!(locked(&sb, 105..=116).len(), 12);
}
