//! Record splitting below the table: the delimiter guess, comment masking, and the csv reader
//! wrapped so each record knows the physical line it starts on.

use std::path::Path;

use crate::job::{count_breaks, JobError};

/// The csv reader plus physical line tracking.
///
/// The csv crate's record positions point at the end of the previous record (before any blank
/// lines it skips), so the real start line of each record is found here: the first byte after
/// the previous record that is not a line break.
pub(super) struct Rows<'a> {
    text: &'a [u8],
    reader: ::csv::Reader<&'a [u8]>,
    pub(super) record: ::csv::ByteRecord,
    /// Byte offset up to which line breaks have been counted, and the line there.
    counted: usize,
    line: usize,
}

impl<'a> Rows<'a> {
    pub(super) fn new(text: &'a [u8], delim: u8) -> Rows<'a> {
        let reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delim)
            .from_reader(text);
        Rows {
            text,
            reader,
            record: ::csv::ByteRecord::new(),
            counted: 0,
            line: 1,
        }
    }

    /// Reads the next record that has a non-blank cell; returns its start line.
    pub(super) fn next_nonblank(&mut self, path: &Path) -> Result<Option<usize>, JobError> {
        loop {
            let from = self.reader.position().byte() as usize;
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| {
                    JobError::new(
                        path,
                        Some(self.line),
                        None,
                        format!("cannot parse CSV: {e}"),
                    )
                })?;
            if !more {
                return Ok(None);
            }
            let line = self.line_of_record_after(from);
            if !is_blank(&self.record) {
                return Ok(Some(line));
            }
        }
    }

    fn line_of_record_after(&mut self, from: usize) -> usize {
        let text = self.text;
        let mut start = from.max(self.counted).min(text.len());
        while start < text.len() && matches!(text[start], b'\r' | b'\n') {
            start += 1;
        }
        // A CR just before `start` whose LF was not yet counted must not count twice: count
        // over the whole span in one go.
        self.line += count_breaks(&text[self.counted..start]);
        self.counted = start;
        self.line
    }
}

/// True for rows of empty or whitespace-only cells (blank lines, `,,,`, masked comments).
fn is_blank(rec: &::csv::ByteRecord) -> bool {
    rec.iter()
        .all(|f| f.iter().all(|b| matches!(b, b' ' | b'\t')))
}

/// Picks `,`, `;` or tab, whichever occurs most in the header line (ties: `,`); `tab` (a
/// `.tsv` file) forces tab.
pub(super) fn detect_delimiter(tab: bool, text: &[u8]) -> u8 {
    if tab {
        return b'\t';
    }
    let header = text
        .split(|&b| b == b'\n' || b == b'\r')
        .find(|l| {
            let t = l.trim_ascii();
            !t.is_empty() && !t.starts_with(b"#")
        })
        .unwrap_or(b"");
    let count = |d: u8| header.iter().filter(|&&b| b == d).count();
    let (comma, semi, tab) = (count(b','), count(b';'), count(b'\t'));
    if semi > comma && semi >= tab {
        b';'
    } else if tab > comma && tab > semi {
        b'\t'
    } else {
        b','
    }
}

/// Overwrites comment lines (first non-blank character `#`, at the start of a record, i.e. not
/// inside a quoted field) with spaces, keeping line breaks and byte offsets intact. The csv
/// crate's own comment support would shift its record positions and treat a quote inside a
/// comment as data.
pub(super) fn mask_comments(text: &mut [u8], delim: u8) {
    let n = text.len();
    let mut i = 0;
    let mut line_start = true;
    let mut in_quotes = false;
    let mut field_start = true;
    while i < n {
        if line_start && !in_quotes {
            line_start = false;
            let first = text[i..]
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t'))
                .map(|p| i + p);
            if first.is_some_and(|p| text[p] == b'#') {
                while i < n && !matches!(text[i], b'\r' | b'\n') {
                    text[i] = b' ';
                    i += 1;
                }
                continue;
            }
        }
        let b = text[i];
        if in_quotes {
            if b == b'"' {
                if text.get(i + 1) == Some(&b'"') {
                    i += 1; // an escaped quote
                } else {
                    in_quotes = false;
                }
            }
        } else if b == b'\n' || b == b'\r' {
            line_start = true;
            field_start = true;
            i += 1;
            continue;
        } else if b == delim {
            field_start = true;
            i += 1;
            continue;
        } else if b == b'"' && field_start {
            in_quotes = true;
        }
        field_start = false;
        i += 1;
    }
}
