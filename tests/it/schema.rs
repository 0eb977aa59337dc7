//! job.schema.json against the code and the loader: the committed file is what
//! `docspace_batch::job::schema()` generates, the example workflows point at it and validate,
//! and on whole documents the schema says yes exactly where the loader does (`schema_probe.rs`
//! does the same value by value, `schema_hostile.rs` for the hostile files).
//!
//! Regenerate the committed file with `UPDATE_SCHEMA=1 cargo test --test it schema`.

use std::path::{Path, PathBuf};

use docspace_batch::job::{load_file, LoadOptions};
use serde_json::Value;

/// The committed schema, at the repository root.
const SCHEMA_FILE: &str = "job.schema.json";
/// The first line of every example workflow.
const SCHEMA_LINE: &str = "# yaml-language-server: $schema=../job.schema.json\n";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A validator for the generated schema (the committed one is checked equal to it).
pub fn validator() -> jsonschema::Validator {
    let schema = docspace_batch::job::schema();
    jsonschema::validator_for(schema.as_value()).expect("the schema compiles")
}

/// A YAML document as the JSON value a schema validator sees (what editors do, too).
pub fn to_json(text: &str) -> Result<Value, String> {
    serde_yaml::from_str::<Value>(text).map_err(|e| e.to_string())
}

/// Whether the schema accepts `text`, with the first error when it does not.
pub fn schema_says(v: &jsonschema::Validator, text: &str) -> Result<(), String> {
    let json = to_json(text)?;
    let first = v
        .iter_errors(&json)
        .next()
        .map(|e| format!("{e} at {}", e.instance_path()));
    first.map_or(Ok(()), Err)
}

/// Whether the loader accepts `text` as `dir/job.yaml`. A `files_from` list that cannot be
/// read counts as accepted: its content is the loader's business, not the schema's.
pub fn loader_says(dir: &Path, text: &str) -> Result<(), String> {
    let path = dir.join("job.yaml");
    std::fs::write(&path, text).unwrap();
    match load_file(&path, &LoadOptions::default()) {
        Ok(_) => Ok(()),
        Err(e)
            if e.errors()
                .iter()
                .all(|e| e.message.contains("the `files_from` list of")) =>
        {
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = docspace_batch::job::schema_text();
    let path = root().join(SCHEMA_FILE);
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(generated.lines().count()));
        panic!(
            "{SCHEMA_FILE} differs from job::schema() from line {}: the settings or job rules \
             changed; run UPDATE_SCHEMA=1 cargo test --test it schema and commit the file",
            line + 1
        );
    }
}

