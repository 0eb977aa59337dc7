//! The README runs: every command of its `console` blocks is run against sandboxes and its
//! output compared with what the README shows; every `docspace-batch` command of its `sh`
//! blocks (for a real portal) is parsed with the binary's own argument parser. So the README
//! cannot drift from the binary. The rules are written down in CONTRIBUTING.md ("The README
//! test").

use std::time::{Duration, Instant};

use crate::common::{markdown_split, repo_root, Cli, CodeBlock, Running, Work};

/// The `$ ` lines of a console block, each with the output lines shown after it.
#[derive(Debug)]
struct Step {
    /// README line number of the command.
    line: usize,
    command: String,
    shown: Vec<String>,
}

fn steps(block: &CodeBlock) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for (i, l) in block.lines.iter().enumerate() {
        if let Some(cmd) = l.strip_prefix("$ ") {
            out.push(Step {
                line: block.first_line + i,
                command: cmd.trim().to_string(),
                shown: Vec::new(),
            });
        } else {
            let step = out.last_mut().unwrap_or_else(|| {
                panic!(
                    "README.md:{}: a console block starts with a `$ ` line",
                    block.first_line
                )
            });
            step.shown.push(l.clone());
        }
    }
    out
}

/// The exit code a command must end with: a following `$ echo $?` says it, else the `— exit N`
/// of its summary line, else 0.
fn expected_code(step: &Step, next: Option<&Step>) -> i32 {
    if let Some(n) = next.filter(|n| n.command == "echo $?") {
        let code = n.shown.first().map(|s| s.trim().parse::<i32>());
        return code
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("README.md:{}: `echo $?` shows a number", n.line));
    }
    step.shown
        .iter()
        .rev()
        .find_map(|l| {
            l.rsplit_once("— exit ")
                .and_then(|(_, n)| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Normalising what changes from run to run

/// True when `shape` matches `c` at `i`: `d` a digit, `h` a hex digit, anything else itself.
fn shape_at(c: &[char], i: usize, shape: &str) -> bool {
    shape.chars().enumerate().all(|(k, s)| {
        c.get(i + k).is_some_and(|&x| match s {
            'd' => x.is_ascii_digit(),
            'h' => x.is_ascii_hexdigit(),
            _ => x == s,
        })
    })
}

/// Length of the RFC 3339 time at `i` (fraction and offset included), or 0.
fn time_len(c: &[char], i: usize) -> usize {
    if !shape_at(c, i, "dddd-dd-ddTdd:dd:dd") {
        return 0;
    }
    let mut j = i + 19;
    if c.get(j) == Some(&'.') {
        j += 1;
        while c.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
    }
    if c.get(j) == Some(&'Z') {
        j += 1;
    } else if shape_at(c, j, "+dd:dd") || shape_at(c, j, "-dd:dd") {
        j += 6;
    }
    j - i
}

/// Length of a duration or rate number at `i` (`0.8` in `0.8 s,`, `11.2` in `11.2 requests/s`),
/// or 0.
fn seconds_len(c: &[char], i: usize) -> usize {
    if i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '.') {
        return 0;
    }
    let mut j = i;
    while c.get(j).is_some_and(|x| x.is_ascii_digit() || *x == '.') {
        j += 1;
    }
    if j == i {
        return 0;
    }
    let rest: String = c[j..c.len().min(j + 12)].iter().collect();
    let unit = [" s,", " s)", " requests/s"]
        .iter()
        .any(|u| rest.starts_with(u))
        || rest == " s";
    if unit {
        j - i
    } else {
        0
    }
}

/// One output line with ports, timestamps, durations and UUIDs replaced by placeholders.
fn normalise(line: &str) -> String {
    let c: Vec<char> = line.trim_end().chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        let (n, with) = if shape_at(&c, i, "127.0.0.1:d") {
            let mut j = i + 10;
            while c.get(j).is_some_and(char::is_ascii_digit) {
                j += 1;
            }
            (j - i, "127.0.0.1:<port>")
        } else if time_len(&c, i) > 0 {
            (time_len(&c, i), "<time>")
        } else if shape_at(&c, i, "ddddddddTddddddZ") {
            (16, "<stamp>")
        } else if shape_at(&c, i, "hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh") {
            (36, "<uuid>")
        } else if seconds_len(&c, i) > 0 {
            (seconds_len(&c, i), "<n>")
        } else {
            (0, "")
        };
        if n > 0 {
            out.push_str(with);
            i += n;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// True when `actual` is what `shown` shows: line by line, a shown `...` standing for any
/// number of lines.
fn same(shown: &[String], actual: &[String]) -> bool {
    match shown.split_first() {
        None => actual.is_empty(),
        Some((s, rest)) if s == "..." => (0..=actual.len()).any(|k| same(rest, &actual[k..])),
        Some((s, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| a == s && same(rest, more)),
    }
}

fn normalised(lines: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<String> {
    lines
        .into_iter()
        .map(|l| match l.as_ref() {
            "..." => "...".to_string(),
            l => normalise(l),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running the console blocks

/// One README session: a working directory with `workflows/`, the exported environment, and
/// the sandboxes started in the background.
struct Session {
    work: Work,
    env: Vec<(String, String)>,
    /// Listen addresses as written in the README, with the address each sandbox really got.
    addrs: Vec<(String, String)>,
    sandboxes: Vec<Running>,
    last_code: Option<i32>,
    ran: usize,
}

impl Drop for Session {
    fn drop(&mut self) {
        for s in self.sandboxes.drain(..) {
            s.stop();
        }
    }
}

impl Session {
    fn new() -> Session {
        let work = Work::new();
        let dest = work.path().join("workflows");
        std::fs::create_dir(&dest).unwrap();
        for e in std::fs::read_dir(repo_root().join("workflows")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dest.join(p.file_name().unwrap())).unwrap();
        }
        Session {
            work,
            env: Vec::new(),
            addrs: Vec::new(),
            sandboxes: Vec::new(),
            last_code: None,
            ran: 0,
        }
    }

    /// `text` with each README listen address replaced by the real one.
    fn real(&self, text: &str) -> String {
        self.addrs
            .iter()
            .fold(text.to_string(), |t, (written, real)| {
                t.replace(written, real)
            })
    }

    fn step(&mut self, step: &Step, next: Option<&Step>) {
        let cmd = step.command.as_str();
        if cmd == "echo $?" {
            let code = self.last_code.expect("`echo $?` follows a command");
            assert_eq!(step.shown, [code.to_string()], "README.md:{}", step.line);
        } else if let Some(vars) = cmd.strip_prefix("export ") {
            assert!(step.shown.is_empty(), "README.md:{}: no output", step.line);
            for v in vars.split_whitespace() {
                let (k, val) = v.split_once('=').expect("export NAME=VALUE");
                self.env.push((k.to_string(), self.real(val)));
            }
        } else if let Some(bg) = cmd.strip_suffix('&') {
            self.background(step, bg.trim());
        } else if cmd.starts_with("docspace-batch ") || cmd.starts_with("cat ") {
            self.foreground(step, expected_code(step, next));
        } else {
            panic!(
                "README.md:{}: `{cmd}` in a console block; console blocks hold `docspace-batch`, \
                 `cat`, `export` and `echo $?` (show other commands in an `sh` block)",
                step.line
            );
        }
    }

    fn foreground(&mut self, step: &Step, want_code: i32) {
        let line = format!("{} 2>&1", self.real(&step.command));
        let cli = self
            .env
            .iter()
            .fold(Cli::shell(self.work.path(), &line), |c, (k, v)| c.env(k, v));
        let ran = cli.run();
        let actual = ran.stdout();
        let (shown, got) = (normalised(&step.shown), normalised(actual.lines()));
        assert!(
            same(&shown, &got),
            "README.md:{}: `{}` printed something else.\n--- README (normalised):\n{}\n--- \
             real output (normalised):\n{}\n--- real output:\n{actual}",
            step.line,
            step.command,
            shown.join("\n"),
            got.join("\n"),
        );
        assert_eq!(
            ran.code(),
            want_code,
            "README.md:{}: exit code of `{}`",
            step.line,
            step.command
        );
        if self.ran == 0 {
            assert_eq!(ran.code(), 0, "the README's first command exits 0");
        }
        self.last_code = Some(ran.code());
        self.ran += 1;
    }

    /// `docspace-batch sandbox … &`: a listening sandbox on a free port instead of the one
    /// written; its banner is compared with the lines shown.
    fn background(&mut self, step: &Step, cmd: &str) {
        let mut words: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
        assert!(
            words.len() >= 2 && words[0] == "docspace-batch" && words[1] == "sandbox",
            "README.md:{}: only `docspace-batch sandbox … &` runs in the background",
            step.line
        );
        let written = match words.iter().position(|w| w == "--listen") {
            Some(i) => std::mem::replace(&mut words[i + 1], "127.0.0.1:0".into()),
            None => {
                words.extend(["--listen".into(), "127.0.0.1:0".into()]);
                "127.0.0.1:8080".into()
            }
        };
        let sb = Cli::new(self.work.path()).args(&words[1..]).spawn();
        let want = step.shown.iter().filter(|l| *l != "...").count().max(1);
        let t0 = Instant::now();
        while sb.stdout_so_far().lines().count() < want && t0.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let banner = sb.stdout_so_far();
        let real = banner
            .lines()
            .next()
            .and_then(|l| l.split_once("listening on http://"))
            .map(|(_, a)| a.trim().to_string())
            .unwrap_or_else(|| panic!("README.md:{}: no sandbox banner: {banner}", step.line));
        let (shown, got) = (normalised(&step.shown), normalised(banner.lines()));
        assert!(
            same(&shown, &got),
            "README.md:{}: the sandbox printed\n{banner}",
            step.line
        );
        self.addrs.push((written, real));
        self.sandboxes.push(sb);
    }
}

fn readme() -> String {
    std::fs::read_to_string(repo_root().join("README.md")).unwrap()
}

#[test]
fn every_console_command_of_the_readme_prints_what_the_readme_shows() {
    let text = readme();
    let (blocks, _) = markdown_split(&text);
    let all: Vec<Step> = blocks
        .iter()
        .filter(|b| b.lang == "console")
        .flat_map(steps)
        .collect();
    let commands = all
        .iter()
        .filter(|s| s.command.starts_with("docspace-batch "))
        .count();
    assert!(
        commands >= 10,
        "found the README's recipes ({commands} commands)"
    );
    let mut session = Session::new();
    for (i, step) in all.iter().enumerate() {
        session.step(step, all.get(i + 1));
    }
}

// ---------------------------------------------------------------------------------------------
// `sh` blocks: commands for a real portal, parsed

/// Shell words of one command line: whitespace-separated, quotes removed, a `#` word starting
/// a comment; operators (`;`, `&&`, `|`, `>`…) as words of their own when written apart.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut cur, mut quote, mut started) = (Vec::new(), String::new(), None, false);
    for ch in line.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => (quote, started) = (Some(ch), true),
            (None, '#') if !started => break,
            (None, c) if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut cur));
                }
                started = false;
            }
            (None, c) => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(cur);
    }
    words
}

/// The arguments of each `docspace-batch` command in an `sh` block, with its README line.
fn sh_commands(block: &CodeBlock) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for (i, l) in block.lines.iter().enumerate() {
        if let Some(cont) = l.strip_suffix('\\') {
            logical.push_str(cont);
            continue;
        }
        logical.push_str(l);
        let words = shell_words(&std::mem::take(&mut logical));
        let ends = |w: &String| {
            [";", "&&", "||", "|", "&"].contains(&w.as_str()) || w.starts_with(['>', '<'])
        };
        let mut rest = words.as_slice();
        while let Some(at) = rest
            .iter()
            .position(|w| w.rsplit('/').next() == Some("docspace-batch"))
        {
            let args = &rest[at + 1..];
            let end = args.iter().position(ends).unwrap_or(args.len());
            out.push((block.first_line + i, args[..end].to_vec()));
            rest = &args[end..];
        }
    }
    out
}

#[test]
fn every_sh_command_of_the_readme_parses() {
    use clap::error::ErrorKind;
    use docspace_batch::cli::Cli as Parser;
    let text = readme();
    let (blocks, _) = markdown_split(&text);
    let commands: Vec<_> = blocks
        .iter()
        .filter(|b| b.lang == "sh")
        .flat_map(sh_commands)
        .collect();
    assert!(
        commands.len() >= 5,
        "found the README's sh commands: {commands:?}"
    );
    for (line, args) in &commands {
        assert!(
            args.iter().all(|a| !a.contains('$')),
            "README.md:{line}: write the command literally: {args:?}"
        );
        let parsed = <Parser as clap::Parser>::try_parse_from(
            std::iter::once("docspace-batch").chain(args.iter().map(String::as_str)),
        );
        if let Err(e) = parsed {
            assert!(
                matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion),
                "README.md:{line}: `docspace-batch {}` does not parse:\n{e}",
                args.join(" ")
            );
        }
    }
}

