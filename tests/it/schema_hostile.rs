//! The hostile YAML files (tests/hostile/, table in its README) against job.schema.json: each
//! is either refused by the schema too, or listed in [`NOT_SCHEMA_EXPRESSIBLE`] with the reason
//! a schema cannot refuse it. Every hostile `.yaml` must be in exactly one of the two sets, so
//! a new hostile file forces that decision here.

use super::hostile_table::{hostile_dir, hostile_table};
use super::schema::{to_json, validator};

/// Hostile YAML files whose reason for refusal lies outside what a JSON Schema sees (a JSON
/// value), with that reason.
const NOT_SCHEMA_EXPRESSIBLE: &[(&str, &str)] = &[
    (
        "alias-bomb.yaml",
        "alias amplification is capped while parsing; expanded, it is valid",
    ),
    (
        "alias-bomb-nested.yaml",
        "refused by the alias-repetition limit before any value exists",
    ),
    (
        "bad-yaml.yaml",
        "a YAML syntax error: there is no value to validate",
    ),
    (
        "deep-mapping.yaml",
        "nesting depth is refused on the text, before parsing",
    ),
    (
        "deep-nesting.yaml",
        "nesting depth is refused on the text, before parsing",
    ),
    (
        "duplicate-job-name.yaml",
        "uniqueness of a property across array items is not expressible",
    ),
    (
        "exponent-id.yaml",
        "YAML reads 1.01e2 as the number 101; JSON keeps no written form",
    ),
    (
        "files-from-missing.yaml",
        "the `files_from` list is another file; its content is unseen",
    ),
    (
        "invalid-utf8.yaml",
        "an encoding error: there is no text to parse",
    ),
    (
        "nul-bytes.yaml",
        "a NUL byte is refused on the text, before parsing",
    ),
    (
        "two-documents.yaml",
        "a YAML stream of two documents is not one JSON value",
    ),
    (
        "unknown-alias.yaml",
        "an alias without an anchor is a YAML error: no value to validate",
    ),
];

#[test]
fn every_hostile_yaml_is_refused_by_the_schema_or_listed_as_beyond_it() {
    let v = validator();
    let yaml: Vec<String> = hostile_table()
        .into_iter()
        .map(|(file, _)| file)
        .filter(|f| f.ends_with(".yaml") || f.ends_with(".yml"))
        .collect();
    let mut wrong = Vec::new();
    for (file, _) in NOT_SCHEMA_EXPRESSIBLE {
        if !yaml.contains(&file.to_string()) {
            wrong.push(format!(
                "{file}: listed as beyond the schema but not a hostile file"
            ));
            continue;
        }
        // Skipped unread when large: the alias bomb would expand to millions of items.
        let text = std::fs::read(hostile_dir().join(file)).unwrap();
        let json = (text.len() < 64 * 1024)
            .then(|| to_json(&String::from_utf8_lossy(&text)).ok())
            .flatten();
        if json.is_some_and(|j| !v.is_valid(&j)) {
            wrong.push(format!(
                "{file}: the schema refuses it after all; unlist it"
            ));
        }
    }
    let mut refused = 0;
    for file in &yaml {
        if NOT_SCHEMA_EXPRESSIBLE.iter().any(|(f, _)| f == file) {
            continue;
        }
        let text = std::fs::read_to_string(hostile_dir().join(file)).unwrap();
        match to_json(&text) {
            Ok(json) if !v.is_valid(&json) => refused += 1,
            Err(e) => wrong.push(format!(
                "{file}: not a JSON value ({e}); list it in NOT_SCHEMA_EXPRESSIBLE with why"
            )),
            Ok(_) => wrong.push(format!(
                "{file}: the loader refuses it but the schema accepts it; tighten the schema \
                 (src/job/schema/) or list it in NOT_SCHEMA_EXPRESSIBLE with why"
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        refused >= 15,
        "only {refused} hostile files checked against the schema"
    );
}
