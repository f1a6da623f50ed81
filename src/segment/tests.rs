//! The filter language: what it accepts, what it matches, and where it points when it refuses.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;
use serde::Deserialize;

use super::*;
use crate::diagnostic::Diagnostic;

#[derive(Deserialize)]
struct Front {
    audience: Raw,
}

/// Compile the `audience` of a front matter YAML (which starts on line 2 of its file).
fn segment(yaml: &str) -> Result<Segment, Vec<Diagnostic>> {
    let text = format!("---\n{yaml}---\n");
    let front: Front = serde_saphyr::from_str(yaml).expect("yaml");
    compile(&front.audience, Path::new("a.md"), &text, 2, None)
}

struct Person {
    attrs: BTreeMap<String, String>,
    subscribed_at: Option<Timestamp>,
}

impl Fields for Person {
    fn value(&self, field: &str) -> Option<&str> {
        self.attrs.get(field).map(String::as_str)
    }
    fn subscribed_at(&self) -> Option<Timestamp> {
        self.subscribed_at
    }
}

fn person(attrs: &[(&str, &str)], subscribed_at: Option<&str>) -> Person {
    Person {
        attrs: attrs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        subscribed_at: subscribed_at.map(|t| t.parse().unwrap()),
    }
}

#[track_caller]
fn matches(yaml: &str, who: &Person) -> bool {
    segment(yaml).unwrap_or_else(|d| panic!("{d:?}")).matches(who)
}

#[test]
fn a_mapping_of_a_field_to_values_matches_one_of_them_as_written() {
    let yaml = "audience: {region: [London, North West]}\n";
    assert!(matches(yaml, &person(&[("region", "London")], None)));
    assert!(matches(yaml, &person(&[("region", " north west ")], None)), "trimmed, any case");
    assert!(!matches(yaml, &person(&[("region", "Lancashire")], None)));
    assert!(!matches(yaml, &person(&[("region", "")], None)));
    assert!(!matches(yaml, &person(&[], None)), "a list without the column matches nobody");
}

#[test]
fn equality_negation_and_presence() {
    let pro = person(&[("plan", "pro"), ("phone", "0161")], None);
    let trial = person(&[("plan", "trial"), ("phone", " ")], None);
    assert!(matches("audience:\n  plan: pro\n", &pro));
    assert!(!matches("audience:\n  plan: pro\n", &trial));
    assert!(matches("audience:\n  plan: {not: trial}\n", &pro));
    assert!(!matches("audience:\n  plan: {not: [trial, free]}\n", &trial));
    assert!(matches("audience:\n  phone: {present: true}\n", &pro));
    assert!(!matches("audience:\n  phone: {present: true}\n", &trial), "blank is absent");
    assert!(matches("audience:\n  phone: {present: false}\n", &trial));
    assert!(matches("audience:\n  plan: {is: [pro, team]}\n", &pro));
}

#[test]
fn and_or_and_not_combine_filters() {
    let yaml = "audience:\n  any:\n    - {region: London}\n    - all: [{plan: pro}, {region: {not: Kent}}]\n";
    assert!(matches(yaml, &person(&[("region", "London"), ("plan", "trial")], None)));
    assert!(matches(yaml, &person(&[("region", "Devon"), ("plan", "pro")], None)));
    assert!(!matches(yaml, &person(&[("region", "Kent"), ("plan", "pro")], None)));
    let two = "audience:\n  region: London\n  plan: pro\n";
    assert!(!matches(two, &person(&[("region", "London"), ("plan", "trial")], None)), "entries all hold");
    let not = "audience:\n  not: {region: London}\n";
    assert!(matches(not, &person(&[("region", "Kent")], None)));
    assert!(!matches(not, &person(&[("region", "London")], None)));
}

#[test]
fn subscribed_at_is_compared_with_since_and_before() {
    let yaml = "audience:\n  subscribed_at: {since: 2026-01-01, before: \"2026-02-01T00:00:00Z\"}\n";
    assert!(matches(yaml, &person(&[], Some("2026-01-01T00:00:00Z"))), "since is inclusive");
    assert!(matches(yaml, &person(&[], Some("2026-01-31T23:59:59Z"))));
    assert!(!matches(yaml, &person(&[], Some("2026-02-01T00:00:00Z"))), "before is exclusive");
    assert!(!matches(yaml, &person(&[], None)), "no time, no match");
    assert!(matches("audience:\n  subscribed_at: {present: false}\n", &person(&[], None)));
}

#[test]
fn plain_dates_are_midnight_in_the_site_zone() {
    let yaml = "audience:\n  subscribed_at: {since: 2026-07-01}\n";
    let text = format!("---\n{yaml}---\n");
    let front: Front = serde_saphyr::from_str(yaml).unwrap();
    let london = jiff::tz::TimeZoneDatabase::bundled().get("Europe/London").unwrap();
    let segment = compile(&front.audience, Path::new("a.md"), &text, 2, Some(&london)).unwrap();
    assert_eq!(
        segment.filter,
        Filter::All(vec![Filter::All(vec![Filter::Since("2026-06-30T23:00:00Z".parse().unwrap())])])
    );
}

#[test]
fn the_fields_named_are_kept_with_their_places() {
    let segment = segment("title: x\naudience:\n  region: London\n  any: [{plan: pro}]\n").unwrap();
    let fields: Vec<_> = segment.fields.iter().map(|f| (f.value.as_str(), f.line, f.col)).collect();
    assert_eq!(fields, [("region", 4, 3), ("plan", 5, 10)]);
    assert_eq!((segment.location.line, segment.location.col), (4, 3));
}

#[track_caller]
fn error(yaml: &str, code: &str, line: usize, col: usize) -> Diagnostic {
    let errors = segment(yaml).unwrap_err();
    let location = errors[0].location.clone().unwrap();
    assert_eq!((errors[0].code, location.line, location.col), (code, line, col), "{}", errors[0]);
    errors[0].clone()
}

#[test]
fn mistakes_are_located_and_explained() {
    error("audience: London\n", "audience/shape", 2, 11);
    error("audience:\n  region: {isnt: London}\n", "audience/operator", 3, 12);
    let typo = error("audience:\n  phone: {presnt: true}\n", "audience/operator", 3, 11);
    assert_eq!(typo.help.as_deref(), Some("did you mean `present`?"));
    error("audience:\n  region: []\n", "audience/value", 3, 11);
    error("audience:\n  region:\n", "audience/value", 3, 9);
    error("audience:\n  email: a@example.org\n", "audience/field", 3, 3);
    error("audience:\n  status: active\n", "audience/field", 3, 3);
    error("audience:\n  subscribed_at: 2026-01-01\n", "audience/compare", 3, 18);
    error("audience:\n  region: {since: 2026-01-01}\n", "audience/compare", 3, 12);
    error("audience:\n  subscribed_at: {since: soon}\n", "audience/time", 3, 26);
    error("audience:\n  any: {region: London}\n", "audience/shape", 3, 8);
    error("audience:\n  phone: {present: maybe}\n", "audience/value", 3, 20);
}

#[test]
fn nothing_is_evaluated_as_code() {
    let yaml = "audience:\n  region: \"{{ 1 + 1 }}\"\n";
    assert!(matches(yaml, &person(&[("region", "{{ 1 + 1 }}")], None)));
    assert!(!matches(yaml, &person(&[("region", "2")], None)));
}