#[test]
fn normalising_keeps_counts_and_drops_times() {
    let a = "nightly: 82 tasks: 82 ok (0.8 s, 9 requests, 0 retries, 0 429s) — exit 0";
    assert_eq!(
        normalise(a),
        "nightly: 82 tasks: 82 ok (<n> s, 9 requests, 0 retries, 0 429s) — exit 0"
    );
    assert_eq!(
        normalise("reports: reports/n-20261202T112311Z at http://127.0.0.1:37583/ "),
        "reports: reports/n-<stamp> at http://127.0.0.1:<port>/"
    );
    assert_eq!(
        normalise("- Started 2026-12-02T11:24:04.507Z (0.2 s), 11.2 requests/s"),
        "- Started <time> (<n> s), <n> requests/s"
    );
    assert_eq!(
        normalise(
            "| 201 | 2027-01-01T09:40:37.4396133+00:00 | 8d5fe583-cf4f-46c0-8617-3a4f79678754"
        ),
        "| 201 | <time> | <uuid>"
    );
    let lines = |s: &[&str]| s.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert!(same(
        &lines(&["a", "...", "d"]),
        &lines(&["a", "b", "c", "d"])
    ));
    assert!(same(&lines(&["...", "b", "..."]), &lines(&["a", "b", "c"])));
    assert!(!same(&lines(&["a", "c"]), &lines(&["a", "b", "c"])));
    assert_eq!(
        shell_words(r#"0 1 * * *  cd /x && A=1 docspace-batch run "a b.yaml" --quiet # cron"#),
        [
            "0",
            "1",
            "*",
            "*",
            "*",
            "cd",
            "/x",
            "&&",
            "A=1",
            "docspace-batch",
            "run",
            "a b.yaml",
            "--quiet"
        ]
    );
}
