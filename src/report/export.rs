//! The CSV exports of the record: `results.csv` and `access.csv`. At the start of a process
//! both are rewritten from `run.db` (so they match the record even after a crash or a file
//! deleted mid-run), then rows are appended as their transaction commits (`tail -f` works),
//! and at the end both are rewritten again from the record, each as a new file renamed into
//! place. Files are opened as [`crate::record::files`] says: no links, mode 0600.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::{AccessRow, ResultRow, ACCESS, ACCESS_HEADER, RESULTS, RESULTS_HEADER};
use crate::record::files;

/// The UTF-8 byte-order mark `--csv-bom` puts first, for Excel.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// Open appenders for the two CSV files.
pub struct Stream {
    results: csv::Writer<BufWriter<File>>,
    access: csv::Writer<BufWriter<File>>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stream")
    }
}

impl Stream {
    /// Rewrites both files from `rows`/`access` (the record so far), then opens them for
    /// appending.
    pub fn open(
        dir: &Path,
        rows: &[ResultRow],
        access: &[AccessRow],
        bom: bool,
    ) -> io::Result<Stream> {
        write_csvs(dir, rows, access, bom)?;
        Ok(Stream {
            results: appender(&dir.join(RESULTS))?,
            access: appender(&dir.join(ACCESS))?,
        })
    }

    /// Appends committed rows and flushes them to the files.
    pub fn append(&mut self, batch: &[(&ResultRow, &[AccessRow])]) -> io::Result<()> {
        for (row, access) in batch {
            row.write(&mut self.results).map_err(io::Error::other)?;
            for a in access.iter() {
                a.write(&mut self.access).map_err(io::Error::other)?;
            }
        }
        self.results.flush()?;
        self.access.flush()
    }
}

fn appender(path: &Path) -> io::Result<csv::Writer<BufWriter<File>>> {
    let f = files::open_append(path).map_err(|e| with_path(path, e))?;
    Ok(csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(BufWriter::new(f)))
}

/// Replaces `results.csv` and `access.csv` with `rows` and `access`.
pub fn write_csvs(
    dir: &Path,
    rows: &[ResultRow],
    access: &[AccessRow],
    bom: bool,
) -> io::Result<()> {
    let results = dir.join(RESULTS);
    files::replace_with(&results, |f| {
        let mut w = start(f, &RESULTS_HEADER, bom)?;
        for r in rows {
            r.write(&mut w).map_err(io::Error::other)?;
        }
        w.flush()
    })
    .map_err(|e| with_path(&results, e))?;
    let path = dir.join(ACCESS);
    files::replace_with(&path, |f| {
        let mut w = start(f, &ACCESS_HEADER, bom)?;
        for a in access {
            a.write(&mut w).map_err(io::Error::other)?;
        }
        w.flush()
    })
    .map_err(|e| with_path(&path, e))
}

fn start<'a>(
    f: &'a mut File,
    header: &[&str],
    bom: bool,
) -> io::Result<csv::Writer<BufWriter<&'a mut File>>> {
    let mut out = BufWriter::new(f);
    if bom {
        out.write_all(BOM)?;
    }
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    w.write_record(header).map_err(io::Error::other)?;
    Ok(w)
}

/// Names the file in an I/O error (the message is printed as is).
pub fn with_path(path: &Path, e: io::Error) -> io::Error {
    if e.to_string().contains(&path.display().to_string()) {
        e
    } else {
        io::Error::new(e.kind(), format!("{}: {e}", path.display()))
    }
}
