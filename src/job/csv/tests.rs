use super::*;
use std::io::Write;

fn write(dir: &tempfile::TempDir, name: &str, body: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(body).unwrap();
    p
}

fn load_bytes(name: &str, body: &[u8]) -> Result<JobFile, JobError> {
    load_with(name, body, None)
}

/// The first error (in line order) of a file that fails.
fn load_with(name: &str, body: &[u8], action: Option<Action>) -> Result<JobFile, JobError> {
    load_all(name, body, action).map_err(|e| e.errors()[0].clone())
}

/// Every error of a file that fails.
fn load_all(name: &str, body: &[u8], action: Option<Action>) -> Result<JobFile, JobErrors> {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, name, body);
    load(
        &p,
        &LoadOptions {
            default_action: action,
        },
    )
}

fn err(name: &str, body: &[u8]) -> JobError {
    load_bytes(name, body).expect_err("should fail")
}

fn files(jf: &JobFile) -> Vec<(String, String, usize)> {
    jf.entries
        .iter()
        .map(|e| {
            let t = match &e.target {
                Target::File(id) => id.to_string(),
                Target::Folder(id) => format!("folder:{id}"),
            };
            let a: Vec<&str> = e.actions.iter().map(|a| a.as_str()).collect();
            (t, a.join("+"), e.line)
        })
        .collect()
}

fn s(t: &str, a: &str, l: usize) -> (String, String, usize) {
    (t.to_string(), a.to_string(), l)
}

#[test]
fn happy_path() {
    let jf = load_bytes(
        "q4.csv",
        b"file_id,action\n101,lock\n101,protectusers\ndropbox-337-L9Cd0L7QstGL0Lkg,INFO\n",
    )
    .unwrap();
    assert_eq!(
        files(&jf),
        vec![
            s("101", "lock", 2),
            s("101", "protectusers", 3),
            s("dropbox-337-L9Cd0L7QstGL0Lkg", "info", 4)
        ]
    );
    assert_eq!(jf.name, "q4");
    assert_eq!(&*jf.entries[0].job, "q4");
    assert_eq!(jf.entries[0].on_failure, OnFailure::SkipRest);
    assert!(jf.warnings.is_empty());
    assert_eq!(jf.sha256.len(), 64);
    // The action slices are shared, not allocated per row.
    let jf = load_bytes("x.csv", b"id,action\n1,lock\n2,lock\n").unwrap();
    assert!(Arc::ptr_eq(&jf.entries[0].actions, &jf.entries[1].actions));
}

#[test]
fn dialects_bom_crlf_semicolon_tab_comments() {
    let want = vec![s("101", "lock", 4), s("102", "unlock", 6)];
    let body =
        "\u{feff}# comment, with \"quote\n\nFile ID;Action\r\n101;lock\r\n   \r\n102;Unlock\r\n";
    let jf = load_bytes("a.csv", body.as_bytes()).unwrap();
    assert_eq!(files(&jf), want);
    let jf = load_bytes(
        "a.tsv",
        b"# c\n\nFILEID\tACTION\n101\tlock\n# 999\tlock\n102\tunlock\n",
    )
    .unwrap();
    assert_eq!(files(&jf), want);
    let jf = load_bytes("a.csv", b"#\n\nid\taction\n101\tlock\n\n102\tunlock").unwrap();
    assert_eq!(files(&jf), want);
    // Lone CR line ends count as lines too.
    let jf = load_bytes("a.csv", b"#\r\rid,action\r101,lock\r,,\r102,unlock\r").unwrap();
    assert_eq!(files(&jf), want);
}

#[test]
fn errors_report_the_physical_line() {
    // Comments, blank lines and a quoted field with newlines come before the bad row.
    let body =
        b"# header next\nfile_id,action,note\n\n101,lock,\"two\nline\nnote\"\n# x\n102,lokc,\n";
    let e = err("a.csv", body);
    assert_eq!(e.line, Some(8), "{e}");
    assert!(e.message.contains("did you mean `lock`"), "{e}");
    assert!(e.to_string().contains("a.csv:8"), "{e}");
}

#[test]
fn comment_inside_quoted_field_is_data() {
    let body = b"file_id,action,note\n101,lock,\"x\n# not a comment\"\n102,info,y\n";
    let jf = load_bytes("a.csv", body).unwrap();
    assert_eq!(files(&jf), vec![s("101", "lock", 2), s("102", "info", 4)]);
}

