use super::*;
use crate::state::db::Backend;
use crate::state::testing::Fresh;

crate::state::testing::both!(
    links_are_recorded_once_and_counts_add_up_per_hour,
    a_resume_adds_the_links_of_new_editions_and_keeps_the_first,
    the_store_holds_aggregates_only,
);

const AT: Timestamp = Timestamp::constant(1_000_000, 0);

fn count(index: u16, hour: i64, counted: i64, filtered: i64) -> ClickCount {
    ClickCount { issue: "w/x".into(), index, hour, counted, filtered }
}

fn links_are_recorded_once_and_counts_add_up_per_hour(t: &Fresh) {
    let state = t.open();
    let links = [(0, "https://a.example/", "A"), (1, "https://b.example/", "B")];
    state.record_click_links("w/x", "00ff", links, AT).unwrap();
    state.record_click_links("w/x", "00ff", [(0, "https://changed.example/", "C")], AT).unwrap();
    let target = state.click_target("00ff", 0).unwrap().unwrap();
    assert_eq!(target, ClickTarget { issue: "w/x".into(), url: "https://a.example/".into(), sent_at: 1_000_000 });
    assert_eq!(state.click_target("00ff", 2).unwrap(), None);
    assert_eq!(state.click_target("beef", 0).unwrap(), None);
    assert_eq!(state.click_report("w/other").unwrap(), None);
    state.add_clicks(&[count(0, 3600, 2, 1), count(0, 7200, 1, 0)]).unwrap();
    state.add_clicks(&[count(0, 3600, 1, 5), count(0, 3600, -1, 1)]).unwrap();
    state.add_clicks(&[]).unwrap();
    let report = state.click_report("w/x").unwrap().unwrap();
    assert_eq!((report[0].counted, report[0].filtered), (3, 7));
    assert_eq!((report[0].text.as_str(), report[0].url.as_str()), ("A", "https://a.example/"));
    assert_eq!((report[1].index, report[1].counted, report[1].filtered), (1, 0, 0));
    assert_eq!(state.click_totals().unwrap(), [IssueClicks { issue: "w/x".into(), counted: 3, filtered: 7 }]);
}

fn a_resume_adds_the_links_of_new_editions_and_keeps_the_first(t: &Fresh) {
    let state = t.open();
    state.record_click_links("w/x", "00ff", [(0, "https://a.example/", "A")], AT).unwrap();
    let later = Timestamp::constant(2_000_000, 0);
    let links = [(0, "https://a.example/", "A"), (1, "https://regional.example/", "R")];
    state.record_click_links("w/x", "00ff", links, later).unwrap();
    let target = state.click_target("00ff", 1).unwrap().unwrap();
    assert_eq!((target.url.as_str(), target.sent_at), ("https://regional.example/", 1_000_000));
    assert_eq!(t.open().click_report("w/x").unwrap().unwrap().len(), 2, "committed, seen by another connection");
}

/// The tables of the store and each one's columns, in order.
fn schema(state: &State) -> Vec<(String, Vec<String>)> {
    let (tables, columns) = match state.conn.backend() {
        Backend::Sqlite => (
            "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
            "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        ),
        Backend::Postgres => (
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
             WHERE table_schema = current_schema() ORDER BY table_name",
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position",
        ),
    };
    let tables: Vec<String> = state.conn.query(tables, &[], |row| row.get(0)).unwrap();
    tables
        .into_iter()
        .map(|table| {
            let columns = state.conn.query(columns, params![&table], |row| row.get(0)).unwrap();
            (table, columns)
        })
        .collect()
}

/// Every value of `table`, as text.
fn values(state: &State, table: &str, columns: &[String]) -> Vec<String> {
    let cast: Vec<String> = columns.iter().map(|c| format!("CAST(\"{c}\" AS TEXT)")).collect();
    let sql = format!("SELECT {} FROM \"{table}\"", cast.join(", "));
    let rows = state
        .conn
        .query(&sql, &[], |row| (0..columns.len()).map(|i| row.get::<Option<String>>(i)).collect::<Result<Vec<_>, _>>())
        .unwrap();
    rows.into_iter().flatten().flatten().collect()
}

/// Aggregate-only storage (issue 16): the click tables have no column for an address, a network
/// address, an agent or a cookie, and after a send's link table and a batch of counts their
/// rows hold issues, links, hours and counts only — on either backend.
fn the_store_holds_aggregates_only(t: &Fresh) {
    let mut state = t.open();
    let reader = crate::state::NewRecipient {
        address_key: "reader@example.org".into(),
        email: "Reader@Example.org".into(),
        name: "Reader".into(),
        attrs: [("region".to_owned(), "London".to_owned())].into(),
        list: "weekly".into(),
        token_id: None,
        message_id: None,
    };
    state.add_recipients("w/x", std::iter::once(reader), AT).unwrap();
    let links = [(0, "https://example.net/story", "The story"), (1, "https://example.net/more", "More")];
    state.record_click_links("w/x", "00ff", links, AT).unwrap();
    state.add_clicks(&[count(0, 3600, 3, 1), count(1, 3600, 0, 2)]).unwrap();
    let schema = schema(&state);
    let click_tables: Vec<_> = schema.iter().filter(|(table, _)| table.starts_with("click_")).collect();
    let expected = [
        ("click_counts", &["issue", "idx", "hour", "counted", "filtered"][..]),
        ("click_issues", &["issue", "key", "sent_at"]),
        ("click_links", &["issue", "idx", "url", "text"]),
    ];
    assert_eq!(click_tables.len(), expected.len(), "{schema:?}");
    for ((table, columns), (want, want_columns)) in click_tables.iter().zip(expected) {
        assert_eq!(table, want);
        assert_eq!(columns, want_columns);
        let values = values(&state, table, columns);
        assert!(!values.is_empty(), "{table} is empty");
        for value in values {
            for needle in ["@", "reader", "Reader", "London", "127.0.0.1", "Mozilla"] {
                assert!(!value.contains(needle), "`{table}` holds `{needle}`: {value}");
            }
        }
    }
    let personal = ["ip", "addr", "agent", "cookie", "email", "address_key", "user"];
    for (table, columns) in click_tables {
        for column in columns {
            assert!(!personal.iter().any(|p| column.contains(p)), "`{table}.{column}` could hold a reader's data");
        }
    }
}
