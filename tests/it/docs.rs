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

/// `groff` renders `page` (ASCII, no hyphenation, wide lines, no overstriking), failing the
/// test on any warning; `None` when groff is not installed.
fn groff(page: &str) -> Option<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("groff")
        .args(["-man", "-Tascii", "-ww", "-rLL=250n", "-rHY=0", "-P-cbou"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "groff: {stderr}");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The text of section `name` of a rendered page: up to the next heading (a line that starts
/// in the first column with a capital).
fn section<'a>(text: &'a str, name: &str) -> &'a str {
    let start = text
        .find(&format!("\n{name}\n"))
        .unwrap_or_else(|| panic!("no section {name} in {text}"));
    let body = &text[start + name.len() + 2..];
    let end = body
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| body[i..].starts_with(|c: char| c.is_ascii_uppercase()))
        .unwrap_or(body.len());
    &body[..end]
}

#[test]
fn man_page_is_one_complete_page() {
    use clap::CommandFactory;
    let w = Work::new();
    let o = Cli::new(&w).arg("man").run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let page = o.stdout();
    assert!(page.is_ascii(), "non-ASCII as roff escapes");
    assert!(
        !page.contains("docspace-batch-run(1)") && !page.contains("docspace\\-batch\\-run"),
        "no pages that cannot be produced"
    );
    let Some(text) = groff(&page) else {
        // Without groff: the structure, in the source.
        for h in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH ENVIRONMENT",
            ".SH \"EXIT STATUS\"",
            ".SH VERSION",
        ] {
            assert!(page.contains(h), "{h}");
        }
        return;
    };
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let root = crate::common::repo_root();
    // Every option of every command, in that command's section.
    let mut cmd = docspace_batch::cli::Cli::command();
    cmd.build();
    let mut options = 0;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let title = format!("COMMAND: {}", sub.get_name().to_uppercase());
        let body = section(&text, &title);
        assert!(
            body.contains("Synopsis") && body.contains("Options"),
            "{title}: {body}"
        );
        assert!(
            flat(body).contains(&format!("docspace-batch {} [", sub.get_name())),
            "{title}"
        );
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                assert!(body.contains(&format!("--{long}")), "{title}: --{long}");
                options += 1;
            }
        }
    }
    assert!(options > 60, "{options} options");
    // Every variable the program reads, as the sources spell them.
    let env = flat(section(&text, "ENVIRONMENT"));
    let mut vars = 0;
    for (file, _) in crate::common::files_below(&root.join("src/config")) {
        let src = std::fs::read_to_string(&file).unwrap();
        for var in src.split('"').filter(|s| {
            s.starts_with("DOCSPACE_") && s.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        }) {
            assert!(env.contains(var), "{var} from {}: {env}", file.display());
            vars += 1;
        }
    }
    assert!(vars >= 5, "{vars}");
    // The exit codes as README.md's table gives them, and diff's.
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let exits = flat(section(&text, "EXIT STATUS"));
    let table = readme.split("## Exit codes").nth(1).unwrap();
    let mut codes = Vec::new();
    for row in table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| exit"))
    {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        let want = format!("{} {}", cells[0], cells[1].replace('`', ""));
        assert!(exits.contains(&want), "{want} in {exits}");
        codes.push(cells[0].to_string());
    }
    assert_eq!(codes, ["0", "1", "2", "3", "4", "130"]);
    assert!(
        exits.contains("diff exits 0 (no differences), 1 (differences) or 2"),
        "{exits}"
    );
    for s in ["FILES", "SEE ALSO"] {
        assert!(
            section(&text, s).contains("guide.md") || s == "FILES",
            "{s}"
        );
    }
    // The short version: the build details fold into one paragraph on a page.
    let version = flat(section(&text, "VERSION"));
    assert!(version.starts_with(env!("CARGO_PKG_VERSION")), "{version}");
    assert!(
        !version.contains("commit:") && !version.contains("target:"),
        "{version}"
    );
}

/// A value that would drive a terminal if printed raw: an OSC title sequence ended by BEL, a C1
/// CSI, a right-to-left override and DEL.
const HOSTILE: &str = "v\u{1b}]0;pwned\u{7}\u{9b}31m\u{202e}x\u{7f}";

/// The characters of [`HOSTILE`] that must never reach the terminal raw. ESC alone is not on the
/// list: with colour forced, clap's own styling is ESC `[`; an OSC (ESC `]`) is never its.
fn leaked(out: &str) -> Option<&'static str> {
    ["\u{1b}]", "\u{7}", "\u{9b}", "\u{202e}", "\u{7f}"]
        .into_iter()
        .find(|c| out.contains(c))
}

