use std::path::Path;

use super::*;
use crate::state::{Reason, Scope};

/// The recipients, each list's counts and the invalid rows.
struct Computed {
    recipients: Vec<Subscriber>,
    per_list: Vec<ListCount>,
    diagnostics: Vec<Diagnostic>,
}

/// The audience of `lists`, collected.
fn audience(lists: &[ListFile], state: &State) -> Result<Computed, Error> {
    let mut all = Members::new(lists, state)?.one_per_address();
    let recipients = all.by_ref().map(|r| r.map(|r| r.subscriber)).collect::<Result<Vec<_>, _>>()?;
    let (per_list, diagnostics, keys) = all.finish();
    assert_eq!(keys.len(), recipients.len(), "one key per recipient");
    Ok(Computed { recipients, per_list, diagnostics })
}

/// Write `lists` (slug, CSV rows after an `email,status` header), suppress each `(address, scope)`
/// (`*` = every list), and compute the audience.
fn compute(lists: &[(&str, &str)], suppressions: &[(&str, &str)]) -> Computed {
    let dir = tempfile::tempdir().unwrap();
    let state = State::open(&dir.path().join("state.db"), Path::new("state.db")).unwrap();
    for &(address, scope) in suppressions {
        let scope = if scope == "*" { Scope::All } else { Scope::List(scope.to_owned()) };
        let at = "2024-01-01T00:00:00Z".parse().unwrap();
        state.suppress(address, &scope, Reason::Unsubscribed, "test", at).unwrap();
    }
    let files: Vec<ListFile> = lists
        .iter()
        .map(|&(slug, rows)| {
            let path = dir.path().join(format!("{slug}.csv"));
            std::fs::write(&path, format!("email,status\n{rows}")).unwrap();
            ListFile {
                slug: slug.to_owned(),
                shown: Path::new("subscribers").join(format!("{slug}.csv")),
                path,
                segment: None,
            }
        })
        .collect();
    audience(&files, &state).unwrap()
}

/// The recipients' addresses, and per list `[rows, invalid, active, suppressed, duplicates,
/// recipients]`.
#[track_caller]
fn case(lists: &[(&str, &str)], suppressions: &[(&str, &str)], recipients: &[&str], counts: &[[usize; 6]]) {
    let audience = compute(lists, suppressions);
    let emails: Vec<_> = audience.recipients.iter().map(|s| s.email.as_str()).collect();
    assert_eq!(emails, recipients);
    let got: Vec<_> = audience
        .per_list
        .iter()
        .map(|c| [c.rows, c.invalid, c.active, c.suppressed, c.duplicates, c.recipients])
        .collect();
    assert_eq!(got, counts);
    for c in &audience.per_list {
        assert_eq!(c.recipients, c.active - c.suppressed - c.duplicates, "{c:?}");
    }
}

#[test]
fn keeps_active_unsuppressed_first_seen_addresses() {
    case(&[("a", "x@example.org,\ny@example.org,\n")], &[], &["x@example.org", "y@example.org"], &[[2, 0, 2, 0, 0, 2]]);
    case(
        &[("a", "x@example.org,\nu@example.org,unsubscribed\nb@example.org,bounced\np@example.org,pending\nbad,\n")],
        &[],
        &["x@example.org"],
        &[[5, 1, 1, 0, 0, 1]],
    );
}

#[test]
fn deduplicates_within_and_across_lists_in_first_seen_order() {
    case(
        &[("a", "x@example.org,\nX@EXAMPLE.org,\nx+tag@example.org,\n"), ("b", "z@example.org,\nx@Example.org,\n")],
        &[],
        &["x@example.org", "x+tag@example.org", "z@example.org"],
        &[[3, 0, 3, 0, 1, 2], [2, 0, 2, 0, 1, 1]],
    );
}

#[test]
fn suppressions_apply_globally_or_to_their_list_only() {
    let lists = [("a", "x@example.org,\ny@example.org,\n"), ("b", "x@example.org,\ny@example.org,\n")];
    case(&lists, &[("X@example.org", "*")], &["y@example.org"], &[[2, 0, 2, 1, 0, 1], [2, 0, 2, 1, 1, 0]]);
    case(
        &lists,
        &[("x@example.org", "a")],
        &["y@example.org", "x@example.org"],
        &[[2, 0, 2, 1, 0, 1], [2, 0, 2, 0, 1, 1]],
    );
    case(
        &lists,
        &[("x@example.org", "c")],
        &["x@example.org", "y@example.org"],
        &[[2, 0, 2, 0, 0, 2], [2, 0, 2, 0, 2, 0]],
    );
}

