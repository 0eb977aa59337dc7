//! Value by value, job.schema.json says yes exactly where the loader does: every setting and
//! every job field is tried with the same probe values (numbers, quoted numbers, names in odd
//! case, edge durations, IDs…) through the real loader and through the schema. The few values
//! where a schema cannot follow the loader are listed in [`GAPS`] with the reason; a gap that
//! closes fails the test, so the list stays true.

use docspace_batch::config::PartialSettings;

use super::schema::{loader_says, schema_says, validator};

/// Scalars as written in YAML, tried on every setting.
const SETTING_PROBES: &[&str] = &[
    "0",
    "1",
    "8",
    "100",
    "101",
    "1000",
    "1001",
    "10000",
    "10001",
    "4294967295",
    "4294967296",
    "-1",
    "1.5",
    "8.0",
    "1e3",
    "'8'",
    "' +08 '",
    "'+'",
    "''",
    "'  '",
    "abc",
    "true",
    "True",
    "'FALSE'",
    "'yes'",
    "~",
    "20/s",
    "'20 / MIN'",
    "0/s",
    "0.0/s",
    "1500/min",
    "2.5/h",
    ".5/s",
    "1./s",
    "+5/s",
    "-1/s",
    "1e3/s",
    "unlimited",
    "OFF",
    "none",
    "20/day",
    "20",
    "30s",
    "0s",
    "500ms",
    "1m30s",
    "1M30S",
    "2h",
    "1d",
    "'0.0'",
    "'1.'",
    "1.5.5s",
    "'1m 30s'",
    "'-0'",
    "'-5'",
    "'+5s'",
    "s",
    "0ms0s",
    "0s1ms",
    "2/4",
    "3/2",
    "'0/4'",
    "' 1 / 2 '",
    "1/0",
    "'+1/+2'",
    "lock",
    "LOCK",
    "shares",
    "lcok",
    "auto",
    "Never",
    "text",
    "JSON",
    "xml",
    "reports/x",
    "\"a\\tb\"",
    "https://x.example.com",
    "2024",
    "[1]",
    "{a: 1}",
    "\"\\u0085\"",
    "\"x\\u2028y\"",
    "\"\\u00858\\u0085\"",
    "\"\\ufeff8\"",
    "\"lock\\u3000\"",
    "\"\\u20282/4\"",
];

/// `(context, probe)`: what a field is tried with, in [`CONTEXTS`].
const FIELD_PROBES: &[&str] = &[
    "1",
    "0",
    "'0'",
    "'000'",
    "'0101'",
    "2147483647",
    "2147483648",
    "'2147483647'",
    "'02147483647'",
    "'2147483648'",
    "99999999999999999999",
    "-5",
    "'-5'",
    "1.5",
    "5.0",
    "0x10",
    "1.01e2",
    "true",
    "~",
    "''",
    "' 7 '",
    "'\t7\t'",
    "\"7\\n\"",
    "\"\\t7\"",
    "'+5'",
    "'1e3'",
    "dropbox-337-L9Cd0L7QstGL0Lkg",
    "'box-12-|123'",
    "dropbox-337",
    "'dropbox-'",
    "dropbox-x",
    "'-337-a'",
    "'dropbox-337-'",
    "'dropbox-337- '",
    "'box-12-a/../b'",
    "\"box-1-\\u0007\"",
    "\"box-1-\\u2028\"",
    "\"box-1-x\\u0085\"",
    "'box-1-a b'",
    "12/../people",
    "'%2e%2e'",
    "'..'",
    "'Ünï-1-x'",
    "'box-1-Ünï'",
    "x",
    "a.csv",
    "A.CSV",
    "dir/list.txt",
    "'list.csv/'",
    "'list.csv/.'",
    "..csv",
    ".csv",
    "'dir/.csv'",
    "list.json",
    "list",
    "'list.csv '",
    "' '",
    "lock",
    "LOCK",
    "' Unlock '",
    "protectusers",
    "shares",
    "lcok",
    "skip_rest",
    "skip-rest",
    "SKIP_REST",
    "Continue",
    "stop",
    "q4-audit",
    ".hidden",
    "'../etc'",
    "'a b'",
    "\"a\\u0001b\"",
    "\" x\\u00a0\"",
    "2024",
    "-3",
    "0.5",
    "[1]",
    "{a: 1}",
];

