use super::*;
use crate::units::{Rate, Shard};
use std::time::Duration;

fn write(dir: &tempfile::TempDir, name: &str, body: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, body).unwrap();
    p
}

/// The first error (in line order) of a file that fails.
fn try_load(body: &str) -> Result<JobFile, JobError> {
    load_all(body).map_err(|e| e.errors()[0].clone())
}

/// Every error of a file that fails.
fn load_all(body: &str) -> Result<JobFile, JobErrors> {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "q4.yaml", body);
    load(&p, &LoadOptions::default())
}

fn err(body: &str) -> JobError {
    try_load(body).expect_err("should fail")
}

/// Asserts the error is located and its text holds every fragment.
fn assert_err(body: &str, line: usize, fragments: &[&str]) {
    let e = err(body);
    let text = e.to_string();
    assert!(text.contains("q4.yaml"), "{text}");
    assert_eq!(e.line, Some(line), "{text}");
    for f in fragments {
        assert!(text.contains(f), "missing {f:?} in: {text}");
    }
}

fn targets(jf: &JobFile) -> Vec<String> {
    jf.entries
        .iter()
        .map(|e| match &e.target {
            Target::File(id) => format!("{}:{id}", e.job),
            Target::Folder(id) => format!("{}:folder:{id}", e.job),
        })
        .collect()
}

const EXAMPLE: &str = "\
name: q4-audit
settings:
  concurrency: 8
  rate: 20/s
  timeout: 45
  max-duration: 1h
  check_state: false
  shard: 2/4
  action: LOCK
  progress: Never
  log-format: json
jobs:
  - name: finance
    files: [101, 102, \"dropbox-337-L9Cd0L7QstGL0Lkg\", '0101']
    folders: [5001]
    actions: [info, lock, lock, protectusers, lock]
    on_failure: continue
  - files:
      - 201
    actions: [Unlock]
";

#[test]
fn happy_path() {
    let jf = try_load(EXAMPLE).unwrap();
    assert_eq!(jf.name, "q4-audit");
    assert_eq!(
        targets(&jf),
        [
            "finance:101",
            "finance:102",
            "finance:dropbox-337-L9Cd0L7QstGL0Lkg",
            "finance:folder:5001",
            "job-2:201"
        ]
    );
    let e = &jf.entries[0];
    assert_eq!(
        &*e.actions,
        [
            Action::Info,
            Action::Lock,
            Action::ProtectUsers,
            Action::Lock
        ]
    );
    assert_eq!(e.on_failure, OnFailure::Continue);
    assert_eq!(e.line, 13);
    assert!(Arc::ptr_eq(&jf.entries[0].actions, &jf.entries[3].actions));
    assert_eq!(jf.entries[4].line, 18);
    assert_eq!(jf.entries[4].on_failure, OnFailure::SkipRest);
    assert_eq!(&*jf.entries[4].actions, [Action::Unlock]);
    let s = &jf.settings;
    assert_eq!(s.concurrency, Some(8));
    assert_eq!(s.rate, Some(Rate::PerSecond(20.0)));
    assert_eq!(s.timeout, Some(Duration::from_secs(45)));
    assert_eq!(s.max_duration, Some(Duration::from_secs(3600)));
    assert_eq!(s.check_state, Some(false));
    assert_eq!(s.shard, Some(Shard { k: 2, n: 4 }));
    assert_eq!(s.action, Some(Action::Lock));
    assert_eq!(s.progress, Some(crate::config::ProgressMode::Never));
    assert_eq!(s.log_format, Some(crate::config::LogFormat::Json));
    assert_eq!(s.portal, None);
    assert_eq!(jf.sha256.len(), 64);
}

#[test]
fn crlf_and_bom_load_the_same() {
    let plain = try_load(EXAMPLE).unwrap();
    let crlf = try_load(&format!("\u{feff}{}", EXAMPLE.replace('\n', "\r\n"))).unwrap();
    assert_eq!(plain.entries, crlf.entries);
    assert_eq!(plain.settings, crlf.settings);
    assert_ne!(plain.sha256, crlf.sha256, "the hash is over the bytes");
}

#[test]
fn default_name_is_the_sanitised_stem() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "my audit (v2).yml",
        "jobs: [{files: [1], actions: [info]}]",
    );
    let jf = load(&p, &LoadOptions::default()).unwrap();
    assert_eq!(jf.name, "my_audit__v2_");
    assert_eq!(jf.entries[0].line, 1, "flow style: the `jobs:` line");
    assert_err(
        "name: ../etc\njobs: [{files: [1], actions: [info]}]\n",
        1,
        &["directory name"],
    );
}

