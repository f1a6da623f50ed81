use super::*;

fn read(csv: &str) -> Result<Vec<Result<Subscriber, Diagnostic>>, Error> {
    let reader = ListReader::new(csv.as_bytes(), Path::new("/abs/list.csv"), Path::new("subscribers/list.csv"))?;
    Ok(reader.collect())
}

/// One problem row after a good one: the diagnostic's line, code and message, and the good row
/// still read.
#[track_caller]
fn case(header: &str, row: &str, code: &str, message: &str) {
    let good = format!("good@example.org{}", ",".repeat(header.matches(',').count()));
    let csv = format!("{header}\n{good}\n{row}\n");
    let rows = read(&csv).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].as_ref().map(|s| s.email.as_str()), Ok("good@example.org"));
    let d = rows[1].as_ref().unwrap_err();
    assert_eq!((d.code, d.message.as_str()), (code, message), "{d}");
    let location = d.location.as_ref().unwrap();
    assert_eq!((location.path.as_path(), location.line), (Path::new("subscribers/list.csv"), 3));
}

#[test]
fn bad_rows_are_located_and_explained() {
    let h = "email,name,status,subscribed_at";
    case(h, "bob.example.org,Bob,,", "subscribers/address", "`bob.example.org` is not a valid address: it has no `@`");
    case(h, ",Bob,,", "subscribers/address", "`` is not a valid address: it is empty");
    case(h, "bob@example.org,Bob,unsubscribe,", "subscribers/status", "unknown status `unsubscribe`");
    case(
        h,
        "bob@example.org,Bob,,2016-04-04 08:12",
        "subscribers/subscribed-at",
        "`subscribed_at` value `2016-04-04 08:12` is not an RFC 3339 timestamp with an offset",
    );
    case(
        h,
        "bob@example.org,Bob,,2016-04-04T08:12:00",
        "subscribers/subscribed-at",
        "`subscribed_at` value `2016-04-04T08:12:00` is not an RFC 3339 timestamp with an offset",
    );
    case(h, "bob@example.org,Bob", "subscribers/fields", "row has 2 fields but the header has 4");
    case(h, "bob@example.org,Smith, Bob,,", "subscribers/fields", "row has 5 fields but the header has 4");
    case(
        h,
        "bob@example.org,\"Bob\nBcc: x@evil.example\",,",
        "subscribers/control",
        "column `name` contains a line break",
    );
    case(h, "bob@example.org,Bob\r,,", "subscribers/control", "column `name` contains a line break");
    case(h, "bob@example.org,B\0b,,", "subscribers/control", "column `name` contains a NUL byte");
    case(
        "email,name,region",
        "bob@example.org,Bob,a\u{0}b",
        "subscribers/control",
        "column `region` contains a NUL byte",
    );
}

#[test]
fn invalid_utf8_is_reported_with_its_line_and_reading_goes_on() {
    let mut csv = b"email,name\nbob@example.org,Zo".to_vec();
    csv.extend_from_slice(&[0xeb, b'\n']);
    csv.extend_from_slice(b"ann@example.org,Ann\n");
    let rows: Vec<_> = ListReader::new(csv.as_slice(), Path::new("l.csv"), Path::new("l.csv")).unwrap().collect();
    let d = rows[0].as_ref().unwrap_err();
    assert_eq!(d.message, "column `name` is not valid UTF-8 (byte 3 of the value)");
    assert_eq!(d.location.as_ref().map(|l| l.line), Some(2));
    assert_eq!(rows[1].as_ref().map(|s| s.line), Ok(3));
}

#[test]
fn unknown_statuses_get_a_suggestion() {
    let rows = read("email,status\na@example.org,unsubscribe\nb@example.org,gone\n").unwrap();
    let helps: Vec<_> = rows.iter().map(|r| r.as_ref().unwrap_err().help.clone().unwrap()).collect();
    assert_eq!(helps, ["did you mean `unsubscribed`?", "use one of `active`, `unsubscribed`, `bounced`, `pending`"]);
}

#[test]
fn reads_every_column_into_a_subscriber() {
    let csv = "\u{feff}Email,Name,region,Status,subscribed_at\n Bob@Example.ORG , Bob Smith ,North West,Pending,2016-04-04T08:12:00+01:00\n";
    let reader = ListReader::new(csv.as_bytes(), Path::new("l.csv"), Path::new("l.csv")).unwrap();
    assert_eq!(reader.columns(), ["email", "name", "region", "status", "subscribed_at"]);
    let rows: Vec<_> = reader.collect();
    let expected = Subscriber {
        email: "Bob@example.org".to_owned(),
        name: "Bob Smith".to_owned(),
        attrs: BTreeMap::from([("region".to_owned(), "North West".to_owned())]),
        status: SubscriberStatus::Pending,
        subscribed_at: Some("2016-04-04T07:12:00Z".parse().unwrap()),
        line: 2,
    };
    assert_eq!(rows, [Ok(expected)]);
}

