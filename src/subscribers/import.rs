//! Reading other tools' subscriber exports for `subscribers import`.
//!
//! Enters: a CSV export from listmonk, Mailchimp, Substack, Buttondown or anything with an email
//! column, and the target list's attribute columns. Leaves: an [`Export`]: which tool it looks
//! like, one [`ExportRow`] per data row (address as written, name, status, time, attributes for
//! the list's columns), and the columns nothing maps to. Validation of the addresses happens when
//! rows are added to the list, so every problem is reported against the export's line.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;

use super::SubscriberStatus;
use crate::error::Error;

/// Header names (lower-cased) that hold the address, in order of preference.
const EMAIL: &[&str] = &["email", "email address", "e-mail", "e-mail address", "email_address", "subscriber email"];
const NAME: &[&str] = &["name", "full name", "full_name", "display name"];
const FIRST: &[&str] = &["first name", "first_name", "firstname", "fname", "given name"];
const LAST: &[&str] = &["last name", "last_name", "lastname", "lname", "surname", "family name"];
/// Header names (lower-cased) that hold when a subscriber subscribed, in order of preference for
/// each row: the first non-empty one is its consent evidence. Mailchimp: `CONFIRM_TIME` (the
/// double opt-in), else `OPTIN_TIME`, else `LAST_CHANGED`; Substack and listmonk: `created_at`;
/// Buttondown: `creation_date`.
const SUBSCRIBED: &[&str] = &[
    "subscribed_at",
    "confirm_time",
    "optin_time",
    "last_changed",
    "created_at",
    "creation_date",
    "date added",
    "subscription date",
];

/// A parsed export file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// The tool the header looks like: `listmonk`, `Mailchimp`, `Substack`, `Buttondown` or `CSV`.
    pub source: &'static str,
    /// The data rows, in file order.
    pub rows: Vec<ExportRow>,
    /// Header names nothing was taken from.
    pub ignored_columns: Vec<String>,
}

/// One data row of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    /// 1-based line in the export.
    pub line: usize,
    /// The address as written, or why the row could not be read at all.
    pub email: Result<String, String>,
    /// Name (joined from first and last name where the export splits it).
    pub name: String,
    /// The export's idea of the subscriber's status.
    pub status: SubscriberStatus,
    /// The export says the address complained (marked mail as spam: `complained`, `spammy`);
    /// its status is then [`SubscriberStatus::Unsubscribed`], and its suppression a complaint.
    pub complained: bool,
    /// When they subscribed, when the export says (`None` when the row has no time), or why
    /// the time it gives cannot be read.
    pub subscribed_at: Result<Option<Timestamp>, String>,
    /// Values for the target list's attribute columns.
    pub attrs: BTreeMap<String, String>,
}

/// Read the export at `path` (`shown` in messages), mapping its columns onto a list whose
/// attribute columns are `list_attrs`.
pub fn read_export(path: &Path, shown: &Path, list_attrs: &[String]) -> Result<Export, Error> {
    use std::io::{BufRead, Read};
    let file = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
    let mut reader = std::io::BufReader::new(file);
    let mut first = Vec::new();
    reader.read_until(b'\n', &mut first).map_err(|e| Error::io("read", path, e))?;
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(&first))
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(std::io::Cursor::new(first).chain(reader));
    let mut records = csv.byte_records();
    let header = match records.next() {
        Some(Ok(header)) => header.iter().map(|h| cell(h).trim_start_matches('\u{feff}').trim().to_owned()).collect(),
        Some(Err(e)) => return Err(Error::usage(format!("cannot read `{}`: {e}", shown.display()))),
        None => Vec::new(),
    };
    let map = Mapping::new(&header, list_attrs).ok_or_else(|| {
        Error::usage(format!("`{}` has no email column (looked for: {})", shown.display(), EMAIL.join(", ")))
    })?;
    let mut rows = Vec::new();
    for record in records {
        match record {
            Ok(record) if record.iter().all(|f| cell(f).trim().is_empty()) => {}
            // A row with more fields than the header has a value shifted into the wrong column
            // (an unquoted comma); one with fewer was cut short. Tools write full rows.
            Ok(record) if record.len() != header.len() => {
                let line = record.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
                let hint = if record.len() > header.len() {
                    "quote values that contain commas, e.g. `\"Smith, Anna\"`"
                } else {
                    "give every column a value, even an empty one"
                };
                let why = format!("row has {} fields but the header has {}: {hint}", record.len(), header.len());
                rows.push(ExportRow::unreadable(line, why));
            }
            Ok(record) => rows.push(map.row(&record)),
            Err(e) => {
                let line = e.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
                rows.push(ExportRow::unreadable(line, e.to_string()));
            }
        }
    }
    Ok(Export { source: map.source, ignored_columns: map.ignored(&header), rows })
}

