//! A job read from stdin (`-` as the job file): the bytes, the format (`--format`, or sniffed
//! from the content) and the name errors use, `<stdin>`.
//!
//! Sniffing rule (also in the `--format` help): skip a UTF-8 byte-order mark, blank lines and
//! lines starting with `#` (a comment in both formats); the job is YAML when the first other
//! line starts with `---`, `%` or `{`, or is a mapping key (`jobs:`, `name: x`: a word of
//! letters, digits, `_` or `-`, possibly quoted, then `:` and a space or the line's end);
//! anything else is CSV. A CSV header or row never looks like that: its cells are separated
//! by `,`, `;` or tabs, and an ID holds no `: `.
//!
//! A CSV job on stdin is read like a `.txt` file: a plain list of IDs needs no header
//! (`seq 101 110 | docspace-batch run - --action info`). `files_from:` paths of a YAML job on
//! stdin are relative to the current directory.

use std::io::{IsTerminal, Read};
use std::path::Path;

use super::{csv, yaml, JobError, JobErrors, JobFile, LoadOptions, MAX_JOB_FILE_BYTES};

/// The name a job from stdin goes by in messages and in the run's record.
pub const STDIN_NAME: &str = "<stdin>";

/// The two job formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A YAML job file.
    Yaml,
    /// A CSV (or plain list of IDs).
    Csv,
}

