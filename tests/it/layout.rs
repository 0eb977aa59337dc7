//! The code-size rules the project holds itself to, checked on every test run: no file under
//! `src/` over 600 lines, and no function outside test code over 80 lines.
//!
//! How it counts: a file's lines are its `\n`-terminated lines. A function runs from the line
//! with its `fn` keyword to the line where its braces balance again (braces inside string and
//! char literals are counted too, which can only make a function look longer). Test code is
//! left out: files named `tests.rs`, and every item marked `#[cfg(test)]`.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn depth_change(line: &str) -> i64 {
    line.matches('{').count() as i64 - line.matches('}').count() as i64
}

/// Index of the line that ends the item starting at `start` (braces balanced, or a `;` before
/// any brace).
fn item_end(lines: &[&str], start: usize) -> usize {
    let (mut depth, mut opened) = (0i64, false);
    for (j, l) in lines.iter().enumerate().skip(start) {
        depth += depth_change(l);
        opened |= l.contains('{');
        if (!opened && l.trim_end().ends_with(';')) || (opened && depth <= 0) {
            return j;
        }
    }
    lines.len() - 1
}

/// The lines of `text` without `#[cfg(test)]` items.
fn without_tests(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "#[cfg(test)]" {
            i = item_end(&lines, i + 1) + 1;
            continue;
        }
        out.push(lines[i]);
        i += 1;
    }
    out
}

fn is_fn_start(line: &str) -> bool {
    let mut words = line.split_whitespace().peekable();
    while let Some(w) = words.next() {
        match w {
            "pub" | "async" | "const" | "unsafe" | "extern" => continue,
            w if w.starts_with("pub(") => continue,
            "fn" => return words.peek().is_some(),
            _ => return false,
        }
    }
    false
}

#[test]
fn no_long_files_or_functions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 20, "found the sources");
    let mut problems = Vec::new();
    for p in &files {
        let text = std::fs::read_to_string(p).unwrap();
        let name = p.strip_prefix(&root).unwrap().display().to_string();
        let n = text.lines().count();
        if n > MAX_FILE_LINES {
            problems.push(format!("{name}: {n} lines (at most {MAX_FILE_LINES})"));
        }
        if p.file_name().is_some_and(|f| f == "tests.rs") {
            continue;
        }
        let lines = without_tests(&text);
        for (i, l) in lines.iter().enumerate() {
            if is_fn_start(l) {
                let len = item_end(&lines, i) - i + 1;
                if len > MAX_FN_LINES {
                    problems.push(format!(
                        "{name}: `{}` is {len} lines (at most {MAX_FN_LINES})",
                        l.trim()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_counter_counts() {
    let text = "fn a() {\n    x;\n}\n#[cfg(test)]\nmod tests {\n    fn long() {\n    }\n}\npub async fn b(\n    y: u8,\n) -> u8 {\n    y\n}\nfn decl();\n";
    let lines = without_tests(text);
    assert_eq!(lines.len(), 9, "{lines:?}");
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| is_fn_start(lines[i]))
        .collect();
    assert_eq!(starts, [0, 3, 8]);
    assert_eq!(item_end(&lines, 0), 2);
    assert_eq!(item_end(&lines, 3), 7);
    assert_eq!(item_end(&lines, 8), 8);
}
