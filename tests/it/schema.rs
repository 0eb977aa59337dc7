//! docs/job-file.schema.json against the loader: every setting the loader knows is in the
//! schema, and every key the example workflows use is one the schema allows.

use std::path::{Path, PathBuf};

use docspace_batch::config::PartialSettings;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema() -> Value {
    let text = std::fs::read_to_string(root().join("docs/job-file.schema.json")).unwrap();
    serde_json::from_str(&text).expect("the schema is JSON")
}

/// The property names a schema object allows.
fn keys(obj: &Value) -> Vec<String> {
    obj["properties"]
        .as_object()
        .expect("an object with properties")
        .keys()
        .cloned()
        .collect()
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

fn mapping_keys(v: &serde_yaml::Value, file: &Path) -> Vec<String> {
    v.as_mapping()
        .unwrap_or_else(|| panic!("{}: not a mapping", file.display()))
        .keys()
        .map(|k| k.as_str().expect("string keys").to_string())
        .collect()
}

#[test]
fn the_schema_lists_every_setting_and_nothing_else() {
    let s = schema();
    let settings = &s["$defs"]["settings"];
    assert_eq!(settings["additionalProperties"], Value::Bool(false));
    let mut in_schema: Vec<String> = keys(settings)
        .into_iter()
        .filter(|k| !k.contains('-'))
        .collect();
    in_schema.sort();
    let mut known: Vec<String> = PartialSettings::KEYS
        .iter()
        .map(|k| k.to_string())
        .collect();
    known.sort();
    assert_eq!(in_schema, known);
    // Each `-` spelling the loader accepts points at its `_` twin.
    for k in keys(settings).iter().filter(|k| k.contains('-')) {
        assert!(
            PartialSettings::KEYS.contains(&k.replace('-', "_").as_str()),
            "{k}"
        );
    }
    let mut top = keys(&s);
    top.sort();
    assert_eq!(top, ["jobs", "name", "settings"]);
    let job = keys(&s["$defs"]["job"]);
    for k in [
        "name",
        "files",
        "folders",
        "files_from",
        "actions",
        "on_failure",
    ] {
        assert!(job.contains(&k.to_string()), "{k}");
    }
}

#[test]
fn every_key_of_the_example_workflows_is_in_the_schema() {
    let s = schema();
    let (top, settings, job) = (
        keys(&s),
        keys(&s["$defs"]["settings"]),
        keys(&s["$defs"]["job"]),
    );
    for (path, text) in workflows() {
        assert!(
            text.starts_with("# yaml-language-server: $schema=../docs/job-file.schema.json\n"),
            "{}: editors find the schema through the first line",
            path.display()
        );
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        for k in mapping_keys(&doc, &path) {
            assert!(top.contains(&k), "{}: top-level `{k}`", path.display());
        }
        if let Some(st) = doc.get("settings") {
            for k in mapping_keys(st, &path) {
                assert!(settings.contains(&k), "{}: setting `{k}`", path.display());
            }
        }
        for j in doc["jobs"].as_sequence().expect("jobs is a list") {
            for k in mapping_keys(j, &path) {
                assert!(job.contains(&k), "{}: job key `{k}`", path.display());
            }
        }
    }
}