/// The field separator of an export, told from its header line: `,`, unless the line has
/// more `;` (spreadsheets in locales whose decimal separator is a comma write those) or tabs
/// (a spreadsheet's "text" export) outside quotes than commas.
fn delimiter(header: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &byte in header {
        match byte {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], std::cmp::Reverse(i))).unwrap_or(0);
    if counts[best] == 0 { b',' } else { [b',', b';', b'\t'][best] }
}

/// Which export column feeds what.
struct Mapping {
    source: &'static str,
    email: usize,
    name: Option<usize>,
    first: Option<usize>,
    last: Option<usize>,
    status: Option<(usize, &'static str)>,
    subscribed: Vec<usize>,
    listmonk_attrs: Option<usize>,
    attrs: Vec<(usize, String)>,
    list_attrs: Vec<String>,
    header: Vec<String>,
}

impl Mapping {
    fn new(header: &[String], list_attrs: &[String]) -> Option<Self> {
        let find = |names: &[&str]| names.iter().find_map(|n| header.iter().position(|h| h.eq_ignore_ascii_case(n)));
        let has = |name: &str| header.iter().any(|h| h.eq_ignore_ascii_case(name));
        let source = if has("uuid") && has("attributes") {
            "listmonk"
        } else if has("email address") {
            "Mailchimp"
        } else if has("subscriber_type") {
            "Buttondown"
        } else if has("email_disabled") || has("active_subscription") {
            "Substack"
        } else {
            "CSV"
        };
        let status = find(&["status"])
            .map(|i| (i, "status"))
            .or_else(|| find(&["subscriber_type"]).map(|i| (i, "subscriber_type")))
            .or_else(|| find(&["email_disabled"]).map(|i| (i, "email_disabled")));
        let attrs = list_attrs
            .iter()
            .filter_map(|a| header.iter().position(|h| h.eq_ignore_ascii_case(a)).map(|i| (i, a.clone())));
        Some(Self {
            source,
            email: find(EMAIL)?,
            name: find(NAME),
            first: find(FIRST),
            last: find(LAST),
            status,
            subscribed: SUBSCRIBED
                .iter()
                .filter_map(|n| header.iter().position(|h| h.eq_ignore_ascii_case(n)))
                .collect(),
            listmonk_attrs: (source == "listmonk").then(|| find(&["attributes"])).flatten(),
            attrs: attrs.collect(),
            list_attrs: list_attrs.to_vec(),
            header: header.to_vec(),
        })
    }

    /// The columns something is taken from.
    fn used(&self) -> Vec<usize> {
        [Some(self.email), self.name, self.first, self.last, self.status.map(|s| s.0), self.listmonk_attrs]
            .into_iter()
            .flatten()
            .chain(self.subscribed.iter().copied())
            .chain(self.attrs.iter().map(|(i, _)| *i))
            .collect()
    }

    fn ignored(&self, header: &[String]) -> Vec<String> {
        let used = self.used();
        header.iter().enumerate().filter(|(i, _)| !used.contains(i)).map(|(_, h)| h.clone()).collect()
    }