#[test]
fn id_with_embedded_newline_is_rejected() {
    let e = err("a.csv", b"file_id,action\n\"box-1-a\nb\",lock\n");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("control character"), "{e}");
}

#[test]
fn default_action_and_columns() {
    let e = err("ids.csv", b"file_id\n101\n");
    assert!(e.message.contains("no `action` column"), "{e}");
    assert!(e.message.contains("--action"), "{e}");
    let jf = load_with("ids.csv", b"file_id\n101\n102\n", Some(Action::Info)).unwrap();
    assert_eq!(files(&jf), vec![s("101", "info", 2), s("102", "info", 3)]);
    // The column wins; an empty cell falls back to --action.
    let jf = load_with(
        "a.csv",
        b"file_id,action\n101,lock\n102,\n",
        Some(Action::Info),
    )
    .unwrap();
    assert_eq!(files(&jf), vec![s("101", "lock", 2), s("102", "info", 3)]);
    let e = err("a.csv", b"file_id,action\n101,lock\n102,\n");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("action cell is empty"), "{e}");
}

#[test]
fn folders_jobs_and_ignored_columns() {
    let body = b"job,file_id,folder_id,action,title,owner\nfin,101,,lock,a,b\nfin,,5001,info,,\nlegal,201,,lock,,\n,202,,lock,,\n";
    let jf = load_bytes("mix.csv", body).unwrap();
    assert_eq!(
        files(&jf),
        vec![
            s("101", "lock", 2),
            s("folder:5001", "info", 3),
            s("201", "lock", 4),
            s("202", "lock", 5)
        ]
    );
    let jobs: Vec<&str> = jf.entries.iter().map(|e| &*e.job).collect();
    assert_eq!(jobs, ["fin", "fin", "legal", "mix"]);
    assert!(Arc::ptr_eq(&jf.entries[0].job, &jf.entries[1].job));
    assert_eq!(jf.warnings.len(), 1);
    assert!(jf.warnings[0].contains("title, owner"), "{:?}", jf.warnings);
    let e = err("a.csv", b"file_id,folder_id,action\n101,5001,lock\n");
    assert!(e.message.contains("both"), "{e}");
    let e = err("a.csv", b"file_id,folder_id,action\n,,lock\n");
    assert!(e.message.contains("neither"), "{e}");
    let e = err("a.csv", b"file_id,id,action\n1,2,lock\n");
    assert!(e.message.contains("two `file_id` columns"), "{e}");
}

#[test]
fn consecutive_duplicates_collapse() {
    let body = b"file_id,action\n101,lock\n101,LOCK\n0101,lock\n101,info\n101,lock\n";
    let jf = load_bytes("a.csv", body).unwrap();
    assert_eq!(
        files(&jf),
        vec![
            s("101", "lock", 2),
            s("101", "info", 5),
            s("101", "lock", 6)
        ]
    );
}

#[test]
fn headerless_txt_list() {
    let jf = load_with("ids.txt", b"101\n# c\n\n102\n", Some(Action::Lock)).unwrap();
    assert_eq!(files(&jf), vec![s("101", "lock", 1), s("102", "lock", 4)]);
    let e = load_with("ids.txt", b"101\n1,x\n", Some(Action::Lock)).unwrap_err();
    assert_eq!(e.line, Some(2));
    let e = err("ids.csv", b"101,lock\n");
    assert!(e.message.contains("missing header"), "{e}");
}

#[test]
fn a_connected_storage_id_in_a_list_never_swallows_the_ids_after_it() {
    let body = b"dropbox-337-L9Cd0L7QstGL0Lkg 101 102\n103\nbox-12-|123 # from export\ndropbox-337-x; 104\nbox-12-|My file.docx\n";
    let jf = load_with("ids.txt", body, Some(Action::Info)).unwrap();
    let got: Vec<(String, usize)> = files(&jf).into_iter().map(|(t, _, l)| (t, l)).collect();
    let want = [
        ("dropbox-337-L9Cd0L7QstGL0Lkg", 1),
        ("101", 1),
        ("102", 1),
        ("103", 2),
        ("box-12-|123", 3),
        ("dropbox-337-x", 4),
        ("104", 4),
        ("box-12-|My file.docx", 5),
    ];
    let want: Vec<(String, usize)> = want.iter().map(|(t, l)| (t.to_string(), *l)).collect();
    assert_eq!(got, want);
}