#[test]
fn files_from_is_relative_to_the_yaml_and_deduplicated() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lists")).unwrap();
    write(&dir, "lists/fin.csv", "file_id\n102\n103\n101\n");
    let yaml = "jobs:\n  - files: [101, 102, 101]\n    files_from: lists/fin.csv\n    folders: [7, 7]\n    actions: [lock]\n";
    let p = write(&dir, "job.yaml", yaml);
    let jf = load(&p, &LoadOptions::default()).unwrap();
    assert_eq!(
        targets(&jf),
        ["job-1:101", "job-1:102", "job-1:103", "job-1:folder:7"]
    );
    // The hash covers the list too.
    let before = jf.sha256;
    write(&dir, "lists/fin.csv", "file_id\n102\n103\n104\n");
    let after = load(&p, &LoadOptions::default()).unwrap().sha256;
    assert_ne!(before, after);
    // Errors in the list name the list's file and line, and where it was named.
    write(&dir, "lists/fin.csv", "file_id\n102\nabc\n");
    let e = load(&p, &LoadOptions::default()).unwrap_err().errors()[0].clone();
    assert!(e.file.ends_with("lists/fin.csv"), "{e}");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("job.yaml:2"), "{e}");
    std::fs::remove_file(dir.path().join("lists/fin.csv")).unwrap();
    let e = load(&p, &LoadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("cannot read"), "{e}");
}

#[test]
fn unknown_keys_suggest() {
    assert_err(
        "jobs:\n  - files: [1]\n    acton: [lock]\n",
        3,
        &[
            "unknown key `acton` in job 1",
            "did you mean `actions`?",
            "expected one of: name, files, folders, files_from, actions, on_failure",
        ],
    );
    assert_err(
        "settings:\n  concurency: 3\njobs: [{files: [1], actions: [info]}]\n",
        2,
        &[
            "unknown key `concurency` in `settings`",
            "did you mean `concurrency`?",
        ],
    );
    assert_err(
        "job:\n  - files: [1]\n",
        1,
        &["unknown key `job` at the top level", "did you mean `jobs`?"],
    );
    assert_err(
        "jobs:\n  - files: [1]\n    actions: [info]\n    rate: 5/s\n",
        4,
        &["belong under `settings:`"],
    );
}

#[test]
fn wrong_types_are_explained() {
    assert_err(
        "jobs:\n  - files: 5\n    actions: [info]\n",
        2,
        &["job 1, `files`", "must be a list: write `files: [5]`"],
    );
    assert_err(
        "jobs:\n  - files: [1]\n    actions: lock\n",
        3,
        &["write `actions: [lock]`"],
    );
    assert_err(
        "jobs:\n  - files:\n    actions: [info]\n",
        2,
        &["`files` has no value"],
    );
    assert_err(
        "jobs:\n  - files: [1, 1.5]\n    actions: [info]\n",
        2,
        &["`files` item 2", "`1.5`", "is not written as digits"],
    );
    assert_err(
        "jobs:\n  - files: [true]\n    actions: [info]\n",
        2,
        &["`true`"],
    );
    assert_err(
        "jobs:\n  - files: [-5]\n    actions: [info]\n",
        2,
        &["`-5`", "negative"],
    );
    assert_err("jobs:\n  - files: [~]\n    actions: [info]\n", 2, &["null"]);
    assert_err(
        "jobs:\n  - files: [99999999999999999999]\n    actions: [info]\n",
        2,
        &["larger than the largest"],
    );
    assert_err(
        "jobs:\n  - files: [\"12/../people\"]\n    actions: [info]\n",
        2,
        &["invalid file ID"],
    );
    assert_err(
        "jobs:\n  - files: [1]\n    actions: [lcok]\n",
        3,
        &["did you mean `lock`"],
    );
    assert_err("jobs:\n  - 101\n", 2, &["expected a job"]);
    assert_err(
        "settings:\n  concurrency: 0\njobs: [{files: [1], actions: [info]}]\n",
        2,
        &["from 1 to 1000"],
    );
    assert_err(
        "settings:\n  rate: 20\njobs: [{files: [1], actions: [info]}]\n",
        2,
        &["invalid rate `20`"],
    );
    assert_err(
        "settings:\n  progress: sometimes\njobs: [{files: [1], actions: [info]}]\n",
        2,
        &["auto, always, never"],
    );
    assert_err(
        "jobs:\n  - files: [1]\n    actions: [info]\n    on_failure: stop\n",
        4,
        &["`skip_rest`"],
    );
    assert_err(
        "jobs:\n  - files: [1]\n    files: [2]\n",
        2,
        &["given twice"],
    );
    assert_err(
        "settings:\n  timeout: 0s\njobs: [{files: [1], actions: [info]}]\n",
        2,
        &["greater than zero"],
    );
    assert_err(
        "jobs:\n  - files_from: other.yaml\n    actions: [info]\n",
        2,
        &["must name a .csv, .tsv or .txt"],
    );
    assert_err(
        "settings:\n  max-duratoin: 1h\njobs: [{files: [1], actions: [info]}]\n",
        2,
        &["did you mean `max_duration`?"],
    );
}