    fn row(&self, record: &csv::ByteRecord) -> ExportRow {
        let line = record.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
        // A value that is not UTF-8 would be written with U+FFFD in place of its bytes: the row
        // is skipped instead, as one with such an address is (below).
        let not_utf8 = self
            .used()
            .into_iter()
            .filter(|&i| i != self.email)
            .find(|&i| record.get(i).is_some_and(|f| std::str::from_utf8(f).is_err()));
        if let Some(i) = not_utf8 {
            let column = self.header.get(i).map_or("", String::as_str);
            return ExportRow::unreadable(line, format!("`{column}` is not valid UTF-8"));
        }
        let get =
            |i: Option<usize>| i.and_then(|i| record.get(i)).map(|f| cell(f).trim().to_owned()).unwrap_or_default();
        let raw_email = record.get(self.email).map(|f| std::str::from_utf8(f).map(|s| s.trim().to_owned()));
        let email = match raw_email {
            Some(Ok(email)) if !email.is_empty() => Ok(email),
            Some(Ok(_)) | None => Err("no address".to_owned()),
            Some(Err(_)) => Err("not valid UTF-8".to_owned()),
        };
        let name = match self.name.map(|i| get(Some(i))).filter(|n| !n.is_empty()) {
            Some(name) => name,
            None => {
                [get(self.first), get(self.last)].into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ")
            }
        };
        let mut attrs: BTreeMap<String, String> =
            self.attrs.iter().map(|(i, a)| (a.clone(), get(Some(*i)))).filter(|(_, v)| !v.is_empty()).collect();
        if let Some(json) = self.listmonk_attrs.map(|i| get(Some(i))) {
            listmonk_attributes(&json, &self.list_attrs, &mut attrs);
        }
        let status_cell = self.status.map(|(i, kind)| (kind, get(Some(i))));
        let status = status_cell.as_ref().map_or(SubscriberStatus::Active, |(kind, value)| status(kind, value));
        let complained = status_cell.is_some_and(|(kind, value)| complaint(kind, &value));
        let time = self.subscribed.iter().map(|&i| (i, get(Some(i)))).find(|(_, v)| !v.is_empty());
        let subscribed_at = match time {
            None => Ok(None),
            Some((i, value)) => timestamp(&value).map(Some).ok_or_else(|| {
                let column = self.header.get(i).map_or("", String::as_str);
                format!("`{column}` value `{value}` is not a date and time")
            }),
        };
        ExportRow { line, email, name, status, complained, subscribed_at, attrs }
    }
}

impl ExportRow {
    fn unreadable(line: usize, why: String) -> Self {
        Self {
            line,
            email: Err(why),
            name: String::new(),
            status: SubscriberStatus::Active,
            complained: false,
            subscribed_at: Ok(None),
            attrs: BTreeMap::new(),
        }
    }
}

/// A cell as text; invalid UTF-8 is replaced (in the header, and in cells nothing is taken from:
/// a row with such a value in a column that is used is invalid, see [`Mapping::row`]).
fn cell(field: &[u8]) -> std::borrow::Cow<'_, str> {
    let text = String::from_utf8_lossy(field);
    match text {
        std::borrow::Cow::Borrowed(s) => std::borrow::Cow::Borrowed(s.trim_end_matches('\r')),
        std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s.trim_end_matches('\r').to_owned()),
    }
}

/// The export's status words, per tool.
fn status(kind: &str, value: &str) -> SubscriberStatus {
    let value = value.trim().to_ascii_lowercase();
    match (kind, value.as_str()) {
        ("email_disabled", "true") => SubscriberStatus::Unsubscribed,
        ("email_disabled", _) => SubscriberStatus::Active,
        (_, "unsubscribed" | "disabled" | "blocklisted" | "removed" | "complained" | "spammy") => {
            SubscriberStatus::Unsubscribed
        }
        // Mailchimp's "cleaned" members are its hard bounces.
        (_, "bounced" | "cleaned") => SubscriberStatus::Bounced,
        (_, "pending" | "unconfirmed" | "unactivated") => SubscriberStatus::Pending,
        _ => SubscriberStatus::Active,
    }
}

/// Whether the export's status word says the address complained (marked mail as spam).
fn complaint(kind: &str, value: &str) -> bool {
    kind != "email_disabled" && matches!(value.trim().to_ascii_lowercase().as_str(), "complained" | "spammy")
}

/// RFC 3339 (a space for the `T` too, as listmonk writes it: `2020-01-01 10:00:00.000000+00:00`),
/// or a zone-less `YYYY-MM-DD HH:MM:SS[.fff]`, which Mailchimp writes in UTC.
fn timestamp(value: &str) -> Option<Timestamp> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    value.parse::<Timestamp>().ok().or_else(|| {
        let civil = value.replacen(' ', "T", 1);
        civil.parse::<jiff::civil::DateTime>().ok()?.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp())
    })
}

