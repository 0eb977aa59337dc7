//! The JSON Schema of YAML job files, committed as `job.schema.json` at the repository root so
//! editors (VS Code's YAML extension, anything on yaml-language-server) complete and check job
//! files through a first line `# yaml-language-server: $schema=…/job.schema.json`.
//!
//! It is generated from the code the loader runs: the settings from the `settings!` entries
//! (doc text, default, and a value shape next to each parse rule), the job fields from the
//! shapes in `shape`, each written against the rule that parses the field. A test in
//! `tests/it/schema.rs` keeps the committed file equal to [`schema()`] and checks the schema
//! against the loader on the example workflows, the hostile files and probe values.
//!
//! Why not `#[derive(JsonSchema)]`: every field of the YAML types goes through a custom
//! deserializer (scalars read as trimmed text, case-insensitive names, `-` spellings, lists
//! that refuse a bare scalar), so a derive would need a hand-written `schema_with` on every
//! field, and `PartialSettings` has no per-field types to derive from at all. schemars is used
//! for its [`schemars::Schema`] type and `json_schema!`.
//!
//! Draft-07 because it is what editors' JSON language services support fully; the schema
//! needs nothing newer.

pub(crate) mod shape;

use std::path::PathBuf;
use std::time::Duration;

use schemars::{json_schema, Schema};
use serde_json::{json, Map, Value};

use crate::config::{LogFormat, PartialSettings, ProgressMode};
use crate::job::Action;
use crate::units::Rate;

/// The JSON Schema of a YAML job file, as committed in `job.schema.json`.
pub fn schema() -> Schema {
    json_schema!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "docspace-batch job file",
        "description": "A YAML job file for `docspace-batch run`/`validate`: an optional run name, \
            settings (a command-line flag wins over the same key here) and the jobs. \
            Generated from the loader's rules; `docspace-batch validate FILE` has the last word.",
        "type": "object",
        "additionalProperties": false,
        "required": ["jobs"],
        "properties": {
            "name": described(shape::run_name(),
                "The run's name, used in report directory names `reports/<name>-<timestamp>`: \
                 letters, digits, `.`, `_`, `-`, not starting with `.`, at most 64 characters. \
                 Default: the file name without extension."),
            "settings": {"$ref": "#/definitions/settings"},
            "jobs": {
                "description": "The jobs, run in the order written. Each names its targets \
                    (`files`, `folders`, `files_from`) and the `actions` to run on every file.",
                "type": "array",
                "minItems": 1,
                "items": {"$ref": "#/definitions/job"},
            },
        },
        "definitions": {
            "settings": settings(),
            "job": job(),
        },
    })
}

/// [`schema()`] as committed: pretty JSON and a final newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).expect("a schema is JSON");
    text.push('\n');
    text
}

/// `shape` with a description (shown by editors on hover).
fn described(mut shape: Value, description: &str) -> Value {
    shape["description"] = json!(description);
    shape
}

/// The `settings:` block: one property per `settings!` entry.
fn settings() -> Value {
    let (mut props, mut spelled, mut once) = (Map::new(), Map::new(), Vec::new());
    for SettingSchema {
        key,
        doc,
        default,
        value,
    } in PartialSettings::schema_entries()
    {
        let text: Vec<&str> = doc.iter().map(|l| l.trim()).collect();
        let flag = key.replace('_', "-");
        let about = format!(
            "{}\n\nCommand line: `--{flag}`, which wins over this key.",
            text.join(" ")
        );
        let mut value = described(value, &about);
        if let Some(d) = default {
            value["default"] = d;
        }
        props.insert(key.to_string(), value);
        if key.contains('_') {
            let target = format!("#/definitions/settings/properties/{key}");
            spelled.insert(
                format!("^{}$", key.replace('_', "[-_]")),
                json!({"$ref": target}),
            );
            once.extend(at_most_one(&spellings(key)));
        }
    }
    json!({
        "description": "Execution settings. Keys may be spelled with `_` or `-` (`max_duration`, \
            `max-duration`); a command-line flag wins over the same key here, and two job files \
            run together must not set a key differently.",
        "type": ["object", "null"],
        "additionalProperties": false,
        "properties": props,
        "patternProperties": spelled,
        "allOf": once,
    })
}

/// Every spelling of `key` the loader reads: each `_` may also be `-`.
fn spellings(key: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for c in key.chars() {
        let next = if c == '_' { vec!['_', '-'] } else { vec![c] };
        out = out
            .iter()
            .flat_map(|s| next.iter().map(move |n| format!("{s}{n}")))
            .collect();
    }
    out
}

