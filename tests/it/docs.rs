//! What a newcomer meets first, through the real binary: completions and the man page on
//! stdout, sandbox options only where they work, portal URL mistakes named with the fix.

use crate::common::{Cli, Work};

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    let w = Work::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = Cli::new(&w).args(["completions", shell]).run();
        assert_eq!(o.code(), 0, "{shell}: {}", o.stderr());
        assert!(o.stdout().contains("run"), "{shell}");
        assert!(o.stdout().contains("restore"), "{shell}");
    }
    let o = Cli::new(&w).args(["completions", "tcsh"]).run();
    assert_eq!(o.code(), 2);
}

#[test]
fn man_page_is_roff_with_a_title_first() {
    let w = Work::new();
    let o = Cli::new(&w).arg("man").run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(o.stdout().starts_with(".TH"), "{}", o.stdout());
    assert!(o.stdout().contains(".SH NAME"));
}

#[test]
fn restore_refuses_a_run_recorded_against_the_in_process_sandbox() {
    let w = Work::new();
    let job = w.csv_job("lock.csv", [101], "lock");
    let o = Cli::new(&w).job([job.to_str().unwrap(), "--sandbox"]).run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // Even with a real portal named: the recorded IDs would be other files there.
    let o = Cli::new(&w)
        .args(["restore", w.report().to_str().unwrap()])
        .portal("https://portal.example", Some("k"))
        .run();
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("in-process sandbox"), "{}", o.stderr());
}

#[test]
fn a_portal_url_with_a_path_is_a_usage_error_naming_the_base_url() {
    let w = Work::new();
    let job = w.csv_job("lock.csv", [101], "lock");
    let o = Cli::new(&w)
        .portal("http://127.0.0.1:9/api/2.0", Some("k"))
        .job([job.to_str().unwrap()])
        .run();
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("use --portal http://127.0.0.1:9"),
        "{}",
        o.stderr()
    );
    assert!(
        !w.report().exists(),
        "nothing reached the portal, nothing written"
    );
}

#[test]
fn version_says_what_was_built() {
    let w = Work::new();
    let o = Cli::new(&w).arg("--version").run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let out = o.stdout();
    let first = format!("docspace-batch {}", env!("CARGO_PKG_VERSION"));
    assert!(out.starts_with(&format!("{first}\n")), "{out}");
    for field in ["commit:", "built:", "target:", "tls:     rustls"] {
        assert!(out.contains(field), "{field} in {out}");
    }
    let target = out.lines().find(|l| l.starts_with("target:")).unwrap();
    assert!(target.contains(std::env::consts::ARCH), "{target}");
    assert!(target.contains(std::env::consts::OS), "{target}");
    // Built from this checkout: the commit is its HEAD (outside git: `unknown`).
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let commit = out.lines().find(|l| l.starts_with("commit:")).unwrap();
    let want = head.unwrap_or_else(|| "unknown".into());
    assert!(commit.contains(&want), "{commit} vs HEAD {want}");
    // -V stays one line, for scripts that parse it.
    let o = Cli::new(&w).arg("-V").run();
    assert_eq!(o.stdout(), format!("{first}\n"));
}
