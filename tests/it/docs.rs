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
        o.stderr().contains("set DOCSPACE_URL=http://127.0.0.1:9"),
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

// ---------------------------------------------------------------------------------------------
// The documents themselves: links that resolve, nothing outside the repository

/// GitHub's anchor for a heading: lower case, letters, digits, `-` and `_` kept, spaces to
/// `-`, everything else dropped; a repeated anchor gets `-1`, `-2`, ….
fn anchors(text: &str) -> Vec<String> {
    let (_, prose) = crate::common::markdown_split(text);
    let mut out: Vec<String> = Vec::new();
    for (_, line) in prose {
        let hashes = line.len() - line.trim_start_matches('#').len();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let slug: String = line[hashes..]
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let n = out
            .iter()
            .filter(|a| {
                **a == slug
                    || a.strip_prefix(&format!("{slug}-"))
                        .is_some_and(|r| r.parse::<u32>().is_ok())
            })
            .count();
        out.push(if n == 0 { slug } else { format!("{slug}-{n}") });
    }
    out
}

/// The `[text](target)` link targets of the prose of `text` (code blocks and code spans left
/// out), with their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let (_, prose) = crate::common::markdown_split(text);
    let mut out = Vec::new();
    for (n, line) in prose {
        // Drop code spans: a `[x](y)` inside backticks is text, not a link.
        let plain: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let tail = &rest[at + 2..];
            let end = tail.find(')').unwrap_or(tail.len());
            out.push((n, tail[..end].to_string()));
            rest = &tail[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_in_the_docs_points_at_a_file_of_the_repository() {
    let root = crate::common::repo_root().canonicalize().unwrap();
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in crate::common::doc_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (line, target) in links(&text) {
            if ["http://", "https://", "mailto:"]
                .iter()
                .any(|p| target.starts_with(p))
            {
                continue;
            }
            checked += 1;
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let dest = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let Ok(dest) = dest.canonicalize() else {
                problems.push(format!("{name}:{line}: `{target}`: no such file"));
                continue;
            };
            if !dest.starts_with(&root) {
                problems.push(format!(
                    "{name}:{line}: `{target}` is outside the repository"
                ));
            } else if !anchor.is_empty() && dest.extension().is_some_and(|e| e == "md") {
                let text = std::fs::read_to_string(&dest).unwrap();
                if !anchors(&text).iter().any(|a| a == anchor) {
                    problems.push(format!(
                        "{name}:{line}: `{target}`: no heading with that anchor"
                    ));
                }
            }
        }
    }
    assert!(checked > 20, "found the links ({checked})");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_file_refers_to_documents_outside_the_repository() {
    // Written in pieces, so that searching the repository for them finds nothing here.
    let names = [
        concat!("SP", "EC"),
        concat!("docspace", "-api.md"),
        concat!("DES", "IGN.md"),
        concat!("STY", "LE.md"),
        concat!("../sha", "red"),
        concat!("../se", "ed"),
    ];
    let root = crate::common::repo_root();
    let mut files = crate::common::doc_files();
    files.extend(
        crate::common::files_below(&root.join("src"))
            .into_iter()
            .map(|(p, _)| p),
    );
    for dir in [
        "benches",
        "workflows",
        "tests/hostile",
        "fuzz/fuzz_targets",
        ".ci",
    ] {
        files.extend(
            crate::common::files_below(&root.join(dir))
                .into_iter()
                .map(|(p, _)| p),
        );
    }
    files.push(root.join("Cargo.toml"));
    let mut problems = Vec::new();
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        for (i, line) in text.lines().enumerate() {
            if let Some(n) = names.iter().find(|n| line.contains(*n)) {
                problems.push(format!("{}:{}: `{n}`", f.display(), i + 1));
            }
        }
    }
    assert!(files.len() > 30, "found the files");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn anchors_are_the_ones_github_makes() {
    let text = "# A b\n## Nightly runs (cron, systemd, Kubernetes)\n```\n# not a heading\n```\n### Editor support: `job.schema.json`\n## A b\n";
    assert_eq!(
        anchors(text),
        [
            "a-b",
            "nightly-runs-cron-systemd-kubernetes",
            "editor-support-jobschemajson",
            "a-b-1"
        ]
    );
    assert_eq!(
        links("see [x](a.md#b) and `[y](z)` [w](c.md)"),
        [(1, "a.md#b".into()), (1, "c.md".into())]
    );
}
