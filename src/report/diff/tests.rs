use super::*;
use crate::api::ErrorKind;
use crate::job::{Action, FileId};
use crate::report::{AccessRow, Outcome, ResultRow};

/// A result row finished at second `at`.
fn row(seq: u64, file: u32, action: Action, outcome: Outcome, at: u32) -> ResultRow {
    let mut r = ResultRow::new(seq, "j", &FileId::Int(file), action, outcome);
    r.finished_at = format!("2025-01-01T00:00:{at:02}.000Z");
    r.title = format!("Invoice-{file}.xlsx");
    r
}

fn info(seq: u64, file: u32, locked: bool, by: &str) -> ResultRow {
    let mut r = row(seq, file, Action::Info, Outcome::Ok, seq as u32);
    r.locked = Some(locked);
    r.locked_by = by.into();
    r
}

fn user(file: u32, name: &str) -> AccessRow {
    AccessRow {
        file_id: file.to_string(),
        title: String::new(),
        user_id: format!("id-{name}"),
        name: name.into(),
        email: format!("{}@example.com", name.to_lowercase()),
    }
}

fn run(results: &[ResultRow], access: &[(u64, AccessRow)]) -> RunFacts {
    let planned: Vec<(String, Option<&str>)> =
        results.iter().map(|r| (r.file_id.clone(), None)).collect();
    facts(planned, results, access, &[])
}

fn rows(changes: &[Change]) -> Vec<(String, &'static str, String, String)> {
    changes
        .iter()
        .map(|c| {
            (
                c.file_id.clone(),
                c.what.as_str(),
                c.before.clone(),
                c.after.clone(),
            )
        })
        .collect()
}

fn r(
    id: &str,
    what: &'static str,
    before: &str,
    after: &str,
) -> (String, &'static str, String, String) {
    (id.into(), what, before.into(), after.into())
}

#[test]
fn same_state_is_no_difference_whatever_the_seq() {
    let old = run(&[info(1, 101, false, ""), info(2, 103, true, "Jane")], &[]);
    // Another job: other seq numbers, other order.
    let new = run(&[info(7, 103, true, "Jane"), info(9, 101, false, "")], &[]);
    assert_eq!(compare(&old, &new), vec![]);
}

#[test]
fn lock_holder_title_and_presence_changes_are_rows() {
    let mut renamed = info(4, 104, false, "");
    renamed.title = "=cmd()".into();
    let old = run(
        &[
            info(1, 101, false, ""),
            info(2, 103, true, "Jane Auditor"),
            info(3, 102, true, "Bob Finch"),
            info(4, 104, false, ""),
            info(5, 150, false, ""),
        ],
        &[],
    );
    let new = run(
        &[
            info(1, 101, true, "Jane Auditor"),
            info(2, 103, false, ""),
            info(3, 102, true, "Jane Auditor"),
            renamed,
            info(6, 151, false, ""),
        ],
        &[],
    );
    let got = compare(&old, &new);
    assert_eq!(
        rows(&got),
        vec![
            r("101", "lock", "unlocked", "locked"),
            r("101", "locked_by", "", "Jane Auditor"),
            r("102", "locked_by", "Bob Finch", "Jane Auditor"),
            r("103", "lock", "locked", "unlocked"),
            r("103", "locked_by", "Jane Auditor", ""),
            r("104", "title", "Invoice-104.xlsx", "=cmd()"),
            r("150", "only_in_old", "present", "absent"),
            r("151", "only_in_new", "absent", "present"),
        ]
    );
    // The title column is the new title where the new run knows one.
    assert_eq!(got[5].title, "=cmd()");
    assert_eq!(got[6].title, "Invoice-150.xlsx");
}

#[test]
fn access_is_compared_by_user_from_the_last_listing() {
    let pu = |seq, file, at| row(seq, file, Action::ProtectUsers, Outcome::Ok, at);
    let old = run(
        &[pu(1, 101, 1), pu(2, 102, 2)],
        &[
            (1, user(101, "Jane")),
            (1, user(101, "Bob")),
            (2, user(102, "Bob")),
        ],
    );
    // 101: an earlier listing (seq 5, but finished later) is the last one known; 102: nobody
    // else has access now (an empty list is known, not unknown).
    let new = run(
        &[pu(3, 101, 4), pu(5, 101, 9), pu(6, 102, 6)],
        &[
            (3, user(101, "Jane")),
            (5, user(101, "Jane")),
            (5, user(101, "Pat")),
        ],
    );
    assert_eq!(
        rows(&compare(&old, &new)),
        vec![
            r("101", "access_added", "", "Pat <pat@example.com>"),
            r("101", "access_removed", "Bob <bob@example.com>", ""),
            r("102", "access_removed", "Bob <bob@example.com>", ""),
        ]
    );
}

#[test]
fn a_renamed_user_is_not_an_access_change() {
    let pu = row(1, 101, Action::ProtectUsers, Outcome::Ok, 1);
    let mut renamed = user(101, "Jane");
    renamed.name = "Jane Smith".into();
    let old = run(std::slice::from_ref(&pu), &[(1, user(101, "Jane"))]);
    let new = run(&[pu], &[(1, renamed)]);
    assert_eq!(compare(&old, &new), vec![]);
}

#[test]
fn unknown_facts_are_not_compared() {
    let old = run(
        &[
            info(1, 101, true, "Jane"),
            row(2, 101, Action::ProtectUsers, Outcome::Ok, 2),
        ],
        &[(2, user(101, "Bob"))],
    );
    // The new run's tasks on 101 were cancelled or failed on the way: it knows nothing.
    let mut timeout = row(1, 101, Action::Info, Outcome::Failed, 1);
    timeout.error_kind = Some(ErrorKind::Timeout);
    timeout.title = String::new();
    let cancelled = row(2, 101, Action::ProtectUsers, Outcome::Cancelled, 2);
    let new = run(&[timeout, cancelled], &[]);
    assert_eq!(compare(&old, &new), vec![]);
}