fn workflows() -> Vec<(PathBuf, String)> {
    let mut out: Vec<_> = std::fs::read_dir(root().join("workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty());
    out
}

#[test]
fn every_example_workflow_names_the_schema_and_validates() {
    let v = validator();
    for (path, text) in workflows() {
        assert!(
            text.starts_with(SCHEMA_LINE),
            "{}: editors find the schema through the first line {SCHEMA_LINE:?}",
            path.display()
        );
        if let Err(e) = schema_says(&v, &text) {
            panic!("{}: {e}", path.display());
        }
    }
}

/// Whole documents the loader accepts: the schema must too (it is not over-strict).
const ACCEPTED: &[&str] = &[
    // The loader's own happy-path example (src/job/yaml/tests.rs).
    "name: q4-audit\nsettings:\n  concurrency: 8\n  rate: 20/s\n  timeout: 45\n  max-duration: 1h\n  check_state: false\n  shard: 2/4\n  action: LOCK\n  progress: Never\n  log-format: json\njobs:\n  - name: finance\n    files: [101, 102, \"dropbox-337-L9Cd0L7QstGL0Lkg\", '0101']\n    folders: [5001]\n    actions: [info, lock, lock, protectusers, lock]\n    on_failure: continue\n  - files:\n      - 201\n    actions: [Unlock]\n",
    "jobs: [{files: [1], actions: [info]}]",
    "jobs: [{files: ['2147483647', 2147483647, \"box-12-|123\", dropbox-337, ' 7 '], actions: [shares]}]",
    "jobs: [{files: [\"box-12-a/../../people\", 'onedrive-1-Ünïcödé path'], actions: [info]}]",
    "jobs: [{files: [], folders: [5], actions: [info]}]",
    "jobs: [{files-from: list.csv, actions: [info]}]",
    "jobs: [{files_from: dir/LIST.TXT, actions: [info], on-failure: Skip-Rest}]",
    "name: 2024\nsettings:\njobs: [{name: 7, files: [1], actions: [' info ']}]",
    "settings: {state-max_age: 0s, skip-missing-folders: TRUE, retries: '0', burst: ' +010 '}\njobs: [{files: [1], actions: [info]}]",
    "settings: {concurrency: 1000.0, max_failures: 4294967295, timeout: 1.5, rate: 'Unlimited', report_dir: 2024}\njobs: [{files: [1], actions: [info]}]",
    "settings:\n  portal: https://x.example.com\n  concurrency: 8\n  rate: 1500/min\n  burst: 1\n  retries: 4\n  timeout: 500ms\n  report_dir: out\n  max_duration: 1m30s\n  max_failures: 50\n  check_state: true\n  state_max_age: 60s\n  shard: 1/1\n  action: info\n  progress: always\n  quiet: false\n  log_format: text\n  ca_cert: ca.pem\n  allow_http: false\n  skip_missing_folders: false\n  retry_failed: true\n  report_root: reports\n  csv_bom: true\njobs: [{files: [1], actions: [info]}]\n",
];

/// Whole documents the loader refuses for reasons a schema can say: the schema must too.
const REFUSED: &[&str] = &[
    "jobs:",
    "name: x",
    "jobs: [{files: [], actions: [info]}]",
    "jobs: [{files: [], folders: [], actions: [info]}]",
    "jobs: [{files: [1], actions: []}]",
    "jobs: [{files: [1]}]",
    "jobs: [{actions: [info]}]",
    "jobs: [101]",
    "jobs: [{files: [1], files_from: a.csv, files-from: b.csv, actions: [info]}]",
    "jobs: [{files: [1], actions: [info], on_failure: continue, on-failure: continue}]",
    "settings: {report_dir: a, report-dir: b}\njobs: [{files: [1], actions: [info]}]",
    "settings: {state_max_age: 1s, state-max-age: 1s}\njobs: [{files: [1], actions: [info]}]",
    "settings: {Concurrency: 3}\njobs: [{files: [1], actions: [info]}]",
    "settings: {rate: 5/s}\njobs: [{files: [1], actions: [info], rate: 5/s}]",
    "settings: [concurrency]\njobs: [{files: [1], actions: [info]}]",
    "name:\njobs: [{files: [1], actions: [info]}]",
    "jobs: [{name: '', files: [1], actions: [info]}]",
    "jobs: [{files_from: list.yaml, actions: [info]}]",
    "jobs: [{files_from: .csv, actions: [info]}]",
    "jobs: [{files: [1], actions: [[info]]}]",
    "jobs: [{files: [[1]], actions: [info]}]",
    "- jobs",
];

#[test]
fn on_whole_documents_the_schema_agrees_with_the_loader() {
    let (v, dir) = (validator(), tempfile::tempdir().unwrap());
    let mut wrong = Vec::new();
    for text in ACCEPTED {
        if let Err(e) = loader_says(dir.path(), text) {
            wrong.push(format!(
                "the loader refuses an ACCEPTED document ({e}):\n{text}"
            ));
        } else if let Err(e) = schema_says(&v, text) {
            wrong.push(format!("over-strict: the schema refuses ({e}):\n{text}"));
        }
    }
    for text in REFUSED {
        if loader_says(dir.path(), text).is_ok() {
            wrong.push(format!("the loader accepts a REFUSED document:\n{text}"));
        } else if schema_says(&v, text).is_ok() {
            wrong.push(format!("too lax: the schema accepts:\n{text}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}
