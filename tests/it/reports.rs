//! Snapshots of the report files (summary.json, summary.md, results.csv) of one representative
//! run against the sandbox, with what varies between runs and machines redacted: timestamps,
//! durations, rates, the port and the scratch directory.

use crate::common::*;

/// Every `YYYY-MM-DDTHH:MM:SS[.fff]Z` in `text` replaced by `[time]`.
fn redact_timestamps(text: &str) -> String {
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| {
        b.get(from..from + n)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    let stamp_len = |i: usize| -> Option<usize> {
        let shape = digits(i, 4)
            && b.get(i + 4) == Some(&b'-')
            && digits(i + 5, 2)
            && b.get(i + 7) == Some(&b'-')
            && digits(i + 8, 2)
            && b.get(i + 10) == Some(&b'T')
            && digits(i + 11, 2)
            && b.get(i + 13) == Some(&b':')
            && digits(i + 14, 2)
            && b.get(i + 16) == Some(&b':')
            && digits(i + 17, 2);
        if !shape {
            return None;
        }
        let mut end = i + 19;
        if b.get(end) == Some(&b'.') {
            end += 1;
            while b.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
        }
        (b.get(end) == Some(&b'Z')).then_some(end + 1 - i)
    };
    let mut out = String::new();
    let mut i = 0;
    while i < text.len() {
        if let Some(n) = stamp_len(i) {
            out.push_str("[time]");
            i += n;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The decimal number right before each `suffix` in `text` replaced by `with`.
fn redact_number_before(text: &str, suffix: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(suffix) {
        let head = &rest[..at];
        let number = head
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '.')
            .len();
        out.push_str(&head[..number]);
        if number < head.len() {
            out.push_str(with);
        }
        out.push_str(suffix);
        rest = &rest[at + suffix.len()..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_files_of_a_representative_run() {
    let sb = sandbox().await;
    let w = Work::new();
    // 101 ok, 103 locked by Jane Auditor, 104 read-only (403), 999999 missing (404); the
    // tasks after a failed one on the same file are skipped.
    let job = w.file(
        "job.yaml",
        "name: snapshot\njobs:\n  - files: [101, 103, 104, 999999]\n    actions: [lock, info, protectusers]\n",
    );
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 1, "{}", o.stderr());

    // The scratch directory and the port change from run to run.
    let work = w.path().to_str().unwrap().to_string();
    let port = sb.addr().port().to_string();
    let stable = |text: String| {
        text.replace(&work, "[work]")
            .replace(&format!("127.0.0.1:{port}"), "127.0.0.1:[port]")
    };
    let read = |name: &str| stable(std::fs::read_to_string(w.report().join(name)).unwrap());

    let summary: serde_json::Value = serde_json::from_str(&read("summary.json")).unwrap();
    insta::assert_json_snapshot!("summary_json", summary, {
        ".started_at" => "[time]",
        ".finished_at" => "[time]",
        ".duration_seconds" => "[duration]",
        ".busy_seconds" => "[duration]",
        ".achieved_rate" => "[rate]",
    });

    let md = redact_timestamps(&read("summary.md"));
    let md = redact_number_before(&md, " s)", "[duration]");
    let md = redact_number_before(&md, " requests/s", "[rate]");
    insta::assert_snapshot!("summary_md", md);

    let results = Table::read(&w.report().join("results.csv"))
        .to_csv_redacted(&[("duration_ms", "[ms]"), ("finished_at", "[time]")]);
    insta::assert_snapshot!("results_csv", results);
}

#[test]
fn the_redactions_catch_what_varies() {
    assert_eq!(
        redact_timestamps("Started 2026-12-02T07:34:52.456Z, finished 2026-12-02T07:34:53Z."),
        "Started [time], finished [time]."
    );
    assert_eq!(
        redact_timestamps("2026-12-02 07:34:52"),
        "2026-12-02 07:34:52"
    );
    assert_eq!(
        redact_number_before("(0.5 s) at 20.2 requests/s", " s)", "[d]"),
        "([d] s) at 20.2 requests/s"
    );
    assert_eq!(
        redact_number_before("x 20.2 requests/s", " requests/s", "[r]"),
        "x [r] requests/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_bom_starts_every_csv_export_with_a_byte_order_mark() {
    let sb = sandbox().await;
    let w = Work::new();
    let job = w.file(
        "job.yaml",
        "settings:\n  csv_bom: true\njobs:\n  - files: [101, 201]\n    actions: [protectusers]\n",
    );
    let o = Cli::new(&w)
        .sandbox(&sb)
        .job([job.to_str().unwrap(), "--rate", "unlimited"])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    for name in ["results.csv", "access.csv"] {
        let bytes = std::fs::read(w.report().join(name)).unwrap();
        assert!(bytes.starts_with("\u{feff}".as_bytes()), "{name}");
        assert_eq!(
            bytes
                .windows(3)
                .filter(|b| *b == [0xef, 0xbb, 0xbf])
                .count(),
            1,
            "{name}"
        );
    }
    let w2 = Work::new();
    let plain = w2.file("p.csv", "file_id,action\n101,info\n");
    let o = Cli::new(&w2)
        .sandbox(&sb)
        .job([plain.to_str().unwrap()])
        .run();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let bytes = std::fs::read(w2.report().join("results.csv")).unwrap();
    assert!(bytes.starts_with(b"seq,"), "no BOM unless asked");
}
