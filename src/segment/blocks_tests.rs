//! The block pre-pass: what it finds, what each edition's body is, and where it points when it
//! refuses.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;

struct Reader(BTreeMap<String, String>);

impl Fields for Reader {
    fn value(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }
    fn subscribed_at(&self) -> Option<jiff::Timestamp> {
        None
    }
}

fn reader(region: &str) -> Reader {
    Reader([("region".to_owned(), region.to_owned())].into())
}

/// Parse a body that starts on line 3 of its file.
fn blocks(body: &str) -> (Blocks, Vec<Diagnostic>) {
    let text = format!("---\n---\n{body}");
    parse(body, Path::new("a.md"), &text, 3)
}

const BODY: &str = "Intro.\n\n::: only region=\"London\"\nLondon news.\n:::\n\n::: only region=[\"Kent\",\"London\"]\nKent news.\n:::\n\nOutro.\n";

#[test]
fn each_reader_gets_the_text_outside_blocks_and_their_blocks() {
    let (found, problems) = blocks(BODY);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(found.blocks.len(), 2);
    assert_eq!(found.blocks[0].label, "Only for readers in London");
    assert_eq!((found.blocks[1].location.line, found.blocks[1].location.col), (9, 1));
    assert_eq!(found.set_of(&reader("london")), 0b11);
    assert_eq!(found.set_of(&reader("Kent")), 0b10);
    assert_eq!(found.set_of(&reader("Devon")), 0);
    assert_eq!(found.select(BODY, 0), "Intro.\n\n\n\nOutro.\n");
    assert_eq!(found.select(BODY, 0b10), "Intro.\n\n\nKent news.\n\nOutro.\n");
    assert_eq!(found.select(BODY, found.all()), "Intro.\n\nLondon news.\n\nKent news.\n\nOutro.\n");
}

#[test]
fn the_blanked_body_keeps_every_line_in_place() {
    let (found, _) = blocks(BODY);
    let blanked = found.blanked(BODY);
    assert_eq!(blanked.lines().count(), BODY.lines().count());
    assert_eq!(blanked, "Intro.\n\n\nLondon news.\n\n\n\nKent news.\n\n\nOutro.\n");
}

#[test]
fn the_labelled_body_wraps_each_block_under_its_label() {
    let (found, _) = blocks("::: only plan=\"<pro>\"\nPro.\n:::\n");
    assert_eq!(
        found.labelled("::: only plan=\"<pro>\"\nPro.\n:::\n"),
        "\n<div class=\"only\">\n<p class=\"only-label\"><strong>Only for readers whose plan is &lt;pro&gt;</strong></p>\n\nPro.\n\n</div>\n\n"
    );
}

#[test]
fn fenced_code_is_not_read_for_blocks() {
    let body = "```\n::: only region=\"London\"\n```\n~~~~\n:::\n~~~~\n";
    let (found, problems) = blocks(body);
    assert!(found.is_empty() && problems.is_empty(), "{problems:?}");
}

#[track_caller]
fn problem(body: &str, code: &str, line: usize, col: usize) -> Diagnostic {
    let (_, problems) = blocks(body);
    assert!(!problems.is_empty(), "no problem in {body:?}");
    let location = problems[0].location.clone().unwrap();
    assert_eq!((problems[0].code, location.line, location.col), (code, line, col), "{}", problems[0]);
    problems[0].clone()
}

#[test]
fn mistakes_are_located_and_explained() {
    problem("Hi.\n::: only region=\"London\"\nText.\n", "block/unclosed", 4, 1);
    problem("::: only region=\"London\"\n::: only region=\"Kent\"\n:::\n:::\n", "block/nested", 4, 1);
    problem("Text.\n:::\n", "block/stray-close", 4, 1);
    let typo = problem("::: onyl region=\"London\"\n:::\n", "block/kind", 3, 5);
    assert_eq!(typo.help.as_deref(), Some("did you mean `only`?"));
    problem("::: only region=\"London\n:::\n", "block/filter", 3, 17);
    problem("::: only  plan=[]\n:::\n", "block/filter", 3, 16);
    problem("::: only status=active\n:::\n", "block/field", 3, 10);
}

#[test]
fn the_fields_are_kept_where_they_were_written() {
    let (found, _) = blocks("::: only region=London  plan!=trial\n:::\n");
    let fields: Vec<_> = found.blocks[0].fields.iter().map(|f| (f.value.as_str(), f.line, f.col)).collect();
    assert_eq!(fields, [("region", 3, 10), ("plan", 3, 25)]);
}
