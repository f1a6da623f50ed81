use std::collections::BTreeMap;

use super::*;

fn subscriber(email: &str, name: &str, attrs: &[(&str, &str)]) -> Subscriber {
    Subscriber {
        email: email.to_owned(),
        name: name.to_owned(),
        attrs: attrs.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect::<BTreeMap<_, _>>(),
        status: SubscriberStatus::Active,
        subscribed_at: None,
        line: 0,
    }
}

/// Append `new` to a file holding `before`; check the outcome and the whole file after.
#[track_caller]
fn case(before: Option<&str>, new: &Subscriber, outcome: Result<Appended, &str>, after: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.csv");
    if let Some(before) = before {
        std::fs::write(&path, before).unwrap();
    }
    let got = append_row(&path, Path::new("subscribers/list.csv"), new).map_err(|e| e.to_string());
    assert_eq!(got, outcome.map_err(str::to_owned));
    assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), after);
}

#[test]
fn appends_after_every_byte_of_the_file() {
    let bob = subscriber(" Bob@Example.ORG", "Bob, Jr.", &[("region", "North")]);
    let added = |line| Ok(Appended::Added { line });
    case(
        Some("email,name,region\n\"a@example.org\",  A ,x\n"),
        &bob,
        added(3),
        "email,name,region\n\"a@example.org\",  A ,x\nBob@example.org,\"Bob, Jr.\",North\n",
    );
    case(
        Some("email,region,name\r\na@example.org,x,A"),
        &bob,
        added(3),
        "email,region,name\r\na@example.org,x,A\r\nBob@example.org,North,\"Bob, Jr.\"\r\n",
    );
    case(None, &bob, added(2), "email,name,status,subscribed_at,region\nBob@example.org,\"Bob, Jr.\",active,,North\n");
    case(
        Some("email,name,region\nbob@example.org,B,\n"),
        &bob,
        Ok(Appended::Updated { line: 2 }),
        "email,name,region\nbob@example.org,\"Bob, Jr.\",North\n",
    );
    case(
        Some("email,name,region\nbob@example.org,\"Bob, Jr.\",North\n"),
        &bob,
        Ok(Appended::AlreadyListed { line: 2 }),
        "email,name,region\nbob@example.org,\"Bob, Jr.\",North\n",
    );
}

#[test]
fn refuses_rows_the_file_cannot_hold_and_writes_nothing() {
    let before = "email,name\na@example.org,A\n";
    case(
        Some(before),
        &subscriber("b@example.org", "B", &[("region", "North")]),
        Err("`subscribers/list.csv` has no `region` column for the value `North`; add the column to its header first"),
        before,
    );
    case(
        Some(before),
        &subscriber("b@example.org", "B\r\nBcc: x@example.org", &[]),
        Err("the value of `name` contains a line break or a NUL byte"),
        before,
    );
    case(
        Some(before),
        &subscriber("b.example.org", "B", &[]),
        Err("`b.example.org` is not a valid address: it has no `@`"),
        before,
    );
    let mut pending = subscriber("b@example.org", "B", &[]);
    pending.status = SubscriberStatus::Pending;
    case(
        Some(before),
        &pending,
        Err(
            "`subscribers/list.csv` has no `status` column for the value `pending`; add the column to its header first",
        ),
        before,
    );
}

#[test]
fn removes_every_row_of_an_address_and_keeps_the_rest_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.csv");
    let shown = Path::new("list.csv");
    let before = "email,name\r\nbob@example.org,B\r\n\"keep@example.org\" , \"K, k\"\r\nnot an address,x\r\n\r\nBOB@example.org,b\r\nlast@example.org,L";
    std::fs::write(&path, before).unwrap();
    assert_eq!(remove_address(&path, shown, "Bob@example.org ").unwrap(), [2, 6]);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "email,name\r\n\"keep@example.org\" , \"K, k\"\r\nnot an address,x\r\n\r\nlast@example.org,L"
    );
    assert_eq!(remove_address(&path, shown, "last@example.org").unwrap(), [5]);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "email,name\r\n\"keep@example.org\" , \"K, k\"\r\nnot an address,x\r\n\r\n"
    );
    assert_eq!(remove_address(&path, shown, "nobody@example.org").unwrap(), Vec::<usize>::new());
}

#[cfg(unix)]
#[test]
fn edits_keep_the_file_mode() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.csv");
    std::fs::write(&path, "email\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    append_row(&path, &path, &subscriber("a@example.org", "", &[])).unwrap();
    remove_address(&path, &path, "a@example.org").unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
}

#[test]
fn concurrent_writers_lose_nothing_and_readers_never_see_a_partial_file() {
    const PER_WRITER: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.csv");
    std::fs::write(&path, "email,name\n").unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|writer| {
                let path = &path;
                scope.spawn(move || {
                    for i in 0..PER_WRITER {
                        let new = subscriber(&format!("{writer}{i}@example.org"), writer, &[]);
                        assert!(matches!(append_row(path, path, &new), Ok(Appended::Added { .. })));
                    }
                })
            })
            .collect();
        scope.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(text.starts_with("email,name\n") && text.ends_with('\n'), "partial file: {text:?}");
                assert!(text.lines().all(|l| l.split(',').count() == 2), "partial row: {text:?}");
            }
        });
        for writer in writers {
            writer.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let report = super::super::check_list(&path, &path).unwrap();
    assert_eq!((report.rows, report.valid, report.duplicates), (2 * PER_WRITER, 2 * PER_WRITER, 0));
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "only the list and its lock file remain: {names:?}");
    assert!(dir.path().join(".list.csv.lock").exists());
}

