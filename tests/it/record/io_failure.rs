//! Case 6: the record cannot be written mid-run (the disk fills up; the directory is removed).
//! Requests have gone out, so this is not "nothing was written" (exit 2) but an abort (exit 3)
//! naming the path, the error and how many lock/unlock requests were sent. After a full disk
//! the record stays usable: once there is room, a resume finishes with every file locked by
//! one PUT. The full disk needs root (a small tmpfs); skipped with a reason otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use docspace_batch::sandbox::{InterceptRequest, SandboxOptions};

use super::*;

/// A tmpfs mounted for the test; unmounted when dropped, also when an assertion failed.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `8m`) at `dir`, or says why it cannot.
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        if unsafe { libc::geteuid() } != 0 {
            return Err("not running as root".into());
        }
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !o.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(Tmpfs {
            dir: dir.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still busy (a process that outlived a failed assertion): detach it now.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
}

/// The number in "... N lock/unlock requests ...".
fn writes_reported(stderr: &str) -> Option<usize> {
    let (before, _) = stderr.split_once(" lock/unlock requests")?;
    before.split_whitespace().last()?.parse().ok()
}

/// A sandbox with 200 bulk files that calls `then` once, when the lock PUT of 100020 (some 20
/// files into the run) arrives.
async fn at_the_20th_lock(then: impl Fn() + Send + Sync + 'static) -> (Sandbox, Arc<AtomicBool>) {
    let fired = Arc::new(AtomicBool::new(false));
    let f2 = fired.clone();
    let sb = sandbox_with(SandboxOptions {
        files: 200,
        interceptor: Some(Arc::new(move |r: &InterceptRequest| {
            if r.method == "PUT"
                && r.path == "/api/2.0/files/file/100020/lock"
                && !f2.swap(true, Ordering::SeqCst)
            {
                then();
            }
            None
        })),
        ..SandboxOptions::default()
    })
    .await;
    (sb, fired)
}

/// Runs the 200 locks into `report` and checks the abort: exit 3, the path, the error (one of
/// `errors`), the writes sent, a run cut short.
fn run_and_expect_abort(w: &Work, sb: &Sandbox, report: &Path, errors: &[&str]) -> Ran {
    w.csv_job("job.csv", bulk(200), "lock");
    let o = Cli::new(w)
        .sandbox(sb)
        .args(quick(
            "run",
            &[
                "job.csv",
                "--concurrency",
                "2",
                "--report-dir",
                report.to_str().unwrap(),
            ],
        ))
        .run();
    let err = o.stderr();
    assert_eq!(o.code(), 3, "{err}");
    assert!(
        err.contains(&report.display().to_string()),
        "names the path: {err}"
    );
    assert!(
        errors.iter().any(|e| err.contains(e)),
        "names the error: {err}"
    );
    let sent: usize = puts_per_file(&sb.requests(), true).values().sum();
    assert_eq!(
        writes_reported(&err),
        Some(sent),
        "says how many writes went out: {err}"
    );
    o
}

/// Asserts the run stopped starting tasks soon after the 20th lock.
fn assert_stopped_soon(sb: &Sandbox, o: &Ran) {
    let done = locked(sb, bulk(200)).len();
    assert!(
        (20..200).contains(&done),
        "the run stopped soon after the failure: {done} of 200 locked; {}",
        o.stderr()
    );
}

const DISK_FULL: [&str; 2] = ["full", "No space left"];

/// A report directory on a tmpfs that fills up at the 20th lock: the sandbox, the filler, the
/// mount guard, the run's output. `None` (with the reason printed) when no tmpfs can be made.
async fn full_disk_run(w: &Work, test: &str) -> Option<(Sandbox, PathBuf, Tmpfs, Ran)> {
    let mnt = w.path().join("small");
    // 8 MiB holds the record of 200 tasks many times over, until the filler takes the rest.
    let tmpfs = match Tmpfs::mount(&mnt, "8m") {
        Ok(t) => t,
        Err(why) => {
            eprintln!("skipped {test}: {why}");
            return None;
        }
    };
    let filler = tmpfs.dir.join("filler");
    let f2 = filler.clone();
    let (sb, fired) = at_the_20th_lock(move || fill(&f2)).await;
    let report = tmpfs.dir.join("report");
    let o = run_and_expect_abort(w, &sb, &report, &DISK_FULL);
    assert!(fired.load(Ordering::SeqCst), "the disk was filled");
    assert_stopped_soon(&sb, &o);
    Some((sb, filler, tmpfs, o))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_mid_run_is_exit_3_and_a_resume_with_room_finishes() {
    let w = Work::new();
    let Some((sb, filler, tmpfs, _)) = full_disk_run(&w, "a_full_disk_mid_run").await else {
        return;
    };
    let report = tmpfs.dir.join("report");
    // With room again the record is intact: the resume finishes, and no file gets a second PUT
    // (those in flight at the stop are settled by their intents).
    std::fs::remove_file(&filler).unwrap();
    let o = Cli::new(&w)
        .sandbox(&sb)
        .args(quick(
            "run",
            &["job.csv", "--resume", report.to_str().unwrap()],
        ))
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let rows = rows_in(&report);
    assert_eq!(rows.len(), 200);
    assert!(
        rows.iter()
            .all(|r| r.outcome == "ok" && r.was_locked == "false"),
        "{rows:#?}"
    );
    let puts = puts_per_file(&sb.requests(), true);
    assert_eq!(puts.len(), 200);
    assert!(
        puts.values().all(|&n| n == 1),
        "{:?}",
        puts.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    assert_eq!(locked(&sb, bulk(200)).len(), 200);
    assert_eq!(summary_in(&report)["resumes"], 1);
    drop(tmpfs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_full_disk_mid_run_prints_the_resume_command() {
    // The resume command is printed, and recorded, when work is left. Work is
    // left (180 files were never started); recording it is impossible, printing it is not.
    let w = Work::new();
    let Some((_sb, _filler, tmpfs, o)) = full_disk_run(&w, "a_full_disk_..._resume_command").await
    else {
        return;
    };
    let report = tmpfs.dir.join("report");
    let err = o.stderr();
    assert!(err.contains("resume with: "), "{err}");
    assert!(
        o.resume_command()
            .ends_with(&format!("--resume {}", report.display())),
        "{err}"
    );
    drop(tmpfs);
}

/// The run of 200 locks whose report directory is removed at the 20th lock.
async fn removed_dir_run(w: &Work) -> (Sandbox, Ran) {
    let report = w.report();
    let r2 = report.clone();
    let (sb, fired) = at_the_20th_lock(move || {
        std::fs::remove_dir_all(&r2).expect("the report directory exists mid-run")
    })
    .await;
    let o = run_and_expect_abort(w, &sb, &report, &["No such file or directory"]);
    assert!(fired.load(Ordering::SeqCst), "the directory was removed");
    (sb, o)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_dir_removed_mid_run_is_exit_3_naming_the_writes_sent() {
    removed_dir_run(&Work::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_report_dir_removed_mid_run_stops_starting_tasks() {
    // A record that cannot be written (the directory removed) stops starting tasks.
    // The record goes on into the removed run.db, which vanishes at exit with every lock made
    // after the removal: nothing is left for `restore`.
    let (sb, o) = removed_dir_run(&Work::new()).await;
    assert_stopped_soon(&sb, &o);
}