#[test]
fn a_non_active_row_wins_over_an_active_row_of_the_same_list_only() {
    case(
        &[("a", "x@example.org,\ny@example.org,\nX@example.org,unsubscribed\n")],
        &[],
        &["y@example.org"],
        &[[3, 0, 2, 0, 1, 1]],
    );
    case(&[("a", "x@example.org,unsubscribed\nx@example.org,\n")], &[], &[], &[[2, 0, 1, 0, 1, 0]]);
    case(
        &[("a", "x@example.org,\n"), ("b", "x@example.org,unsubscribed\n")],
        &[],
        &["x@example.org"],
        &[[1, 0, 1, 0, 0, 1], [1, 0, 0, 0, 0, 0]],
    );
    case(
        &[("a", "x@example.org,\nx@example.org,bounced\n"), ("b", "x@example.org,\n")],
        &[],
        &["x@example.org"],
        &[[2, 0, 1, 0, 1, 0], [1, 0, 1, 0, 0, 1]],
    );
}

#[test]
fn invalid_rows_are_reported_and_a_bad_header_stops_everything() {
    let computed = compute(&[("a", "x@example.org,\nbad,\n")], &[]);
    assert_eq!(computed.diagnostics.len(), 1);
    assert_eq!(
        computed.diagnostics[0].location.as_ref().map(ToString::to_string).as_deref(),
        Some("subscribers/a.csv:3:1")
    );

    let dir = tempfile::tempdir().unwrap();
    let state = State::open(&dir.path().join("state.db"), Path::new("state.db")).unwrap();
    let path = dir.path().join("a.csv");
    std::fs::write(&path, "name\nBob\n").unwrap();
    let list = ListFile { slug: "a".to_owned(), shown: path.clone(), path, segment: None };
    assert!(matches!(audience(&[list], &state), Err(Error::Invalid(_))));
}

#[test]
fn members_stream_list_by_list_and_end_at_an_unreadable_list() {
    let dir = tempfile::tempdir().unwrap();
    let state = State::open(&dir.path().join("state.db"), Path::new("state.db")).unwrap();
    let good = dir.path().join("a.csv");
    std::fs::write(&good, "email\nx@example.org\ny@example.org\nx@example.org\n").unwrap();
    let lists = [
        ListFile { slug: "a".to_owned(), shown: good.clone(), path: good, segment: None },
        ListFile {
            slug: "b".to_owned(),
            shown: dir.path().join("missing.csv"),
            path: dir.path().join("missing.csv"),
            segment: None,
        },
    ];
    let mut members = Members::new(&lists, &state).unwrap();
    let first: Vec<_> = members.by_ref().take(3).map(|m| m.map(|m| (m.key, m.list))).collect::<Result<_, _>>().unwrap();
    // Both rows of `x` are members: Members does not fold, Recipients does.
    assert_eq!(
        first,
        [("x@example.org".to_owned(), 0), ("y@example.org".to_owned(), 0), ("x@example.org".to_owned(), 0)]
    );
    assert_eq!(members.counts()[0].recipients, 3);
    assert!(matches!(members.next(), Some(Err(Error::Io { .. }))), "the missing list ends the stream with its error");
    assert!(members.next().is_none());

    let mut recipients = Members::new(&lists, &state).unwrap().one_per_address();
    let first: Vec<_> = recipients.by_ref().take(2).map(|r| r.map(|r| r.key)).collect::<Result<_, _>>().unwrap();
    assert_eq!(first, ["x@example.org", "y@example.org"]);
    assert!(matches!(recipients.next(), Some(Err(Error::Io { .. }))), "past the folded row, the missing list");
    let (counts, _, keys) = recipients.finish();
    assert_eq!((counts[0].recipients, counts[0].duplicates, keys.len()), (2, 1, 2));
}