/// "Not two of `keys`": the loader refuses a key given twice in two spellings.
fn at_most_one(keys: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            // `type` too: `required` holds for anything that is not an object (`settings:`
            // may be null), and `not` would then refuse it.
            out.push(json!({"not": {"type": "object", "required": [a, b]}}));
        }
    }
    out
}

/// One item of `jobs:`.
fn job() -> Value {
    let actions = shape::words(&Action::ALL.map(Action::as_str), false);
    let non_empty = |key: &str| json!({"required": [key], "properties": {key: {"minItems": 1}}});
    let mut once = at_most_one(&["files_from".into(), "files-from".into()]);
    once.extend(at_most_one(&["on_failure".into(), "on-failure".into()]));
    once.push(json!({"anyOf": [
        non_empty("files"),
        non_empty("folders"),
        {"required": ["files_from"]},
        {"required": ["files-from"]},
    ]}));
    let mut on_failure = described(
        shape::words(&["skip_rest", "continue"], true),
        "After an action fails on a file: `skip_rest` (the default) marks that file's later \
         actions in this job `skipped`; `continue` runs them anyway.",
    );
    on_failure["default"] = json!("skip_rest");
    json!({
        "description": "One job: targets (at least one of a non-empty `files` or `folders`, or \
            `files_from`) and `actions`, run in order on every file.",
        "type": "object",
        "additionalProperties": false,
        "required": ["actions"],
        "properties": {
            "name": described(shape::job_name(),
                "The job's name in reports (at most 100 characters, unique in the file). \
                 Default: `job-N`."),
            "files": described(shape::list(shape::id(), 0),
                "File IDs: whole numbers like `101`, or connected-storage IDs like \
                 `\"dropbox-337-L9Cd0L7QstGL0Lkg\"` or `\"box-12-|123\"`."),
            "folders": described(shape::list(shape::id(), 0),
                "Folder or room IDs: every file below them, subfolders included."),
            "files_from": described(shape::files_from(),
                "A list of file IDs, relative to this job file: a .csv or .tsv with a `file_id` \
                 column, or a .txt with one ID per line. Also spelled `files-from`."),
            "actions": described(shape::list(actions, 1),
                "What to do with each file, in this order: `lock`, `unlock`, `protectusers` \
                 (who may edit), `info` (state and lock holder), `shares` (users, groups and \
                 links it is shared with)."),
            "on_failure": on_failure,
        },
        "patternProperties": {
            "^files-from$": {"$ref": "#/definitions/job/properties/files_from"},
            "^on-failure$": {"$ref": "#/definitions/job/properties/on_failure"},
        },
        "allOf": once,
    })
}

/// One setting as the JSON Schema describes it (from `PartialSettings::schema_entries`).
pub(crate) struct SettingSchema {
    /// The YAML key, `_` spelling.
    pub key: &'static str,
    /// The doc comment lines (also the `--help` text).
    pub doc: &'static [&'static str],
    /// The default, as a YAML value would say it.
    pub default: Option<serde_json::Value>,
    /// What the setting's rule accepts.
    pub value: serde_json::Value,
}

/// A setting's default as a YAML value would say it, for the schema's `default`.
pub(crate) trait AsYaml {
    /// The value as JSON.
    fn as_yaml(&self) -> Value;
}

impl AsYaml for usize {
    fn as_yaml(&self) -> Value {
        json!(self)
    }
}

impl AsYaml for u32 {
    fn as_yaml(&self) -> Value {
        json!(self)
    }
}

impl AsYaml for bool {
    fn as_yaml(&self) -> Value {
        json!(self)
    }
}

impl AsYaml for PathBuf {
    fn as_yaml(&self) -> Value {
        json!(self.display().to_string())
    }
}

impl AsYaml for Rate {
    fn as_yaml(&self) -> Value {
        json!(self.to_string())
    }
}

impl AsYaml for Duration {
    fn as_yaml(&self) -> Value {
        if self.subsec_nanos() == 0 {
            json!(format!("{}s", self.as_secs()))
        } else {
            json!(format!("{}ms", self.as_millis()))
        }
    }
}

impl AsYaml for ProgressMode {
    fn as_yaml(&self) -> Value {
        json!(match self {
            ProgressMode::Auto => "auto",
            ProgressMode::Always => "always",
            ProgressMode::Never => "never",
        })
    }
}

impl AsYaml for LogFormat {
    fn as_yaml(&self) -> Value {
        json!(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}