#[test]
fn structure_errors() {
    for body in ["", "\n\n# nothing\n", "---\n"] {
        let e = err(body);
        assert!(e.message.contains("empty job file"), "{e}");
    }
    assert_err("jobs: []\n", 1, &["`jobs` is empty"]);
    assert!(err("name: x\n").message.contains("no `jobs:` list"));
    assert_err(
        "jobs:\n  - name: a\n    files: [1]\n    actions: [info]\n  - name: b\n    actions: [info]\n",
        5,
        &["job 2: `b` has no targets"],
    );
    assert_err(
        "jobs:\n  - files: [1]\n    actions: []\n",
        2,
        &["job 1: the job has no actions"],
    );
    assert_err(
        "jobs:\n  - name: a\n    files: [1]\n    actions: [info]\n  - name: a\n    files: [2]\n    actions: [info]\n",
        5,
        &["unique"],
    );
    assert_err("jobs: [\n", 2, &["did not find expected node content"]);
    assert_err(
        "jobs: [{files: [1], actions: [info]}]\n---\njobs: []\n",
        2,
        &["more than one YAML document"],
    );
}

#[test]
fn hostile_inputs_fail_fast() {
    let t = std::time::Instant::now();
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        let refs = vec![format!("*{prev}"); 9].join(",");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    bomb.push_str("jobs:\n  - files: *i\n    actions: [info]\n");
    let e = err(&bomb);
    assert!(
        e.message.contains("unknown key `a`") || e.message.contains("alias"),
        "{e}"
    );
    let bomb2 = bomb.replace("a: &a", "x: &a");
    let bomb2 = format!(
        "jobs:\n  - files: [1]\n    actions: [info]\nname: n\n{}",
        &bomb2
    );
    let _ = try_load(&bomb2).expect_err("must fail");
    let e = err(&"[".repeat(100_000));
    assert!(e.message.contains("nested more than 64"), "{e}");
    let e = err(&"{a: ".repeat(100_000));
    assert!(e.message.contains("nested more than 64"), "{e}");
    // Deep block nesting: serde rejects the type at the first level, libyaml is linear.
    let e = err(&format!("jobs:\n{}", "- ".repeat(100_000)));
    assert!(e.message.contains("expected a job"), "{e}");
    let e = err("jobs:\n  - files: [1]\n\0");
    assert!(e.message.contains("NUL byte at line 3"), "{e}");
    let e = try_load("jobs:\n  - files: [\u{1}]\n").unwrap_err();
    assert!(e.line.is_some(), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.yaml");
    std::fs::write(&p, b"jobs:\n  - name: \xff\n").unwrap();
    let e = load(&p, &LoadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("invalid UTF-8 at line 2"), "{e}");
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn alias_bomb_in_a_job_hits_the_repetition_limit() {
    let mut y = String::from(
        "jobs:\n  - name: n\n    actions: [info]\n    files: &a [1,1,1,1,1,1,1,1,1,1]\n",
    );
    let mut prev = "a".to_string();
    for i in 0..9 {
        let name = format!("b{i}");
        let refs = vec![format!("*{prev}"); 10].join(",");
        y.push_str(&format!(
            "  - name: {name}\n    actions: [info]\n    folders: &{name} [{refs}]\n"
        ));
        prev = name;
    }
    let t = std::time::Instant::now();
    let e = err(&y);
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        e.message.contains("alias") || e.message.contains("invalid type"),
        "{e}"
    );
}

#[test]
fn refuses_huge_files_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.yaml");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(100 * 1024 * 1024).unwrap();
    let e = load(&p, &LoadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("use CSV"), "{e}");
}