/// listmonk keeps attributes as a JSON object in one column; take the keys the list has.
fn listmonk_attributes(json: &str, wanted: &[String], attrs: &mut BTreeMap<String, String>) {
    let Ok(serde_json::Value::Object(object)) = serde_json::from_str::<serde_json::Value>(json) else {
        return;
    };
    for key in wanted {
        if let Some(value) = object.get(key) {
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            attrs.entry(key.clone()).or_insert(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(text: &str, attrs: &[&str]) -> Export {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        std::fs::write(&path, text).unwrap();
        let attrs: Vec<String> = attrs.iter().map(|a| (*a).to_owned()).collect();
        read_export(&path, Path::new("export.csv"), &attrs).unwrap()
    }

    #[track_caller]
    fn case(text: &str, source: &str, expected: &[(&str, &str, SubscriberStatus)]) {
        let export = export(text, &["region"]);
        assert_eq!(export.source, source);
        let rows: Vec<(String, String, SubscriberStatus)> =
            export.rows.iter().map(|r| (r.email.clone().unwrap_or_default(), r.name.clone(), r.status)).collect();
        let expected: Vec<(String, String, SubscriberStatus)> =
            expected.iter().map(|(e, n, s)| ((*e).to_owned(), (*n).to_owned(), *s)).collect();
        assert_eq!(rows, expected);
    }

    #[test]
    fn maps_each_tools_headers() {
        use SubscriberStatus::{Active, Pending, Unsubscribed};
        case(
            "\u{feff}Email Address,First Name,Last Name,OPTIN_TIME\r\nsiobhan@example.org,Siobhán,O’Neill,2016-12-01 09:00:00\r\n",
            "Mailchimp",
            &[("siobhan@example.org", "Siobhán O’Neill", Active)],
        );
        case(
            "uuid,email,name,attributes,status,created_at\n1,a@example.org,A,\"{\"\"region\"\": \"\"London\"\"}\",enabled,2020-01-01 10:00:00\n2,b@example.org,B,{},blocklisted,\n",
            "listmonk",
            &[("a@example.org", "A", Active), ("b@example.org", "B", Unsubscribed)],
        );
        case(
            "email,active_subscription,email_disabled,created_at\nc@example.net,false,true,2021-05-01T00:00:00Z\nd@example.net,true,false,\n",
            "Substack",
            &[("c@example.net", "", Unsubscribed), ("d@example.net", "", Active)],
        );
        case(
            "email,subscriber_type,creation_date,notes\ne@example.com,unactivated,2022-07-01T08:00:00+01:00,\nf@example.com,regular,,\n",
            "Buttondown",
            &[("e@example.com", "", Pending), ("f@example.com", "", Active)],
        );
    }

    /// A spreadsheet's export in a locale whose decimal separator is a comma separates fields
    /// with `;`, its "text" export with tabs; a comma inside a quoted name is not a separator.
    #[test]
    fn reads_semicolon_and_tab_separated_exports() {
        use SubscriberStatus::Active;
        case(
            "\u{feff}E-Mail;Name;Region\r\nanna@example.org;\"Schmidt, Anna\";Köln\r\nbob@example.org;Bob;Berlin\r\n",
            "CSV",
            &[("anna@example.org", "Schmidt, Anna", Active), ("bob@example.org", "Bob", Active)],
        );
        assert_eq!(export("email;name;region\na@example.org;A;Köln\n", &["region"]).rows[0].attrs["region"], "Köln");
        case("email\tname\nc@example.org\tC, Jr\n", "CSV", &[("c@example.org", "C, Jr", Active)]);
        case("\"notes; misc\",email,name\nx,d@example.org,D\n", "CSV", &[("d@example.org", "D", Active)]);
        for (header, expected) in
            [("email", b','), ("a,b;c", b','), ("a;b;c,d", b';'), ("a\tb", b'\t'), ("\"a,b\";c", b';')]
        {
            assert_eq!(delimiter(header.as_bytes()), expected, "{header}");
        }
    }

    #[test]
    fn keeps_list_attributes_and_reports_ignored_columns() {
        let export = export("email,name,Region,plan\na@example.org,A,London,pro\n", &["region"]);
        assert_eq!(export.rows[0].attrs.get("region").map(String::as_str), Some("London"));
        assert_eq!(export.ignored_columns, ["plan"]);
        assert_eq!(export.rows[0].line, 2);
        let listmonk = self::export(
            "uuid,email,name,attributes,status\n1,a@example.org,A,\"{\"\"region\"\":\"\"North West\"\"}\",enabled\n",
            &["region"],
        );
        assert_eq!(listmonk.rows[0].attrs.get("region").map(String::as_str), Some("North West"));
    }

    #[test]
    fn each_tools_subscription_time_is_kept_in_order_of_preference() {
        let times = |text: &str| -> Vec<Result<Option<String>, String>> {
            export(text, &[]).rows.iter().map(|r| r.subscribed_at.clone().map(|t| t.map(|t| t.to_string()))).collect()
        };
        let ok = |t: &str| Ok(Some(t.to_owned()));
        assert_eq!(
            times(
                "Email Address,OPTIN_TIME,CONFIRM_TIME,LAST_CHANGED\na@x.org,2016-12-01 09:00:00,2016-12-01 09:05:00,2017-01-01 00:00:00\nb@x.org,2016-01-01 09:00:00,,2017-01-01 00:00:00\nc@x.org,,,2017-01-01 00:00:00\nd@x.org,,,\ne@x.org,soon,,\n"
            ),
            [
                ok("2016-12-01T09:05:00Z"),
                ok("2016-01-01T09:00:00Z"),
                ok("2017-01-01T00:00:00Z"),
                Ok(None),
                Err("`OPTIN_TIME` value `soon` is not a date and time".to_owned())
            ]
        );
        assert_eq!(times("email,created_at\na@x.org,2021-05-01T00:00:00.000Z\n"), [ok("2021-05-01T00:00:00Z")]);
        assert_eq!(times("email,creation_date\na@x.org,2022-07-01T08:00:00+01:00\n"), [ok("2022-07-01T07:00:00Z")]);
    }

    #[test]
    fn complaints_are_told_apart_from_unsubscribes() {
        use SubscriberStatus::{Active, Unsubscribed};
        let export =
            export("email,status\na@x.org,complained\nb@x.org,Spammy\nc@x.org,unsubscribed\nd@x.org,active\n", &[]);
        let got: Vec<_> = export.rows.iter().map(|r| (r.status, r.complained)).collect();
        assert_eq!(got, [(Unsubscribed, true), (Unsubscribed, true), (Unsubscribed, false), (Active, false)]);
    }

    /// Each row's line and address, or why it cannot be imported.
    fn rows(export: &Export) -> Vec<(usize, Result<String, String>)> {
        export.rows.iter().map(|r| (r.line, r.email.clone())).collect()
    }

    #[test]
    fn a_row_whose_field_count_is_not_the_headers_is_invalid() {
        let export = export(
            "email,name,region\nanna@example.org,Smith, Anna,Wales\nshort@example.org\nok@example.org,Ok,\n",
            &["region"],
        );
        assert_eq!(
            rows(&export),
            [
                (2, Err("row has 4 fields but the header has 3: quote values that contain commas, e.g. `\"Smith, Anna\"`".to_owned())),
                (3, Err("row has 1 fields but the header has 3: give every column a value, even an empty one".to_owned())),
                (4, Ok("ok@example.org".to_owned())),
            ]
        );
    }

    #[test]
    fn a_used_value_that_is_not_utf8_makes_the_row_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        std::fs::write(&path, b"email,name,notes\nf@example.org,Jos\xe9,\ng@example.org,G,caf\xe9\n").unwrap();
        let export = read_export(&path, Path::new("export.csv"), &[]).unwrap();
        assert_eq!(
            rows(&export),
            [(2, Err("`name` is not valid UTF-8".to_owned())), (3, Ok("g@example.org".to_owned()))],
            "an ignored column's bytes do not matter"
        );
    }

    #[test]
    fn reads_times_with_or_without_zone() {
        assert_eq!(
            timestamp("2020-01-01 10:00:00.000000+02:00").map(|t| t.to_string()).as_deref(),
            Some("2020-01-01T08:00:00Z")
        );
        assert_eq!(
            timestamp("2016-12-01 09:00:00.5").map(|t| t.to_string()).as_deref(),
            Some("2016-12-01T09:00:00.5Z")
        );
        assert_eq!(timestamp("2016-12-01 09:00:00").map(|t| t.to_string()).as_deref(), Some("2016-12-01T09:00:00Z"));
        assert_eq!(
            timestamp("2022-07-01T08:00:00+01:00").map(|t| t.to_string()).as_deref(),
            Some("2022-07-01T07:00:00Z")
        );
        assert_eq!(timestamp("yesterday"), None);
    }
}