/// Upsert `rows` in `mode` into a file holding `before`; check the outcomes and the file after.
#[track_caller]
fn upsert_case(before: &str, rows: &[Subscriber], mode: Upsert, outcome: &[Appended], after: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.csv");
    std::fs::write(&path, before).unwrap();
    let got = upsert_rows(&path, Path::new("subscribers/list.csv"), rows, mode).unwrap();
    assert_eq!(got, outcome);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), after);
}

#[test]
fn only_reactivate_changes_a_status_and_it_leaves_one_active_row() {
    let header = "email,name,status,subscribed_at\n";
    let gone = format!(
        "{header}a@example.org,A,,\nbob@example.org,Bob,unsubscribed,2016-01-01T00:00:00Z\nc@example.org,C,,\n"
    );
    let back = Subscriber {
        subscribed_at: Some("2016-12-01T09:00:00Z".parse().unwrap()),
        ..subscriber("Bob@example.org", "", &[])
    };
    upsert_case(&gone, std::slice::from_ref(&back), Upsert::Merge, &[Appended::AlreadyListed { line: 3 }], &gone);
    upsert_case(
        &gone,
        std::slice::from_ref(&back),
        Upsert::Reactivate,
        &[Appended::Updated { line: 3 }],
        &format!("{header}a@example.org,A,,\nbob@example.org,Bob,active,2016-12-01T09:00:00Z\nc@example.org,C,,\n"),
    );
    // An active first row with a later unsubscribed one: the later row goes, in the same write.
    let split = format!("{header}bob@example.org,Bob,,\nc@example.org,C,,\nBOB@example.org,,unsubscribed,\n");
    upsert_case(&split, std::slice::from_ref(&back), Upsert::Merge, &[Appended::AlreadyListed { line: 2 }], &split);
    upsert_case(
        &split,
        &[back.clone(), back],
        Upsert::Reactivate,
        &[Appended::Updated { line: 2 }, Appended::AlreadyListed { line: 2 }],
        &format!("{header}bob@example.org,Bob,active,2016-12-01T09:00:00Z\nc@example.org,C,,\n"),
    );
    // Nothing inactive: reactivate is a merge.
    let fine = format!("{header}bob@example.org,Bob,,\n");
    upsert_case(
        &fine,
        &[subscriber("bob@example.org", "", &[])],
        Upsert::Reactivate,
        &[Appended::AlreadyListed { line: 2 }],
        &fine,
    );
}

#[test]
fn every_edit_refuses_a_list_with_a_quote_never_closed_and_writes_nothing() {
    let open = "email,name,region\nruth@example.org,\"Ruth Akande,London\nboth@example.org,Both,North\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.csv");
    std::fs::write(&path, open).unwrap();
    let shown = Path::new("subscribers/list.csv");
    let refused = |result: Result<(), Error>| {
        let Err(Error::Invalid(d)) = result else { panic!("edited: {result:?}") };
        assert_eq!(
            d.iter().map(|d| (d.code, d.location.as_ref().map(|l| (l.line, l.col)))).collect::<Vec<_>>(),
            [("subscribers/quote", Some((2, 18)))]
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), open, "nothing written");
    };
    refused(append_row(&path, shown, &subscriber("new@example.org", "New", &[])).map(drop));
    refused(upsert_rows(&path, shown, &[subscriber("both@example.org", "Both", &[])], Upsert::Reactivate).map(drop));
    refused(remove_address(&path, shown, "both@example.org").map(drop));
    refused(crate::subscribers::add_column(&path, shown, "plan"));
    refused(crate::subscribers::rename_column(&path, shown, "region", "area"));
}

#[test]
fn reactivate_never_lifts_a_bounced_row() {
    let header = "email,name,status\n";
    let back = subscriber("hard@example.org", "", &[]);
    let bounced = format!("{header}hard@example.org,Hard,bounced\n");
    upsert_case(
        &bounced,
        std::slice::from_ref(&back),
        Upsert::Reactivate,
        &[Appended::KeptBounced { line: 2 }],
        &bounced,
    );
    // Nor a later bounced row of the address, nor an unsubscribed first row beside it.
    let split = format!("{header}hard@example.org,Hard,unsubscribed\nHARD@example.org,,bounced\n");
    upsert_case(&split, &[back], Upsert::Reactivate, &[Appended::KeptBounced { line: 2 }], &split);
    // A new name is still merged in; the status stays.
    upsert_case(
        &bounced,
        &[subscriber("hard@example.org", "Hard Case", &[])],
        Upsert::Reactivate,
        &[Appended::KeptBounced { line: 2 }],
        &format!("{header}hard@example.org,Hard Case,bounced\n"),
    );
}