/// Every single-byte corruption of a valid file loads or fails cleanly: no panic, no hang.
#[test]
fn corrupted_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("fuzz.yaml");
    let base = EXAMPLE.as_bytes();
    for i in 0..base.len() {
        // Two of the four corruptions per position keep the debug-mode test quick.
        for b in [b':', b'[', b'*', b'\t'].into_iter().skip(i % 2).step_by(2) {
            let mut body = base.to_vec();
            body[i] = b;
            std::fs::write(&p, &body).unwrap();
            let _ = load(&p, &LoadOptions::default());
        }
    }
    for odd in [
        "jobs:\n  - 1: x\n",
        "jobs:\n  - ? [a]\n    : b\n",
        "jobs:\n  - files: !!binary aGVsbG8=\n    actions: [info]\n",
        "jobs:\n  - files: !custom [1]\n    actions: [info]\n",
        "jobs:\n  - files: [1]\n    actions: [info]\n    <<: {name: x}\n",
        "jobs: !!str x\n",
        "&a jobs: *a\n",
        "jobs: &a [*a]\n",
        "%YAML 1.2\n---\njobs: [{files: [1], actions: [info]}]\n",
        "jobs:\n  - {files: [1], actions: [info], name: 'a\\u0000b'}\n",
        "jobs:\n  - {files: [\"box-1-\\u0007\"], actions: [info]}\n",
        "jobs:\n  - {files: [1e400], actions: [info]}\n",
        "jobs:\n  - {files: [.nan, .inf], actions: [info]}\n",
        "jobs:\n  - {files: [0x10, 0o7, 0b1], actions: [info]}\n",
    ] {
        std::fs::write(&p, odd).unwrap();
        let _ = load(&p, &LoadOptions::default());
    }
}

/// Memory/time at the size limit: run with
/// `cargo test --release --lib -- --ignored yaml_at_the_size_limit`.
#[test]
#[ignore = "a release-mode benchmark"]
fn yaml_at_the_size_limit() {
    let mut body = String::from("jobs:\n  - actions: [info]\n    files: [");
    while body.len() < MAX_YAML_FILE_BYTES as usize - 100 {
        body.push_str("1,");
    }
    body.push_str("1]\n");
    let t = std::time::Instant::now();
    let jf = try_load(&body).unwrap();
    eprintln!("{} MiB YAML in {:?}", body.len() >> 20, t.elapsed());
    assert_eq!(jf.entries.len(), 1);
}

#[test]
fn every_bad_id_action_key_and_job_is_reported_in_one_pass() {
    let body = "\
jobs:
  - files: [101, abc, 102, 1.01e2]
    actions: [lcok, info]
  - files: [5]
    actions: [infoo]
    acton: [lock]
  - name: empty
    files: [7]
  - name: empty
    files: []
    actions: [info]
    on_failure: maybe
";
    let e = load_all(body).unwrap_err();
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let want = [
        "q4.yaml:2:18: job 1, `files` item 2: invalid file ID: `abc`",
        "q4.yaml:2:28: job 1, `files` item 4: invalid file ID: `1.01e2` is not written as digits",
        "q4.yaml:3:15: job 1, `actions` item 1: unknown action `lcok`",
        "q4.yaml:5:15: job 2, `actions` item 1: unknown action `infoo`",
        "q4.yaml:6:5: unknown key `acton` in job 2; did you mean `actions`?",
        "q4.yaml:7: job 3: `empty` has no actions",
        "q4.yaml:9: job 4: `empty` has no targets",
        "q4.yaml:9: job 4 is named `empty` like an earlier job",
        "q4.yaml:12:17: job 4, `on_failure`: unknown on_failure `maybe`",
    ];
    assert_eq!(lines.len(), want.len(), "{text}");
    for (l, w) in lines.iter().zip(want) {
        let l = l.rsplit_once('/').map_or(*l, |(_, name)| name);
        assert!(l.starts_with(w), "{l:?} does not start with {w:?}\n{text}");
    }
    // A syntax error still stops at once: nothing after it can be trusted.
    let e = load_all("jobs:\n  - files: [abc\n    actions: [info]\n").unwrap_err();
    assert_eq!(e.len(), 1, "{e}");
}

#[test]
fn ids_are_echoed_as_typed() {
    for (typed, why) in [
        ("1.01e2", "is not written as digits"),
        ("1e3", "is not written as digits"),
        ("0x65", "is not written as digits"),
        ("1.5", "is not written as digits"),
        ("-5", "is negative"),
        ("+5", "is not written as digits"),
        ("\"10\u{a0}3\"", "a non-breaking space"),
    ] {
        let e = err(&format!(
            "jobs:\n  - files: [{typed}]\n    actions: [info]\n"
        ));
        let shown = typed.trim_matches('"').replace('\u{a0}', "<U+00A0>");
        let text = e.to_string();
        assert!(text.contains(&format!("`{shown}`")), "{typed}: {text}");
        assert!(text.contains(why), "{typed}: {text}");
    }
    let jf = try_load("jobs:\n  - files: [0101, '0102']\n    actions: [info]\n").unwrap();
    assert_eq!(targets(&jf), ["job-1:101", "job-1:102"]);
}