#[test]
fn optional_columns_default() {
    let rows = read("email\nbob@example.org\n").unwrap();
    let bob = rows[0].as_ref().unwrap();
    assert_eq!(
        (bob.name.as_str(), bob.status, bob.subscribed_at, bob.attrs.len()),
        ("", SubscriberStatus::Active, None, 0)
    );
}

#[test]
fn lines_are_right_with_crlf_blank_lines_and_no_final_newline() {
    #[track_caller]
    fn lines(csv: &str, expected: &[usize]) {
        let rows = read(csv).unwrap();
        let got: Vec<_> =
            rows.iter().map(|r| r.as_ref().map_or_else(|d| d.location.as_ref().unwrap().line, |s| s.line)).collect();
        assert_eq!(got, expected, "{csv:?}");
    }
    lines("email\r\na@example.org\r\nb@example.org\r\nbad\r\n", &[2, 3, 4]);
    lines("email\na@example.org\n\n\nb@example.org\nbad", &[2, 5, 6]);
    lines("email\r\n\r\na@example.org\r\n\r\nb@example.org", &[3, 5]);
    lines("\nemail\na@example.org\n", &[3]);
    lines("email,name\na@example.org,\"two\nlines\"\nb@example.org,x\n", &[2, 4]);
    let rows = read("email\r\nA@Example.org\r\n").unwrap();
    assert_eq!(rows[0].as_ref().map(|s| s.email.as_str()), Ok("A@example.org"), "no stray `\\r`");
}

#[track_caller]
fn header_case(csv: &str, message: &str, help: &str) {
    let Err(Error::Invalid(diagnostics)) = read(csv) else { panic!("header accepted: {csv:?}") };
    let [d] = diagnostics.as_slice() else { panic!("expected one diagnostic: {diagnostics:?}") };
    assert_eq!((d.code, d.message.as_str(), d.help.as_deref()), ("subscribers/header", message, Some(help)));
    assert_eq!(d.location.as_ref().map(|l| (l.path.as_path(), l.line)), Some((Path::new("subscribers/list.csv"), 1)));
}

#[test]
fn header_problems_are_one_diagnostic_at_line_1() {
    header_case("", "the list is empty: it has no header row", "start the file with a header row such as `email,name`");
    header_case("e-mail,name\n", "the header has no `email` column", "rename the column `e-mail` to `email`");
    header_case(
        "bob@example.org,Bob\n",
        "the header has no `email` column",
        "the first row must name the columns, e.g. `email,name`; it is `bob@example.org,Bob`",
    );
    header_case("email,name,Name\n", "column `name` appears twice in the header", "rename or delete one of them");
    header_case("email,,name\n", "column 2 of the header has no name", "name the column or delete it");
    header_case(
        "email,\"na\nme\"\n",
        "column 2 of the header contains a line break or a NUL byte",
        "a column name must fit on one line",
    );
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = read_list(&dir.path().join("none.csv"), Path::new("none.csv")).unwrap_err();
    assert!(matches!(error, Error::Io { action: "read", .. }), "{error}");
}

#[test]
fn a_bad_address_in_a_row_marked_unsubscribed_or_bounced_is_a_warning() {
    let rows = read("email,status\nold-address,bounced\ngone,unsubscribed\nnew-address,pending\nbad,\n").unwrap();
    let severities: Vec<_> =
        rows.iter().map(|r| r.as_ref().map_err(|d| (d.code, d.is_error(), d.help.is_some())).unwrap_err()).collect();
    assert_eq!(
        severities,
        [
            ("subscribers/address", false, true),
            ("subscribers/address", false, true),
            ("subscribers/address", true, false),
            ("subscribers/address", true, false),
        ],
        "only rows that can never be mailed are let off"
    );
}