/// Whether a job-file argument means stdin.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads stdin to the end: refused when it is a terminal (nobody would know the program is
/// waiting for a job to be typed) and above [`MAX_JOB_FILE_BYTES`].
pub fn read_stdin() -> Result<Vec<u8>, JobError> {
    let name = Path::new(STDIN_NAME);
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(JobError::new(
            name,
            None,
            None,
            "`-` reads the job from stdin, but stdin is a terminal: pipe the job in, e.g. \
             `docspace-batch run - < job.yaml` or `cut -d, -f1 ids.csv | docspace-batch run - --action info`",
        ));
    }
    let mut buf = Vec::new();
    stdin
        .lock()
        .take(MAX_JOB_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| JobError::new(name, None, None, format!("cannot read stdin: {e}")))?;
    if buf.len() as u64 > MAX_JOB_FILE_BYTES {
        return Err(JobError::new(
            name,
            None,
            None,
            format!(
                "more than {} MiB on stdin; split the job into several job files",
                MAX_JOB_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    Ok(buf)
}

/// The first line that is neither blank nor a `#` comment, trimmed: what both formats are
/// told apart by.
fn first_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
}

/// The format of a job whose name does not say it (see the module docs for the rule).
pub fn sniff(bytes: &[u8]) -> Format {
    let text = String::from_utf8_lossy(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes));
    let Some(first) = first_line(&text) else {
        return Format::Csv;
    };
    // The flow-mapping brace as an escape: the size check counts braces, also in literals.
    if first.starts_with("---") || first.starts_with('%') || first.starts_with('\u{7b}') {
        return Format::Yaml;
    }
    let Some((key, rest)) = first.split_once(':') else {
        return Format::Csv;
    };
    // `jobs :` and `"jobs":` are YAML keys too.
    let key = key.trim().trim_matches(['"', '\'']);
    let is_word = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if is_word && (rest.is_empty() || rest.starts_with([' ', '\t'])) {
        Format::Yaml
    } else {
        Format::Csv
    }
}

/// When a job read as `read_as` failed and its text looks like the other format (`jobs:`
/// piped with `--format csv`, a CSV saved as `.yaml`): a first error saying so, with the fix.
/// `head` is the start of the text; `stdin` says whether the fix is `--format` or a rename.
pub(crate) fn mismatch(name: &Path, read_as: Format, head: &[u8], stdin: bool) -> Option<JobError> {
    let looks = sniff(head);
    if looks == read_as {
        return None;
    }
    let msg = match (looks, stdin) {
        (Format::Yaml, true) => "this looks like a YAML job (its first line is a key such as `jobs:`); pass --format yaml",
        (Format::Yaml, false) => "this looks like a YAML job (its first line is a key such as `jobs:`); name the file .yaml",
        (Format::Csv, _) if !looks_tabular(head) => return None,
        (Format::Csv, true) => "this looks like a CSV job (a header such as `file_id,action`, or a list of IDs); pass --format csv",
        (Format::Csv, false) => "this looks like a CSV job (a header such as `file_id,action`, or a list of IDs); name the file .csv (or .txt for a list of IDs)",
    };
    Some(JobError::new(name, None, None, msg))
}

/// A first line with a comma, a semicolon or a tab, or an ID: a YAML reader's error on such
/// text is about a CSV, not a broken YAML document.
fn looks_tabular(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let Some(first) = first_line(&text) else {
        return false;
    };
    first.contains([',', ';', '\t']) || first.bytes().all(|b| b.is_ascii_digit())
}

/// Loads a job from the bytes read from stdin, as `format` or as sniffed.
pub fn load_stdin(
    bytes: Vec<u8>,
    format: Option<Format>,
    opts: &LoadOptions,
) -> Result<JobFile, JobErrors> {
    let name = Path::new(STDIN_NAME);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(JobError::new(
            name,
            None,
            None,
            "nothing on stdin: pipe a job in, e.g. `docspace-batch run - < job.yaml`",
        )
        .into());
    }
    let read_as = format.unwrap_or_else(|| sniff(&bytes));
    let head = bytes[..bytes.len().min(4096)].to_vec();
    let loaded = match read_as {
        Format::Yaml => yaml::parse(name, &bytes, Path::new("")),
        Format::Csv => {
            let dialect = csv::Dialect {
                tab: false,
                id_lists: true,
                files_from: false,
            };
            csv::parse(name, dialect, bytes, opts)
        }
    };
    loaded.map_err(|e| match mismatch(name, read_as, &head, true) {
        Some(hint) => e.lead(hint),
        None => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_yaml_by_its_first_key_and_everything_else_as_csv() {
        for yaml in [
            "jobs:\n  - files: [1]\n",
            "# c\n\nname: x\njobs: []\n",
            "---\njobs: []\n",
            "\u{feff}settings:\n",
            "\"jobs\": []\n",
            "{jobs: []}\n",
        ] {
            assert_eq!(sniff(yaml.as_bytes()), Format::Yaml, "{yaml:?}");
        }
        for csv in [
            "file_id,action\n101,lock\n",
            "101\n102\n",
            "101, 102, 103\n",
            "# ids\nid\n5\n",
            "box-12-|123\n",
            "file id;action\n",
            "",
            "dropbox-337-a:b\n",
        ] {
            assert_eq!(sniff(csv.as_bytes()), Format::Csv, "{csv:?}");
        }
    }

    #[test]
    fn a_job_from_stdin_is_named_stdin_and_reads_plain_id_lists() {
        let opts = LoadOptions {
            default_action: Some(crate::job::Action::Info),
        };
        let jf = load_stdin(b"101 102\n103\n".to_vec(), None, &opts).unwrap();
        assert_eq!(jf.entries.len(), 3);
        assert_eq!(jf.name, "stdin");
        assert_eq!(jf.path, Path::new(STDIN_NAME));
        let e = load_stdin(
            b"jobs:\n  - files: [1, x]\n    actions: [info]\n".to_vec(),
            None,
            &opts,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("<stdin>:2:"), "{e}");
        // Read as CSV as asked, with a first remark that it looks like YAML.
        let e = load_stdin(b"jobs: []\n".to_vec(), Some(Format::Csv), &opts).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("<stdin>: this looks like a YAML job"),
            "{e}"
        );
        assert!(e.to_string().contains("\n<stdin>:1:"), "{e}");
        let e = load_stdin(b" \n".to_vec(), None, &opts).unwrap_err();
        assert!(e.to_string().contains("nothing on stdin"), "{e}");
    }
}
