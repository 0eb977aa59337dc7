//! The Markdown files of the repository.

use super::*;

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The user and developer documents: README.md, CONTRIBUTING.md and docs/*.md.
pub fn doc_files() -> Vec<PathBuf> {
    let root = repo_root();
    let mut out = vec![root.join("README.md"), root.join("CONTRIBUTING.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    out.extend(docs);
    out
}

/// A fenced code block of a Markdown text.
#[derive(Debug)]
pub struct CodeBlock {
    /// The info string after the opening fence (`console`, `sh`, …), empty when none.
    pub lang: String,
    /// The 1-based line number of the block's first content line.
    pub first_line: usize,
    /// The content lines.
    pub lines: Vec<String>,
}

/// The fenced (```) code blocks of `text`, and the lines outside them with their 1-based
/// numbers. An unclosed fence is a panic: the rest of the file would silently be code.
pub fn markdown_split(text: &str) -> (Vec<CodeBlock>, Vec<(usize, &str)>) {
    let (mut blocks, mut prose) = (Vec::new(), Vec::new());
    let mut open: Option<(usize, CodeBlock)> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let fence = t.starts_with("```");
        match open.take() {
            Some((indent, b))
                if fence && t.trim_end() == "```" && line.len() - t.len() <= indent =>
            {
                blocks.push(b)
            }
            Some((indent, mut b)) => {
                b.lines
                    .push(line.get(indent..).unwrap_or(line.trim_start()).to_string());
                open = Some((indent, b));
            }
            None if fence => {
                let lang = t.trim_start_matches('`').trim().to_string();
                open = Some((
                    line.len() - t.len(),
                    CodeBlock {
                        lang,
                        first_line: i + 2,
                        lines: Vec::new(),
                    },
                ));
            }
            None => prose.push((i + 1, line)),
        }
    }
    if let Some((_, b)) = open {
        panic!(
            "a code fence opened before line {} is never closed",
            b.first_line
        );
    }
    (blocks, prose)
}