#[test]
fn a_txt_line_of_several_ids_is_read_as_ids_with_their_lines() {
    let body = b"101, 102, 103\n\n# c\n104 105;106,\nbox-12-a b\n";
    let jf = load_with("ids.txt", body, Some(Action::Info)).unwrap();
    let got: Vec<(String, usize)> = files(&jf).into_iter().map(|(t, _, l)| (t, l)).collect();
    let want = [
        ("101", 1),
        ("102", 1),
        ("103", 1),
        ("104", 4),
        ("105", 4),
        ("106", 4),
        ("box-12-a b", 5),
    ];
    let want: Vec<(String, usize)> = want.iter().map(|(t, l)| (t.to_string(), *l)).collect();
    assert_eq!(got, want);
    // Each bad item of each line, at its line; a non-breaking space does not split an ID.
    let e = load_all(
        "ids.txt",
        "101, 102\n\n103, abc, lock\n10\u{a0}3\n".as_bytes(),
        Some(Action::Info),
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("ids.txt:3: invalid file ID: `abc`"), "{text}");
    assert!(
        text.contains("ids.txt:3: `lock` is an action, not a file ID"),
        "{text}"
    );
    assert!(
        text.contains("ids.txt:4: invalid file ID: `10<U+00A0>3`"),
        "{text}"
    );
    assert_eq!(e.len(), 3, "{text}");
    // A header still makes a CSV, whatever the extension; a .csv needs its header.
    let jf = load_with("j.txt", b"file_id,action\n101,lock\n", None).unwrap();
    assert_eq!(files(&jf), vec![s("101", "lock", 2)]);
    let e = err("ids.csv", b"101, 102, 103\n");
    assert!(e.message.contains("put one ID per line"), "{e}");
    // files_from lists read the same way.
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "ids.txt", b"101 102\n103\n");
    let list = load_ids(&p, &mut sha2::Sha256::new()).unwrap();
    let lines: Vec<usize> = list.ids.iter().map(|(_, l)| *l).collect();
    assert_eq!(lines, [1, 1, 2]);
}

#[test]
fn every_bad_row_is_reported_in_one_pass() {
    let body = b"file_id,action,job\n101,lcok,a\nabc,lock,a\n102,lock\n0,info,a\nx,infoo,a\n";
    let e = load_all("three.csv", body, None).unwrap_err();
    let text = e.to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.rsplit_once('/').map_or(l, |(_, name)| name))
        .collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(
        lines[0].starts_with("three.csv:2: unknown action `lcok`"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("three.csv:3: invalid file ID: `abc`"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("three.csv:4: line 4 has 2 fields"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("three.csv:5: invalid file ID: `0`"),
        "{text}"
    );
    assert!(
        lines[4].starts_with("three.csv:6: invalid file ID: `x`"),
        "{text}"
    );
    assert!(
        lines[5].starts_with("three.csv:6: unknown action `infoo`"),
        "{text}"
    );
    // 25 bad rows: 20 shown, the rest counted.
    let mut body = b"file_id,action\n".to_vec();
    for i in 0..25 {
        body.extend(format!("x{i},lock\n").bytes());
    }
    let text = load_all("many.csv", &body, None).unwrap_err().to_string();
    assert_eq!(text.lines().count(), 21, "{text}");
    assert!(
        text.ends_with(
            "many.csv: and 5 more errors not shown; fix these and run again to see the rest"
        ),
        "{text}"
    );
}

#[test]
fn structural_errors() {
    let e = err("a.csv", b"");
    assert!(e.message.contains("empty CSV file"), "{e}");
    let e = err("a.csv", b"# only\n\n");
    assert!(e.message.contains("empty CSV file"), "{e}");
    let e = err("a.csv", b"file_id,action\n");
    assert!(e.message.contains("no rows"), "{e}");
    let e = err("a.csv", b"name,action\nx,lock\n");
    assert!(e.message.contains("no `file_id` column"), "{e}");
    assert_eq!(e.line, Some(1));
    let e = err("a.csv", b"file_id,action\n101,lock\n102,lock,extra\n");
    assert_eq!(e.line, Some(3));
    assert!(
        e.message.contains("3 fields but the header (line 1) has 2"),
        "{e}"
    );
    let e = err("a.csv", b"file_id,action\n101\n");
    assert_eq!(e.line, Some(2));
    let e = err("a.csv", b"file_id,action\n101,lock\n\xff\xfe,lock\n");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("UTF-8"), "{e}");
    let e = err("a.csv", b"file_id,action\n101,lock\n\n1\x0002,lock\n");
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("NUL byte at line 4"), "{e}");
    let e = err("a.csv", b"\xff\xfef\x00i\x00");
    assert!(e.message.contains("UTF-16"), "{e}");
}