/// Where a field probe goes (`{}` is the probe), by name.
const CONTEXTS: &[(&str, &str)] = &[
    (
        "run name",
        "name: {}\njobs: [{files: [1], actions: [info]}]",
    ),
    (
        "job name",
        "jobs: [{name: {}, files: [1], actions: [info]}]",
    ),
    ("file ID", "jobs: [{files: [{}], actions: [info]}]"),
    ("folder ID", "jobs: [{folders: [{}], actions: [info]}]"),
    ("files_from", "jobs: [{files_from: {}, actions: [info]}]"),
    ("action", "jobs: [{files: [1], actions: [{}]}]"),
    (
        "on_failure",
        "jobs: [{files: [1], actions: [info], on_failure: {}}]",
    ),
];

/// `(where, probe, why)`: the loader and the schema disagree, and a schema cannot help it.
const GAPS: &[(&str, &str, &str)] = &[
    (
        "shard",
        "3/2",
        "K <= N compares two numbers in one text; a pattern cannot",
    ),
    (
        "file ID",
        "5.0",
        "YAML's 5.0 is JSON's 5, an integer; the loader refuses a float",
    ),
    (
        "folder ID",
        "5.0",
        "YAML's 5.0 is JSON's 5, an integer; the loader refuses a float",
    ),
    (
        "file ID",
        "0x10",
        "YAML reads 0x10 as the number 16; JSON keeps no written form, the loader refuses all but digits",
    ),
    (
        "file ID",
        "1.01e2",
        "YAML reads 1.01e2 as the number 101; JSON keeps no written form, the loader refuses all but digits",
    ),
    (
        "folder ID",
        "0x10",
        "YAML reads 0x10 as the number 16; JSON keeps no written form, the loader refuses all but digits",
    ),
    (
        "folder ID",
        "1.01e2",
        "YAML reads 1.01e2 as the number 101; JSON keeps no written form, the loader refuses all but digits",
    ),
    // Not the schema's: this test's YAML-to-JSON step (serde_json, no arbitrary precision)
    // cannot hold a 20-digit integer; editors read it as a float, which the schema accepts.
    (
        "run name",
        "99999999999999999999",
        "a 20-digit number does not convert to JSON here",
    ),
    (
        "job name",
        "99999999999999999999",
        "a 20-digit number does not convert to JSON here",
    ),
];

fn is_gap(at: &str, probe: &str) -> bool {
    GAPS.iter().any(|(w, p, _)| *w == at && *p == probe)
}

/// Runs `text` through both; a disagreement is described, an agreement is `None`.
fn compare(
    v: &jsonschema::Validator,
    dir: &std::path::Path,
    at: &str,
    probe: &str,
    text: &str,
) -> Option<String> {
    let (loader, schema) = (loader_says(dir, text), schema_says(v, text));
    let agree = loader.is_ok() == schema.is_ok();
    if agree == is_gap(at, probe) {
        let what = if agree {
            "now agree: remove it from GAPS"
        } else {
            "disagree"
        };
        return Some(format!(
            "{at} = {probe}: {what}; loader {loader:?}, schema {schema:?}"
        ));
    }
    None
}

#[test]
fn every_setting_accepts_what_its_rule_accepts() {
    let (v, dir) = (validator(), tempfile::tempdir().unwrap());
    let mut wrong = Vec::new();
    for key in PartialSettings::KEYS {
        for probe in SETTING_PROBES {
            let text =
                format!("settings:\n  {key}: {probe}\njobs: [{{files: [1], actions: [info]}}]\n");
            wrong.extend(compare(&v, dir.path(), key, probe, &text));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_job_field_accepts_what_its_rule_accepts() {
    let (v, dir) = (validator(), tempfile::tempdir().unwrap());
    let mut wrong = Vec::new();
    for (at, template) in CONTEXTS {
        for probe in FIELD_PROBES {
            let text = template.replace("{}", probe);
            wrong.extend(compare(&v, dir.path(), at, probe, &text));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
