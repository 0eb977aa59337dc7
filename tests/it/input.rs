//! Friendlier job-file input (issue 16, item 4), through the real binary: every error of a file
//! in one pass, invisible characters shown escaped, `.txt` lists of IDs on one line, IDs echoed
//! as typed, a job on stdin (`-`), and the hint for spreadsheet files. Every refusal is exit 2
//! with nothing sent to the portal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use docspace_batch::sandbox::{Sandbox, SandboxOptions};

use crate::common::*;

/// Asserts a refusal: exit 2, every fragment on stderr, the closing line once, nothing sent.
fn assert_refused(o: &Ran, sb: &Sandbox, fragments: &[&str]) {
    let err = o.stderr();
    assert_eq!(o.code(), 2, "{err}");
    for f in fragments {
        assert!(err.contains(f), "no {f:?} in:\n{err}");
    }
    assert_eq!(
        err.matches("nothing was sent; fix the job file and run again")
            .count(),
        1,
        "{err}"
    );
    assert!(sb.requests().is_empty(), "sent: {:?}", sb.requests());
}

/// `validate`, `run` and `run --dry-run` on the same arguments, each refused the same way.
fn refused_everywhere(w: &Work, sb: &Sandbox, args: &[&str], stdin: Option<&[u8]>, frags: &[&str]) {
    let feed = |c: Cli| match stdin {
        Some(b) => c.stdin(b),
        None => c,
    };
    let o = feed(Cli::new(w).arg("validate").args(args)).run();
    assert_refused(&o, sb, frags);
    let o = feed(Cli::new(w).sandbox(sb).job(args)).run();
    assert_refused(&o, sb, frags);
    let o = feed(Cli::new(w).sandbox(sb).job(args).arg("--dry-run")).run();
    assert_refused(&o, sb, frags);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_of_a_job_file_is_listed_in_one_pass() {
    let sb = sandbox().await;
    let w = Work::new();
    w.file(
        "three.csv",
        "file_id,action\n101,lcok\nabc,lock\n102,lock\n0,info\n",
    );
    w.file(
        "jobs.yaml",
        "jobs:\n  - files: [101, abc, 102]\n    actions: [lcok, info]\n  - files: [5]\n    actions: [infoo]\n    acton: [lock]\n  - name: empty\n    files: [7]\n",
    );
    refused_everywhere(
        &w,
        &sb,
        &["three.csv", "jobs.yaml"],
        None,
        &[
            "three.csv:2: unknown action `lcok`",
            "three.csv:3: invalid file ID: `abc`",
            "three.csv:5: invalid file ID: `0`",
            "jobs.yaml:2:18: job 1, `files` item 2: invalid file ID: `abc`",
            "jobs.yaml:3:15: job 1, `actions` item 1: unknown action `lcok`",
            "jobs.yaml:5:15: job 2, `actions` item 1: unknown action `infoo`",
            "jobs.yaml:6:5: unknown key `acton` in job 2",
            "jobs.yaml:7: job 3: `empty` has no actions",
        ],
    );
    // Past 20, the rest is counted.
    let mut many = String::from("file_id,action\n");
    for i in 0..25 {
        many.push_str(&format!("x{i},lock\n"));
    }
    w.file("many.csv", &many);
    let o = Cli::new(&w).args(["validate", "many.csv"]).run();
    assert_refused(
        &o,
        &sb,
        &["many.csv:21: invalid file ID: `x19`", "and 5 more"],
    );
    assert!(!o.stderr().contains("`x20`"), "{}", o.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invisible_characters_in_ids_are_shown_escaped_with_a_hint() {
    let sb = sandbox().await;
    let w = Work::new();
    w.file(
        "paste.csv",
        "file_id,action\n10\u{a0}3,info\n\u{200b}104,info\n\u{ff11}\u{ff10}\u{ff15},info\n",
    );
    refused_everywhere(
        &w,
        &sb,
        &["paste.csv"],
        None,
        &[
            "paste.csv:2: invalid file ID: `10<U+00A0>3`",
            "a non-breaking space",
            "paste.csv:3: invalid file ID: `<U+200B>104`",
            "a zero-width space",
            "paste.csv:4: invalid file ID: `<U+FF11><U+FF10><U+FF15>`",
            "a full-width digit",
        ],
    );
    let o = Cli::new(&w).args(["validate", "paste.csv"]).run();
    assert!(!o.stderr().contains('\u{a0}'), "{}", o.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_txt_file_of_comma_separated_ids_is_read_as_ids() {
    let sb = sandbox().await;
    let w = Work::new();
    w.file("ids.txt", "101, 102, 103\n\n# more\n104 105;106,\n");
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job(["ids.txt", "--action", "info", "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let files: Vec<String> = w.rows().into_iter().map(|r| r.file).collect();
    assert_eq!(files, ["101", "102", "103", "104", "105", "106"]);
    // Errors keep their physical line; nothing is sent.
    let sb = sandbox().await;
    w.file("bad.txt", "101, 102\n\n103, abc, lock\n");
    refused_everywhere(
        &w,
        &sb,
        &["bad.txt", "--action", "info"],
        None,
        &[
            "bad.txt:3: invalid file ID: `abc`",
            "bad.txt:3: `lock` is an action",
        ],
    );
    // A .csv keeps its header rule, with a fix that works.
    w.file("ids.csv", "101, 102, 103\n");
    refused_everywhere(
        &w,
        &sb,
        &["ids.csv", "--action", "info"],
        None,
        &["ids.csv:1: missing header row", "one ID per line"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_in_exponent_or_decimal_form_are_echoed_as_typed() {
    let sb = sandbox().await;
    let w = Work::new();
    w.file(
        "float.yaml",
        "jobs:\n  - files: [1.01e2, 0x65, -5, 1.5]\n    actions: [info]\n",
    );
    refused_everywhere(
        &w,
        &sb,
        &["float.yaml"],
        None,
        &[
            "`1.01e2` is not written as digits",
            "`0x65` is not written as digits",
            "`-5` is negative",
            "`1.5` is not written as digits",
            "whole numbers written as digits",
        ],
    );
    let o = Cli::new(&w).args(["validate", "float.yaml"]).run();
    assert!(!o.stderr().contains("`101`"), "{}", o.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spreadsheet_files_get_a_save_as_csv_hint() {
    let sb = sandbox().await;
    let w = Work::new();
    for name in ["book.xlsx", "book.xls", "book.ods", "book.numbers"] {
        w.file(name, "PK\u{3}\u{4}");
        refused_everywhere(
            &w,
            &sb,
            &[name],
            None,
            &[name, "save it as CSV (UTF-8) from your spreadsheet program"],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_on_stdin_runs_and_its_errors_name_stdin() {
    let sb = sandbox().await;
    let w = Work::new();
    // CSV, sniffed.
    let o = Cli::new(&w)
        .sandbox(&sb)
        .stdin("file_id,action\n101,info\n102,info\n")
        .job(["-", "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(w.rows().len(), 2);
    // A plain list of IDs with --action.
    let o = Cli::new(&w)
        .stdin("101\n102 103\n")
        .args(["validate", "-", "--action", "info"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        o.stdout().contains("<stdin>: OK — 3 tasks"),
        "{}",
        o.stdout()
    );
    // YAML, sniffed, and the same with --format.
    let yaml = "# audit\njobs:\n  - files: [101]\n    actions: [info]\n";
    for extra in [&[][..], &["--format", "yaml"]] {
        let o = Cli::new(&w)
            .stdin(yaml)
            .args(["validate", "-"])
            .args(extra)
            .run();
        assert_eq!(o.code(), 0, "{}", o.stderr());
    }
    let o = Cli::new(&w)
        .stdin(yaml)
        .args(["validate", "-", "--format", "csv"])
        .run();
    assert_eq!(o.code(), 2, "{}", o.stderr());
    // Errors name <stdin> with line numbers; nothing is sent.
    let sb = sandbox().await;
    refused_everywhere(
        &w,
        &sb,
        &["-"],
        Some(b"jobs:\n  - files: [101, abc]\n    actions: [info]\n"),
        &["<stdin>:2:18: job 1, `files` item 2: invalid file ID: `abc`"],
    );
    // `-` twice, and --format without `-`: usage errors, nothing sent.
    w.csv_job("j.csv", [101], "info");
    for (args, fragment) in [
        (&["-", "-"][..], "`-` is given twice"),
        (
            &["j.csv", "--format", "csv"],
            "--format says how to read a job from stdin",
        ),
    ] {
        for o in [
            Cli::new(&w).arg("validate").args(args).stdin("101\n").run(),
            Cli::new(&w).sandbox(&sb).job(args).stdin("101\n").run(),
        ] {
            assert_eq!(o.code(), 2, "{}", o.stderr());
            assert!(o.stderr().contains(fragment), "{}", o.stderr());
        }
    }
    assert!(sb.requests().is_empty(), "sent: {:?}", sb.requests());
}

/// Runs `job` from stdin in `w` against `sb` while 102 is down: exit 1, work left.
fn interrupted_stdin_run(w: &Work, sb: &Sandbox, outage: &AtomicBool, job: &str) -> String {
    outage.store(true, Ordering::SeqCst);
    let o = Cli::new(w)
        .sandbox(sb)
        .stdin(job)
        .job(["-", "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 1, "{}", o.stderr());
    outage.store(false, Ordering::SeqCst);
    o.resume_command()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_from_stdin_resumes_with_the_same_job_on_stdin_or_from_its_record() {
    // 102 answers 503 during the outage: transient, so work is left.
    let outage = Arc::new(AtomicBool::new(true));
    let o2 = outage.clone();
    let sb = sandbox_with(SandboxOptions {
        interceptor: Some(Arc::new(move |r| {
            (r.path == "/api/2.0/files/file/102" && o2.load(Ordering::SeqCst))
                .then(|| respond(503, &[], b""))
        })),
        ..SandboxOptions::default()
    })
    .await;
    let job = "settings:\n  retries: 0\njobs:\n  - files: [101, 102]\n    actions: [info]\n";
    let w = Work::new();
    let resume = interrupted_stdin_run(&w, &sb, &outage, job);
    assert!(resume.contains(" - "), "{resume}");
    // Another job on stdin is another plan: refused, nothing sent.
    let sent = sb.requests().len();
    let o = Cli::shell(&w, &resume)
        .sandbox(&sb)
        .stdin("jobs:\n  - files: [101, 103]\n    actions: [info]\n")
        .run();
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("different plan"), "{}", o.stderr());
    assert_eq!(sb.requests().len(), sent);
    // The printed command, fed the same job, continues it.
    let o = Cli::shell(&w, &resume).sandbox(&sb).stdin(job).run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(w.rows().iter().all(|r| r.outcome == "ok"), "{:?}", w.rows());
    // Without the job, stdin is not read: the recorded plan goes on, and the operator is told
    // that the job's settings are not applied.
    let w = Work::new();
    interrupted_stdin_run(&w, &sb, &outage, job);
    let o = Cli::new(&w)
        .sandbox(&sb)
        .stdin("not a job")
        .args(["run", "--resume", w.report().to_str().unwrap()])
        .args(["--progress", "never"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(o.stderr().contains("read from stdin"), "{}", o.stderr());
    assert!(w.rows().iter().all(|r| r.outcome == "ok"), "{:?}", w.rows());
}

// Defects from the black-box review of the input work (branch input2), each reproduced
// through the binary.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_order_mark_on_stdin_is_skipped_like_in_a_file() {
    let sb = sandbox().await;
    let w = Work::new();
    let csv = b"\xef\xbb\xbffile_id,action\r\n101,info\r\n".to_vec();
    let yaml = b"\xef\xbb\xbf# audit\njobs:\n  - files: [101]\n    actions: [info]\n".to_vec();
    for bytes in [csv, yaml] {
        let o = Cli::new(&w).stdin(bytes).args(["validate", "-"]).run();
        assert_eq!(o.code(), 0, "{}", o.stderr());
        assert!(
            o.stdout().contains("<stdin>: OK — 1 task (info 1)"),
            "{}",
            o.stdout()
        );
    }
    // A mark inside (two exports joined with cat) is shown escaped and named.
    refused_everywhere(
        &w,
        &sb,
        &["-"],
        Some(b"\xef\xbb\xbffile_id,action\n101,info\n\xef\xbb\xbffile_id,action\n"),
        &[
            "<stdin>:3: invalid file ID: `<U+FEFF>file_id`",
            "a byte-order mark",
        ],
    );
    // `\xef\xbb\xbf` typed as text (the printf of dash and other sh keeps `\x` escapes as
    // they are) is named as such.
    refused_everywhere(
        &w,
        &sb,
        &["-"],
        Some(b"\\xef\\xbb\\xbffile_id,action\n101,info\n"),
        &["the text `\\xef\\xbb\\xbf`", "printf"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_line_txt_list_with_a_bad_id_is_read_as_ids() {
    let sb = sandbox().await;
    let w = Work::new();
    w.file("n.txt", "101, 10\u{a0}3, 102\n");
    w.file("abc.txt", "101, abc, 102\n");
    for (file, frags) in [
        (
            "n.txt",
            &[
                "n.txt:1: invalid file ID: `10<U+00A0>3`",
                "a non-breaking space",
            ][..],
        ),
        ("abc.txt", &["abc.txt:1: invalid file ID: `abc`"][..]),
    ] {
        refused_everywhere(&w, &sb, &[file, "--action", "info"], None, frags);
        let o = Cli::new(&w)
            .args(["validate", file, "--action", "info"])
            .run();
        assert!(!o.stderr().contains("header"), "{}", o.stderr());
    }
    // The same on stdin.
    refused_everywhere(
        &w,
        &sb,
        &["-", "--action", "info"],
        Some("101, abc, 102\n".as_bytes()),
        &["<stdin>:1: invalid file ID: `abc`"],
    );
    // A trailing `#` comment, on the first line as on the others.
    w.file("c.txt", "101 # first\n102, 103  # more\n#104\n");
    let o = Cli::new(&w)
        .args(["validate", "c.txt", "--action", "info"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        o.stdout().contains("OK — 3 tasks (info 3)"),
        "{}",
        o.stdout()
    );
    // A first line naming no known column is not a header: its words are reported as IDs,
    // with the reason.
    refused_everywhere(
        &w,
        &sb,
        &["-", "--action", "info"],
        Some(b"name,size\n101,3\n"),
        &["<stdin>:1: invalid file ID: `name`", "no known column name"],
    );
    // A .csv without its header: the fix offered works for the line.
    w.file("ids.csv", "101, abc, 102\n");
    refused_everywhere(
        &w,
        &sb,
        &["ids.csv", "--action", "info"],
        None,
        &["one ID per line"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_files_from_list_follows_the_id_list_rules() {
    let sb = sandbox().await;
    let w = Work::new();
    w.file(
        "j.yaml",
        "jobs:\n  - files_from: ids.csv\n    actions: [info]\n",
    );
    w.file("ids.csv", "101, 102\n103\n");
    let o = Cli::new(&w).args(["validate", "j.yaml"]).run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(o.stdout().contains("OK — 3 tasks"), "{}", o.stdout());
    w.file("ids.csv", "101, abc, lock\n");
    refused_everywhere(
        &w,
        &sb,
        &["j.yaml"],
        None,
        &[
            "ids.csv:1: invalid file ID: `abc`",
            "`lock` is an action, not a file ID: a `files_from` list holds file IDs only",
        ],
    );
    let o = Cli::new(&w).args(["validate", "j.yaml"]).run();
    assert!(!o.stderr().contains("file_id,action"), "{}", o.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_errors_join_the_job_errors_in_one_pass() {
    let sb = sandbox().await;
    let w = Work::new();
    w.file(
        "s.yaml",
        "settings:\n  rate: fast\n  concurency: 3\n  timeout: 0s\n  portal: https://x.onlyoffice.com/rooms/shared\njobs:\n  - name: a\n    files: [1]\n    actions: [lokc]\n  - name: a\n    files: [2]\n    actions: []\n",
    );
    refused_everywhere(
        &w,
        &sb,
        &["s.yaml"],
        None,
        &[
            "s.yaml:2:9: `settings`, `rate`: invalid rate `fast`",
            "s.yaml:3:3: unknown key `concurency` in `settings`",
            "s.yaml:4:12: `settings`, `timeout`: the duration `0s` must be greater than zero",
            "s.yaml:5:11: `settings`, `portal`: the portal URL must be the portal's base URL, without a path (`/rooms/shared`); write `portal: https://x.onlyoffice.com`",
            "s.yaml:9:15: job 1, `actions` item 1: unknown action `lokc`",
            "s.yaml:10: job 2 is named `a` like an earlier job",
            "s.yaml:10: job 2: `a` has no actions",
        ],
    );
    let o = Cli::new(&w).args(["validate", "s.yaml"]).run();
    assert!(!o.stderr().contains("--portal"), "{}", o.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_url_from_the_environment_is_fixed_there() {
    let w = Work::new();
    w.csv_job("j.csv", [101], "info");
    let o = Cli::new(&w)
        .portal("https://x.onlyoffice.com/rooms/shared", Some("k"))
        .args(["run", "j.csv"])
        .run();
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("DOCSPACE_URL=https://x.onlyoffice.com"),
        "{}",
        o.stderr()
    );
    assert!(!o.stderr().contains("--portal"), "{}", o.stderr());
    // Given on the command line, the fix is still the flag.
    let o = Cli::new(&w)
        .args(["run", "j.csv", "--portal", "https://x.onlyoffice.com/rooms"])
        .env("DOCSPACE_API_KEY", "k")
        .run();
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("use --portal https://x.onlyoffice.com"),
        "{}",
        o.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invisible_characters_in_settings_and_names_are_shown_escaped() {
    let sb = sandbox().await;
    let w = Work::new();
    w.csv_job("j.csv", [101], "info");
    for (flag, value, shown) in [
        ("--rate", "20\u{200b}/s", "`20<U+200B>/s`"),
        ("--timeout", "30\u{200b}s", "`30<U+200B>s`"),
        ("--shard", "1\u{200b}/2", "`1<U+200B>/2`"),
        ("--rate", "1\u{1b}[31m/s", "`1<U+001B>[31m/s`"),
    ] {
        let o = Cli::new(&w).sandbox(&sb).job(["j.csv", flag, value]).run();
        assert_eq!(o.code(), 2, "{}", o.stderr());
        assert!(o.stderr().contains(shown), "{flag}: {}", o.stderr());
        assert!(!o.stderr().contains(value), "{flag}: {}", o.stderr());
        if value.contains('\u{200b}') {
            assert!(o.stderr().contains("a zero-width space"), "{}", o.stderr());
        }
    }
    w.file(
        "v.yaml",
        "name: \"t\\u00a0x\"\nsettings:\n  timeout: \"30\\u200bs\"\n  rate: \"1\\e[31m/s\"\njobs:\n  - name: \"j\\e[31m\"\n    files: [1]\n    actions: [info]\n",
    );
    refused_everywhere(
        &w,
        &sb,
        &["v.yaml"],
        None,
        &[
            "the run name `t<U+00A0>x`",
            "a non-breaking space",
            "`30<U+200B>s`",
            "a zero-width space",
            "`1<U+001B>[31m/s`",
            "the job name `j<U+001B>[31m` contains a control character",
        ],
    );
    assert!(sb.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_of_one_are_singular_and_folder_ids_are_called_folder_ids() {
    let sb = sandbox().await;
    let w = Work::new();
    w.file(
        "one.yaml",
        "jobs:\n  - files: [101]\n    folders: [5]\n    actions: [info]\n",
    );
    let o = Cli::new(&w).args(["validate", "one.yaml"]).run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        o.stdout()
            .contains("OK — 1 task (info 1), plus 1 folder target whose files"),
        "{}",
        o.stdout()
    );
    w.csv_job("j.csv", [101], "info");
    let o = Cli::new(&w).args(["run", "j.csv", "--dry-run"]).run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    for line in ["job j: 1 task\n", "total: 1 task on 1 file\n"] {
        assert!(o.stdout().contains(line), "{line}: {}", o.stdout());
    }
    w.file("f.csv", "folder_id,action\nabc,info\n");
    w.file("f.yaml", "jobs:\n  - folders: [abc]\n    actions: [info]\n");
    refused_everywhere(
        &w,
        &sb,
        &["f.csv", "f.yaml"],
        None,
        &[
            "f.csv:2: invalid folder ID: `abc`",
            "f.yaml:2:15: job 1, `folders` item 1: invalid folder ID: `abc`",
        ],
    );
    w.file(
        "ff.yaml",
        "jobs:\n  - files_from: a.csv\n    actions: [info]\n",
    );
    w.file("a.csv", "file_id,action\n101,info\n");
    refused_everywhere(
        &w,
        &sb,
        &["ff.yaml"],
        None,
        &["this file has an `action` column"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spreadsheet_under_a_text_name_or_on_stdin_gets_the_save_as_csv_hint() {
    let sb = sandbox().await;
    let w = Work::new();
    let zip = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00".to_vec();
    let ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00".to_vec();
    for (i, bytes) in [zip, ole].into_iter().enumerate() {
        let name = format!("book{i}.csv");
        std::fs::write(w.path().join(&name), &bytes).unwrap();
        let hint = "save it as CSV (UTF-8) from your spreadsheet program";
        refused_everywhere(&w, &sb, &[name.as_str()], None, &[hint]);
        refused_everywhere(
            &w,
            &sb,
            &["-", "--action", "info"],
            Some(&bytes),
            &["<stdin>", hint],
        );
        let o = Cli::new(&w).args(["validate", &name]).run();
        assert!(!o.stderr().contains("NUL byte"), "{}", o.stderr());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_name_with_a_terminal_escape_is_shown_escaped() {
    let sb = sandbox().await;
    let w = Work::new();
    // A name with ESC and a right-to-left override: both written out, letters kept.
    let name = "Übersicht\u{1b}[31m\u{202e}.csv";
    w.file(name, "file_id,action\n1x,lock\n");
    refused_everywhere(
        &w,
        &sb,
        &[name],
        None,
        &["Übersicht<U+001B>[31m<U+202E>.csv:2: invalid file ID"],
    );
}

#[test]
fn a_connected_storage_id_in_a_txt_list_keeps_the_ids_after_it() {
    let w = Work::new();
    w.file(
        "cs.txt",
        "dropbox-337-L9Cd0L7QstGL0Lkg 101 102\n103\nbox-12-|123 # from export\n",
    );
    let o = Cli::new(&w)
        .args(["validate", "cs.txt", "--action", "info"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(o.stdout().contains("5 tasks"), "{}", o.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_read_as_the_other_format_says_which_it_looks_like() {
    let sb = sandbox().await;
    let w = Work::new();
    let yaml = "jobs:\n  - files: [101]\n    actions: [info]\n";
    let csv = "file_id,action\n101,lock\n";
    w.file("y.csv", yaml);
    w.file("c.yaml", csv);
    refused_everywhere(
        &w,
        &sb,
        &["y.csv"],
        None,
        &["y.csv: this looks like a YAML job", "name the file .yaml"],
    );
    refused_everywhere(
        &w,
        &sb,
        &["c.yaml"],
        None,
        &["c.yaml: this looks like a CSV job", "name the file .csv"],
    );
    refused_everywhere(
        &w,
        &sb,
        &["-", "--format", "csv"],
        Some(yaml.as_bytes()),
        &["<stdin>: this looks like a YAML job", "pass --format yaml"],
    );
    refused_everywhere(
        &w,
        &sb,
        &["-", "--format", "yaml"],
        Some(csv.as_bytes()),
        &["<stdin>: this looks like a CSV job", "pass --format csv"],
    );
    // `jobs :` with a space before the colon is sniffed as the YAML it is.
    let o = Cli::new(&w)
        .args(["validate", "-"])
        .stdin("jobs :\n  - files: [101]\n    actions: [info]\n".as_bytes())
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_given_as_a_job_file_is_called_one() {
    let sb = sandbox().await;
    let w = Work::new();
    std::fs::create_dir(w.path().join("jobs.yaml")).unwrap();
    refused_everywhere(
        &w,
        &sb,
        &["jobs.yaml"],
        None,
        &["jobs.yaml: is a directory"],
    );
}