#[test]
fn long_id_is_not_echoed() {
    let mut body = b"file_id,action\n".to_vec();
    body.extend(vec![b'7'; 1 << 20]);
    body.extend(b",lock\n");
    let e = err("a.csv", &body);
    assert_eq!(e.line, Some(2));
    assert!(e.message.len() < 300, "{}", e.message.len());
    let mut body = b"file_id,action\nbox-1-".to_vec();
    body.extend(vec![b'x'; 1 << 20]);
    body.extend(b",lock\n");
    let e = err("a.csv", &body);
    assert!(e.message.contains("at most 512 bytes"), "{e}");
    assert!(e.message.len() < 300);
}

#[test]
fn files_from_lists() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "ids.txt", b"101\n102\n\n103\n");
    let mut h = sha2::Sha256::new();
    let list = load_ids(&p, &mut h).unwrap();
    let ids: Vec<(String, usize)> = list.ids.iter().map(|(i, l)| (i.to_string(), *l)).collect();
    assert_eq!(
        ids,
        [("101".into(), 1), ("102".into(), 2), ("103".into(), 4)]
    );
    let p = write(&dir, "ids.csv", b"ID,title\n101,a\n");
    assert_eq!(load_ids(&p, &mut h).unwrap().warnings.len(), 1);
    let p = write(&dir, "acts.csv", b"file_id,action\n101,lock\n");
    let e = load_ids(&p, &mut h).unwrap_err();
    assert!(e.to_string().contains("`action` column"), "{e}");
}

#[test]
fn refuses_huge_files_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.csv");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(MAX_JOB_FILE_BYTES + 1).unwrap(); // sparse: no disk space used
    let e = load(&p, &LoadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("limit is 256 MiB"), "{e}");
}

#[test]
fn loads_200k_rows() {
    let mut body = String::from("file_id,action\n");
    for i in 1..=200_000u32 {
        body.push_str(&i.to_string());
        body.push_str(if i % 2 == 0 { ",lock\n" } else { ",info\n" });
    }
    let t = std::time::Instant::now();
    let jf = load_bytes("big.csv", body.as_bytes()).unwrap();
    assert_eq!(jf.entries.len(), 200_000);
    assert_eq!(jf.entries[199_999].line, 200_001);
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
}

/// The scale the loader is built for (a million rows in under 2 s): run with
/// `cargo test --release --lib -- --ignored million`.
#[test]
#[ignore = "slow in debug builds; a release-mode benchmark"]
fn loads_a_million_rows_quickly() {
    let mut body = String::from("\u{feff}file_id;action\r\n");
    for i in 1..=1_000_000u32 {
        if i % 3 == 0 {
            body.push_str(&format!("dropbox-337-L9Cd0L7Q{i};lock\r\n"));
        } else {
            body.push_str(&format!("{i};Info\r\n"));
        }
    }
    let t = std::time::Instant::now();
    let jf = load_bytes("million.csv", body.as_bytes()).unwrap();
    let took = t.elapsed();
    assert_eq!(jf.entries.len(), 1_000_000);
    eprintln!(
        "1M rows in {took:?}, Entry is {} bytes",
        std::mem::size_of::<Entry>()
    );
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
}

/// Every single-byte corruption of a valid file loads or fails cleanly, with a line number
/// inside the file.
#[test]
fn corrupted_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("fuzz.csv");
    let base: &[u8] = b"\xef\xbb\xbf# c\r\njob,file_id,folder_id,action\r\n\"a\",101,,lock\r\nb,,\"5001\",info\r\n\r\nb,dropbox-337-x,,unlock\r\n";
    let lines = count_breaks(base) + 1;
    for i in 0..base.len() {
        for b in [b'"', b',', b'\n', b'#', b'\r', 0xff] {
            let mut body = base.to_vec();
            body[i] = b;
            std::fs::write(&p, &body).unwrap();
            if let Err(errs) = load(&p, &LoadOptions::default()) {
                for e in errs.errors() {
                    assert!(e.line.unwrap_or(1) <= lines + 1, "{e}");
                }
            }
        }
    }
}