#[test]
fn typed_control_characters_reach_the_terminal_escaped_from_argument_errors() {
    let w = Work::new();
    // Colour forced: clap then passes its output through unfiltered, as on a terminal (into a
    // pipe it would strip escape sequences, which hid the problem).
    let cli = || Cli::new(&w).env("CLICOLOR_FORCE", "1");
    let check = |what: &str, o: &crate::common::Ran, want: &str| {
        assert_eq!(o.code(), 2, "{what}: {}", o.stderr());
        let all = format!("{}{}", o.stdout(), o.stderr());
        assert!(leaked(&all).is_none(), "{what}: {all:?}");
        assert!(all.contains(want), "{what}: want {want} in {all:?}");
    };
    let url = format!("http://127.0.0.1:18080/{HOSTILE}");
    let o = cli()
        .args(["run", "j.txt", "--action", "info", "--portal", &url])
        .run();
    check(
        "--portal",
        &o,
        "18080/v<U+001B>]0;pwned<U+0007><U+009B>31m<U+202E>x<U+007F>",
    );
    let o = cli()
        .args(["run", "j.txt", "--action", "info"])
        .env("DOCSPACE_URL", &url)
        .run();
    check("DOCSPACE_URL", &o, "<U+001B>]0;pwned<U+0007>");
    let o = cli().args(["run", "j.txt", "--action", "lo\u{a0}ck"]).run();
    check("--action", &o, "lo<U+00A0>ck");
    assert!(!o.stderr().contains('\u{a0}'), "{}", o.stderr());
    let o = cli().args(["run", &format!("--{HOSTILE}")]).run();
    check("unknown flag", &o, "--v<U+001B>]0;");
    let o = cli().arg(HOSTILE).run();
    check("unknown subcommand", &o, "v<U+001B>]0;");
    let o = cli()
        .args(["sandbox", "--server-version", &format!("3{HOSTILE}")])
        .run();
    check("--server-version", &o, "3v<U+001B>]0;");
    let o = cli().args(["sandbox", "--listen", HOSTILE]).run();
    check("--listen", &o, "v<U+001B>]0;");
    // Help shows no environment value (it would echo whatever DOCSPACE_URL holds).
    let o = cli()
        .args(["run", "--help"])
        .env("DOCSPACE_URL", &url)
        .run();
    assert_eq!(o.code(), 0);
    assert!(leaked(&o.stdout()).is_none(), "{:?}", o.stdout());
}

#[test]
fn on_a_pseudo_terminal_argument_errors_show_typed_escapes_escaped() {
    // `script` gives the binary a terminal, where clap colours and filters nothing.
    if !std::path::Path::new("/usr/bin/script").exists() {
        eprintln!("skipped: no /usr/bin/script");
        return;
    }
    let w = Work::new();
    let o = Cli::shell(
        &w,
        "script -qec 'docspace-batch run j.txt --action info --portal \"$P\"' /dev/null",
    )
    .env("TERM", "xterm-256color")
    .env("P", format!("http://127.0.0.1:18080/{HOSTILE}"))
    .run();
    let all = format!("{}{}", o.stdout(), o.stderr());
    assert!(all.contains("invalid value"), "{all:?}");
    assert!(leaked(&all).is_none(), "{all:?}");
    assert!(all.contains("18080/v<U+001B>]0;pwned<U+0007>"), "{all:?}");
}

/// Every option that takes a value, and every positional, given [`HOSTILE`]: whatever the
/// binary answers (an error, a plan), nothing of it reaches the terminal raw.
#[test]
fn no_option_value_reaches_the_terminal_raw() {
    use clap::CommandFactory;
    let w = Work::new();
    let job = w.csv_job("j.csv", [101], "lock");
    let job = job.to_str().unwrap();
    let mut tried = 0;
    for sub in docspace_batch::cli::Cli::command().get_subcommands() {
        let name = sub.get_name().to_string();
        // Enough to get past the parser to the command: a job, two directories, a shell.
        let base: Vec<&str> = match name.as_str() {
            "run" => vec![job, "--dry-run", "--progress", "never"],
            "validate" => vec![job],
            "restore" => vec!["nowhere", "--dry-run"],
            "diff" => vec!["a", "b"],
            "completions" => vec!["bash"],
            // An invalid --faults makes a sandbox stop before it serves.
            "sandbox" => vec!["--faults", "9"],
            _ => vec![],
        };
        for arg in sub.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if !arg.get_action().takes_values() || long == "faults" {
                continue;
            }
            let flag = format!("--{long}");
            let o = Cli::new(&w)
                .env("CLICOLOR_FORCE", "1")
                .arg(&name)
                .args(&base)
                .args([flag.as_str(), HOSTILE])
                .run();
            let all = format!("{}{}", o.stdout(), o.stderr());
            assert!(leaked(&all).is_none(), "{name} {flag}: {all:?}");
            tried += 1;
        }
        if sub.get_positionals().next().is_some() {
            let o = Cli::new(&w)
                .env("CLICOLOR_FORCE", "1")
                .args([name.as_str(), HOSTILE])
                .run();
            let all = format!("{}{}", o.stdout(), o.stderr());
            assert!(leaked(&all).is_none(), "{name} positional: {all:?}");
        }
    }
    assert!(tried > 40, "tried {tried} options");
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
    // A user finds it: the README's install block and the guide's command table say what it
    // prints.
    let root = crate::common::repo_root();
    for doc in ["README.md", "docs/guide.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("docspace-batch --version"))
            .unwrap_or_else(|| panic!("{doc} mentions docspace-batch --version"));
        assert!(
            line.contains("commit") && line.contains("TLS"),
            "{doc}: {line}"
        );
    }
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
