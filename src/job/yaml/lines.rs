//! The line of each job, for [`Entry::line`](crate::job::Entry::line): serde_norway does not
//! expose positions of values that parsed fine, so the text is scanned for the `jobs:` key and
//! its `- ` items.

/// Lines of the `jobs:` key and of each job's `- ` item, found by scanning the text (block
/// style only; flow-style lists leave only the key known).
#[derive(Debug, Default)]
pub(super) struct JobLines {
    pub(super) key: Option<usize>,
    pub(super) items: Vec<usize>,
}

impl JobLines {
    pub(super) fn scan(text: &str) -> JobLines {
        let mut out = JobLines::default();
        let mut item_indent: Option<usize> = None;
        for (i, line) in text.lines().enumerate() {
            let body = line.trim_start_matches(' ');
            let indent = line.len() - body.len();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            if out.key.is_none() {
                if indent == 0 && is_jobs_key(body) {
                    out.key = Some(i + 1);
                }
                continue;
            }
            let is_item = body == "-" || body.starts_with("- ");
            match item_indent {
                None if is_item => {
                    item_indent = Some(indent);
                    out.items.push(i + 1);
                }
                Some(ind) if is_item && indent == ind => out.items.push(i + 1),
                Some(ind) if indent > ind => {}
                _ => break,
            }
        }
        out
    }

    /// The line of job `i` (0-based), or the `jobs:` line, or 1.
    pub(super) fn job(&self, i: usize) -> usize {
        self.items.get(i).copied().or(self.key).unwrap_or(1)
    }
}

fn is_jobs_key(body: &str) -> bool {
    let rest = body
        .strip_prefix("jobs")
        .or_else(|| body.strip_prefix("\"jobs\""))
        .or_else(|| body.strip_prefix("'jobs'"));
    rest.is_some_and(|r| r.trim_start().starts_with(':'))
}