#[test]
fn a_segment_leaves_out_active_rows_before_suppressions_and_duplicates_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let state = State::open(&dir.path().join("state.db"), Path::new("state.db")).unwrap();
    let at = "2024-01-01T00:00:00Z".parse().unwrap();
    state.suppress("c@example.org", &Scope::All, Reason::Unsubscribed, "test", at).unwrap();
    let rows = "email,status,region\na@example.org,,London\nb@example.org,,Kent\nc@example.org,,London\n\
                d@example.org,unsubscribed,London\na@example.org,,london\n";
    let path = dir.path().join("a.csv");
    std::fs::write(&path, rows).unwrap();
    let segment = crate::segment::Segment {
        filter: crate::segment::Filter::OneOf { field: "region".to_owned(), values: vec!["London".to_owned()] },
        location: crate::diagnostic::Location::new("a.md", 4, 11),
        fields: Vec::new(),
    };
    let list = ListFile { slug: "a".to_owned(), shown: path.clone(), path, segment: Some(Arc::new(segment)) };
    let computed = audience(std::slice::from_ref(&list), &state).unwrap();
    let emails: Vec<_> = computed.recipients.iter().map(|s| s.email.as_str()).collect();
    assert_eq!(emails, ["a@example.org"]);
    let count = &computed.per_list[0];
    // b is outside; c is suppressed; d is not active; the second a is a duplicate.
    assert_eq!(
        (count.rows, count.active, count.outside, count.suppressed, count.duplicates, count.recipients),
        (5, 4, Some(1), 1, 1, 1)
    );
    let without = ListFile { segment: None, ..list };
    assert_eq!(audience(std::slice::from_ref(&without), &state).unwrap().per_list[0].outside, None);
}

#[test]
fn sign_ups_join_their_list_after_its_rows_by_the_precedence_rule_and_under_the_same_suppressions() {
    let dir = tempfile::tempdir().unwrap();
    let state = State::open(&dir.path().join("state.db"), Path::new("state.db")).unwrap();
    let attrs = std::collections::BTreeMap::new();
    let sign_up = |list: &str, email: &str, at: &str| {
        let signup = crate::state::NewSignup { list, email, name: "", attrs: &attrs, source: "test" };
        state.record_signup(&signup, at.parse().unwrap()).unwrap();
    };
    sign_up("a", "gus@example.org", "2026-01-01T00:00:00Z");
    let gus = state.unpulled_signups("a").unwrap();
    state.mark_pulled(&gus, "2026-01-02T00:00:00Z".parse().unwrap()).unwrap();
    sign_up("a", "ann@example.org", "2026-02-01T00:00:00Z");
    sign_up("a", "bob@example.org", "2026-02-02T00:00:00Z");
    sign_up("a", "dan@example.org", "2026-02-03T00:00:00Z");
    sign_up("a", "eve@example.org", "2026-02-04T00:00:00Z");
    sign_up("b", "fay@example.org", "2026-02-05T00:00:00Z");
    sign_up("b", "Ann@example.org", "2026-02-06T00:00:00Z");
    let at = "2026-01-01T00:00:00Z".parse().unwrap();
    state.suppress("eve@example.org", &Scope::List("a".into()), Reason::Unsubscribed, "test", at).unwrap();
    let a = dir.path().join("a.csv");
    std::fs::write(&a, "email,status\nann@example.org,\nbob@example.org,unsubscribed\ncarl@example.org,\n").unwrap();
    let files = [
        ListFile { slug: "a".into(), path: a, shown: "subscribers/a.csv".into(), segment: None },
        // No file yet: a list that only has sign-ups.
        ListFile { slug: "b".into(), path: dir.path().join("b.csv"), shown: "subscribers/b.csv".into(), segment: None },
    ];
    let audience = audience(&files, &state).unwrap();
    let emails: Vec<_> = audience.recipients.iter().map(|s| s.email.as_str()).collect();
    // ann: the CSV's active row (her sign-up adds nothing); bob: a status without a time is
    // older than his confirmation; gus: pulled, so the CSV alone says (and it has no row); eve:
    // suppressed on `a`; ann again on `b`: a duplicate of `a`'s.
    assert_eq!(
        emails,
        ["ann@example.org", "carl@example.org", "bob@example.org", "dan@example.org", "fay@example.org"]
    );
    let got: Vec<_> = audience
        .per_list
        .iter()
        .map(|c| [c.rows, c.active, c.suppressed, c.duplicates, c.recipients, c.signups])
        .collect();
    assert_eq!(got, [[6, 5, 1, 0, 4, 3], [2, 2, 0, 1, 1, 2]]);
    let bob = &audience.recipients[2];
    assert_eq!(
        (bob.status, bob.subscribed_at),
        (SubscriberStatus::Active, Some("2026-02-02T00:00:00Z".parse().unwrap()))
    );
}
