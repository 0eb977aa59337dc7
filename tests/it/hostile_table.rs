//! The list of hostile job files. The table in `tests/hostile/README.md` is the one place where a
//! file and the message fragment it must produce are written down; this module reads it for both
//! tests that use it: the integration test (`hostile.rs`, through the binary) and the library's
//! unit test (`job::tests::hostile_files_are_rejected`, through `job::load_file`), which
//! includes this file with `#[path]`.

use std::path::{Path, PathBuf};

/// `tests/hostile/` in the source tree.
pub fn hostile_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

/// The `| file | expected substring |` rows of tests/hostile/README.md in the order written,
/// backticks kept (only the outer cell spaces are trimmed).
///
/// Panics unless the table and the directory name the same files, each once: a file added
/// without a row, or a row whose file is missing, fails every test that reads the table.
pub fn hostile_table() -> Vec<(String, String)> {
    let readme = hostile_dir().join("README.md");
    let text = std::fs::read_to_string(&readme)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", readme.display()));
    let table: Vec<(String, String)> = text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| file ") && !l.starts_with("|---"))
        .map(|l| {
            let inner = l.trim().trim_start_matches('|').trim_end_matches('|');
            let (file, frag) = inner
                .split_once('|')
                .unwrap_or_else(|| panic!("a row of two cells: {l}"));
            (file.trim().to_string(), frag.trim().to_string())
        })
        .collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(hostile_dir())
        .expect("tests/hostile")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n != "README.md")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = table.iter().map(|(f, _)| f.clone()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "tests/hostile/ and the table in its README must name the same files, each once"
    );
    table
}