/// The rendering of the one diagnostic of `csv`'s rows or header.
#[track_caller]
fn rendered(csv: &str) -> String {
    match read(csv) {
        Ok(rows) => {
            let errors: Vec<String> = rows.iter().filter_map(|r| r.as_ref().err()).map(ToString::to_string).collect();
            assert_eq!(errors.len(), 1, "{errors:?}");
            errors[0].clone()
        }
        Err(Error::Invalid(diagnostics)) => diagnostics[0].to_string(),
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn diagnostics_quote_the_row_with_a_caret_under_the_field() {
    assert_eq!(
        rendered("email,name,status\nbob@example.org,Bob,\nann@example.org,\"Ann, Jones\",gnoe\n"),
        "error: unknown status `gnoe`\n --> subscribers/list.csv:3:30\n  |\n3 | ann@example.org,\"Ann, Jones\",gnoe\n  |                              ^\n  = help: use one of `active`, `unsubscribed`, `bounced`, `pending`\n"
    );
    assert_eq!(
        rendered("email,name\n\nZoë,Zoë\n"),
        "error: `Zoë` is not a valid address: it has no `@`\n --> subscribers/list.csv:3:1\n  |\n3 | Zoë,Zoë\n  | ^\n"
    );
    assert_eq!(
        rendered("email,name\r\nzoe@example.org,Z\0e\r\n"),
        "error: column `name` contains a NUL byte\n --> subscribers/list.csv:2:17\n  |\n2 | zoe@example.org,Z\u{fffd}e\n  |                 ^\n  = help: a value must fit on one line; remove the line break or stray character\n"
    );
    assert_eq!(
        rendered("email,name\nzoe@example.org,\"Z\nBcc: x@example.org\"\n"),
        "error: column `name` contains a line break\n --> subscribers/list.csv:2:17\n  |\n2 | zoe@example.org,\"Z\n  |                 ^\n  = help: a value must fit on one line; remove the line break or stray character\n"
    );
    assert_eq!(
        rendered("\u{feff}e-mail,name\n"),
        "error: the header has no `email` column\n --> subscribers/list.csv:1:1\n  |\n1 | e-mail,name\n  | ^\n  = help: rename the column `e-mail` to `email`\n"
    );
    assert_eq!(
        rendered("email,name,email\n"),
        "error: column `email` appears twice in the header\n --> subscribers/list.csv:1:12\n  |\n1 | email,name,email\n  |            ^\n  = help: rename or delete one of them\n"
    );
}

#[test]
fn only_a_row_with_too_many_fields_is_told_to_quote_commas() {
    assert_eq!(
        rendered("email,name,region\nbob@example.org,Smith, Bob,London\n"),
        "error: row has 4 fields but the header has 3\n --> subscribers/list.csv:2:28\n  |\n2 | bob@example.org,Smith, Bob,London\n  |                            ^\n  = help: quote values that contain commas, e.g. `\"Smith, Anna\"`\n"
    );
    assert_eq!(
        rendered("email,name,region\nbob@example.org,Bob\n"),
        "error: row has 2 fields but the header has 3\n --> subscribers/list.csv:2:20\n  |\n2 | bob@example.org,Bob\n  |                    ^\n  = help: give every column a value, even an empty one: the header is `email,name,region`\n"
    );
}

#[test]
fn field_spans_respect_quotes_and_line_endings() {
    assert_eq!(field_spans(b"a,\"b,c\",d\r\nx"), [0..1, 2..7, 8..9]);
    assert_eq!(field_spans(b"a,\"b\nc\",\n"), [0..1, 2..7, 8..8]);
    assert_eq!(field_spans(b""), vec![0..0]);
}

#[test]
fn a_header_after_blank_lines_is_located_on_its_own_line() {
    assert_eq!(
        rendered("\n\nemail,name,Name\n"),
        "error: column `name` appears twice in the header\n --> subscribers/list.csv:3:12\n  |\n3 | email,name,Name\n  |            ^\n  = help: rename or delete one of them\n"
    );
    let Err(Error::Invalid(d)) = read("\r\n\nemail,name,Name") else { panic!("header accepted") };
    assert_eq!(d[0].location.as_ref().map(|l| (l.line, l.col)), Some((3, 12)));
}

/// The error that ends the reading of `csv`, after the rows read before it.
#[track_caller]
fn unclosed(csv: &str) -> (Vec<Result<Subscriber, Diagnostic>>, Diagnostic) {
    let mut reader = ListReader::new(csv.as_bytes(), Path::new("/abs/list.csv"), Path::new("subscribers/list.csv"))
        .map_err(|e| match e {
            Error::Invalid(mut d) if d.len() == 1 => d.remove(0),
            other => panic!("{other}"),
        });
    let rows: Vec<_> = match &mut reader {
        Ok(reader) => reader.by_ref().collect(),
        Err(d) => return (Vec::new(), d.clone()),
    };
    match reader.map(ListReader::finish) {
        Ok(Err(Error::Invalid(mut d))) if d.len() == 1 => (rows, d.remove(0)),
        other => panic!("the list was read to its end: {other:?} {rows:?}"),
    }
}

#[test]
fn a_quote_never_closed_is_an_error_for_the_list_located_at_the_quote() {
    let (rows, d) = unclosed(
        "email,name,region,status\nruth@example.org,\"Ruth Akande,London,\nboth@example.org,On Both Lists,North West,active\n",
    );
    assert!(rows.is_empty(), "no row is read out of the swallowed text: {rows:?}");
    assert_eq!(
        d.to_string(),
        "error: the quote opened at line 2, column 18 is never closed\n --> subscribers/list.csv:2:18\n  |\n2 | ruth@example.org,\"Ruth Akande,London,\n  |                  ^\n  = help: close the quote or remove the stray `\"`; until then every row after it is read as part of one value\n"
    );
    // Rows before it are read; a quote inside a value, `""` and a closed multi-line value are fine.
    let (rows, d) = unclosed(
        "email,name\na@example.org,Jo \"JJ\" Smith\nb@example.org,\"say \"\"hi\"\"\"\nc@example.org,\"x\ny\"\n\n\"d@example.org,D\ne@example.org,E\n",
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(d.location.as_ref().map(|l| (l.line, l.col)), Some((7, 1)));
    // In the header, after a byte-order mark.
    let (_, d) = unclosed("\u{feff}email,\"name\na@example.org,A\n");
    assert_eq!((d.code, d.location.as_ref().map(|l| (l.line, l.col))), ("subscribers/quote", Some((1, 7))));
}
