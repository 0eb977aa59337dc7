//! The CSV exports of the record: `results.csv`, `access.csv` and `shares.csv`. At the start of
//! a process all are rewritten from `run.db` (so they match the record even after a crash or a file
//! deleted mid-run), then rows are appended as their transaction commits (`tail -f` works),
//! and at the end both are rewritten again from the record, each as a new file renamed into
//! place. Files are opened as [`crate::record::files`] says: no links, mode 0600.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::{
    AccessRow, ResultRow, ShareRow, ACCESS, ACCESS_HEADER, RESULTS, RESULTS_HEADER, SHARES,
    SHARES_HEADER,
};
use crate::record::files;
use crate::record::Finished;

/// The UTF-8 byte-order mark `--csv-bom` puts first, for Excel.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// Open appenders for the CSV files.
pub struct Stream {
    results: csv::Writer<BufWriter<File>>,
    access: csv::Writer<BufWriter<File>>,
    shares: csv::Writer<BufWriter<File>>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stream")
    }
}

impl Stream {
    /// Rewrites the files from the record so far, then opens them for appending.
    pub fn open(dir: &Path, rec: Exported<'_>, bom: bool) -> io::Result<Stream> {
        write_csvs(dir, rec, bom)?;
        Ok(Stream {
            results: appender(&dir.join(RESULTS))?,
            access: appender(&dir.join(ACCESS))?,
            shares: appender(&dir.join(SHARES))?,
        })
    }

    /// Appends committed rows and flushes them to the files.
    pub fn append(&mut self, batch: &[Finished<'_>]) -> io::Result<()> {
        for (row, access, shares) in batch {
            row.write(&mut self.results).map_err(io::Error::other)?;
            for a in access.iter() {
                a.write(&mut self.access).map_err(io::Error::other)?;
            }
            for s in shares.iter() {
                s.write(&mut self.shares).map_err(io::Error::other)?;
            }
        }
        self.results.flush()?;
        self.access.flush()?;
        self.shares.flush()
    }
}

fn appender(path: &Path) -> io::Result<csv::Writer<BufWriter<File>>> {
    let f = files::open_append(path).map_err(|e| with_path(path, e))?;
    Ok(csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(BufWriter::new(f)))
}

/// What the record holds for the CSV exports.
#[derive(Clone, Copy)]
pub struct Exported<'a> {
    /// results.csv rows.
    pub rows: &'a [ResultRow],
    /// access.csv rows.
    pub access: &'a [AccessRow],
    /// shares.csv rows.
    pub shares: &'a [ShareRow],
}

/// Replaces `results.csv`, `access.csv` and `shares.csv` with the record's rows.
pub fn write_csvs(dir: &Path, rec: Exported<'_>, bom: bool) -> io::Result<()> {
    one_csv(dir, RESULTS, &RESULTS_HEADER, rec.rows, bom, |r, w| {
        r.write(w)
    })?;
    one_csv(dir, ACCESS, &ACCESS_HEADER, rec.access, bom, |a, w| {
        a.write(w)
    })?;
    one_csv(dir, SHARES, &SHARES_HEADER, rec.shares, bom, |s, w| {
        s.write(w)
    })
}

type Out<'a> = csv::Writer<BufWriter<&'a mut File>>;

fn one_csv<T>(
    dir: &Path,
    name: &str,
    header: &[&str],
    items: &[T],
    bom: bool,
    write: impl Fn(&T, &mut Out<'_>) -> csv::Result<()>,
) -> io::Result<()> {
    let path = dir.join(name);
    files::replace_with(&path, |f| {
        let mut w = start(f, header, bom)?;
        for it in items {
            write(it, &mut w).map_err(io::Error::other)?;
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
