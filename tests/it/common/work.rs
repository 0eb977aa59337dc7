//! The work directory and its report files; hostile files and byte searches.

use super::*;

/// A scratch directory holding job files and reports.
pub struct Work {
    /// The directory.
    pub dir: tempfile::TempDir,
}

impl AsRef<Path> for Work {
    fn as_ref(&self) -> &Path {
        self.dir.path()
    }
}

impl Work {
    pub fn new() -> Work {
        Work {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    /// Writes a file into the directory and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
    /// Writes a `file_id,action` CSV job with one `action` row per ID.
    pub fn csv_job(&self, name: &str, ids: impl IntoIterator<Item = u32>, action: &str) -> PathBuf {
        let mut csv = String::from("file_id,action\n");
        for id in ids {
            csv.push_str(&format!("{id},{action}\n"));
        }
        self.file(name, &csv)
    }
    /// The report directory [`Cli::job`] names.
    pub fn report(&self) -> PathBuf {
        self.dir.path().join("report")
    }
    /// results.csv as text (empty when there is none).
    pub fn results(&self) -> String {
        std::fs::read_to_string(self.report().join("results.csv")).unwrap_or_default()
    }
    /// results.csv, parsed by column name.
    pub fn rows(&self) -> Vec<Row> {
        rows_in(&self.report())
    }
    /// summary.json.
    pub fn summary(&self) -> serde_json::Value {
        summary_in(&self.report())
    }
}

/// summary.json in `dir`.
pub fn summary_in(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// One results.csv row (the columns tests look at), read by header name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Row {
    pub seq: u64,
    #[serde(rename = "file_id")]
    pub file: String,
    pub action: String,
    pub outcome: String,
    #[serde(rename = "http_status")]
    pub status: String,
    pub attempts: u32,
    #[serde(rename = "error_kind")]
    pub kind: String,
    pub error: String,
    pub was_locked: String,
    pub locked: String,
    pub locked_by: String,
    pub title: String,
    pub users: String,
    pub state_from: String,
}

/// results.csv in `dir` (no rows when there is none).
pub fn rows_in(dir: &Path) -> Vec<Row> {
    let Ok(mut rd) = csv::Reader::from_path(dir.join("results.csv")) else {
        return Vec::new();
    };
    rd.deserialize()
        .map(|r| r.expect("a results.csv row"))
        .collect()
}

/// A report CSV (results.csv, access.csv, …) as text cells addressed by column name.
#[derive(Debug, Clone)]
pub struct Table {
    /// Column names, in file order.
    pub headers: Vec<String>,
    rows: Vec<csv::StringRecord>,
    index: HashMap<String, usize>,
}

/// One row of a [`Table`]; `row["outcome"]` is the cell in column `outcome`.
#[derive(Clone, Copy)]
pub struct TableRow<'a> {
    table: &'a Table,
    record: &'a csv::StringRecord,
}

impl Table {
    /// Reads the CSV file at `path` (which must exist and parse).
    pub fn read(path: &Path) -> Table {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Table::parse(&text)
    }

    /// Parses CSV text with a header line. Every row must have as many cells as the header.
    pub fn parse(text: &str) -> Table {
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let headers: Vec<String> = rd
            .headers()
            .expect("a header line")
            .iter()
            .map(str::to_string)
            .collect();
        let rows = rd
            .records()
            .map(|r| r.expect("a whole row"))
            .collect::<Vec<_>>();
        let index = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.clone(), i))
            .collect();
        Table {
            headers,
            rows,
            index,
        }
    }

    /// The data rows.
    pub fn rows(&self) -> impl Iterator<Item = TableRow<'_>> {
        self.rows.iter().map(|record| TableRow {
            table: self,
            record,
        })
    }

    fn column(&self, name: &str) -> usize {
        *self
            .index
            .get(name)
            .unwrap_or_else(|| panic!("no column `{name}` in {:?}", self.headers))
    }

    /// The table as CSV text again, with every cell of column `name` replaced by `with` for each
    /// `(name, with)` in `redact`.
    pub fn to_csv_redacted(&self, redact: &[(&str, &str)]) -> String {
        let cols: Vec<(usize, &str)> = redact
            .iter()
            .map(|(name, with)| (self.column(name), *with))
            .collect();
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&self.headers).unwrap();
        for r in &self.rows {
            let mut cells: Vec<&str> = r.iter().collect();
            for (i, with) in &cols {
                cells[*i] = with;
            }
            w.write_record(&cells).unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }
}

impl<'a> TableRow<'a> {
    /// Every cell with its column name, in file order.
    pub fn cells(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.table
            .headers
            .iter()
            .map(String::as_str)
            .zip(self.record.iter())
    }
}

impl std::fmt::Debug for TableRow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.cells()).finish()
    }
}

impl std::ops::Index<&str> for TableRow<'_> {
    type Output = str;
    fn index(&self, name: &str) -> &str {
        &self.record[self.table.column(name)]
    }
}

/// Finished data rows in a results.csv, counting only whole lines (a torn last line, as left
/// by `kill -9`, is not counted).
pub fn whole_rows(dir: &Path) -> usize {
    let text = std::fs::read_to_string(dir.join("results.csv")).unwrap_or_default();
    text.matches('\n').count().saturating_sub(1)
}

// ---------------------------------------------------------------------------------------------
// Hostile files and byte searches

/// Every file below `dir` (recursively), with its bytes.
pub fn files_below(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_below(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}

/// True when `needle` occurs in `hay`.
pub fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