#[test]
fn a_file_the_portal_no_longer_has_is_only_in_old() {
    let old = run(&[info(1, 101, false, ""), info(2, 102, false, "")], &[]);
    let mut gone = row(1, 101, Action::Info, Outcome::Failed, 1);
    gone.error_kind = Some(ErrorKind::NotFound);
    gone.title = String::new();
    // Forbidden: the file is there, the caller may not read it; its facts are unknown.
    let mut forbidden = row(2, 102, Action::Info, Outcome::Failed, 2);
    forbidden.error_kind = Some(ErrorKind::Forbidden);
    let new = run(&[gone, forbidden], &[]);
    let got = compare(&old, &new);
    assert_eq!(
        rows(&got),
        vec![r("101", "only_in_old", "present", "not_found")]
    );
    assert_eq!(got[0].title, "Invoice-101.xlsx");
    // Back again, the other way round; missing in both is no row.
    assert_eq!(
        rows(&compare(&new, &old)),
        vec![r("101", "only_in_new", "not_found", "present")]
    );
    assert_eq!(compare(&new, &new), vec![]);
}

#[test]
fn planned_files_without_results_are_present_with_unknown_facts() {
    let old = run(&[info(1, 101, false, "")], &[]);
    let new = facts([("101".to_string(), Some("Listed.xlsx"))], &[], &[], &[]);
    // Only the title (from the listing) is known in the new run.
    assert_eq!(
        rows(&compare(&old, &new)),
        vec![r("101", "title", "Invoice-101.xlsx", "Listed.xlsx")]
    );
}

#[test]
fn rows_are_in_file_id_order_numbers_first() {
    let old = RunFacts::default();
    let new = run(
        &[
            info(1, 1000, false, ""),
            info(2, 99, false, ""),
            info(3, 100, false, ""),
        ],
        &[],
    );
    let mut new = new;
    new.files.insert(
        "box-12-|123".into(),
        Presence::Present(FileFacts::default()),
    );
    let ids: Vec<String> = compare(&old, &new).into_iter().map(|c| c.file_id).collect();
    assert_eq!(ids, ["99", "100", "1000", "box-12-|123"]);
}

fn change(what: What, title: &str, before: &str) -> Change {
    Change {
        file_id: "101".into(),
        title: title.into(),
        what,
        before: before.into(),
        after: String::new(),
    }
}

#[test]
fn csv_escapes_every_text_cell() {
    let text = format::csv(&[change(What::AccessRemoved, "=cmd()", "@evil <e@x>")]).unwrap();
    assert_eq!(
        text,
        "file_id,title,what,before,after\n101,'=cmd(),access_removed,'@evil <e@x>,\n"
    );
    assert_eq!(
        format::csv(&[]).unwrap(),
        "file_id,title,what,before,after\n"
    );
}

#[test]
fn json_is_an_array_of_objects_with_the_columns() {
    let v: serde_json::Value =
        serde_json::from_str(&format::json(&[change(What::Lock, "=x", "locked")])).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"file_id": "101", "title": "=x", "what": "lock", "before": "locked", "after": ""}])
    );
    assert_eq!(format::json(&[]).trim(), "[]");
}

#[test]
fn the_table_aligns_strips_controls_and_counts() {
    let t = format::table(&[
        change(What::Lock, "Plan\x1b[2J.docx", "locked"),
        change(What::LockedBy, "Plan.docx", "Jane Auditor"),
    ]);
    let want = [
        "file_id  title         what       before        after",
        "101      Plan[2J.docx  lock       locked        -",
        "101      Plan.docx     locked_by  Jane Auditor  -",
        "",
        "2 differences in 1 file",
    ];
    assert_eq!(t, want.join("\n") + "\n");
    assert_eq!(format::table(&[]), "no differences\n");
}

fn share(kind: &str, id: &str, name: &str, access: &str) -> crate::report::ShareRow {
    crate::report::ShareRow {
        file_id: "201".into(),
        title: "Invoice-201.xlsx".into(),
        entry: crate::api::ShareEntry {
            subject_type: kind.into(),
            subject_id: id.into(),
            name: name.into(),
            access: access.into(),
            ..Default::default()
        },
    }
}

#[test]
fn share_entries_are_added_removed_and_changed_by_subject() {
    let sh = |seq| row(seq, 201, Action::Shares, Outcome::Ok, seq as u32);
    let planned = |rs: &[ResultRow]| -> Vec<(String, Option<&str>)> {
        rs.iter().map(|r| (r.file_id.clone(), None)).collect()
    };
    let old_rows = [sh(1)];
    let mut link = share("external_link", "l1", "Shared link", "read");
    let old = facts(
        planned(&old_rows),
        &old_rows,
        &[],
        &[
            (1, link.clone()),
            (1, share("group", "g1", "Auditors", "read")),
        ],
    );
    link.entry.password_protected = true;
    let new_rows = [sh(2)];
    let new = facts(
        planned(&new_rows),
        &new_rows,
        &[],
        &[(2, link), (2, share("user", "u1", "Pat", "editing"))],
    );
    assert_eq!(
        rows(&compare(&old, &new)),
        vec![
            r("201", "share_added", "", "user Pat: editing"),
            r("201", "share_removed", "group Auditors: read", ""),
            r(
                "201",
                "share_changed",
                "external_link Shared link: read",
                "external_link Shared link: read, password"
            ),
        ]
    );
}
