//! Unit tests for the plain-text renderer.

use super::{MAX_COLUMNS, WIDTH, render_text};
use proptest::prelude::*;
use pulldown_cmark::{Alignment, CowStr, Event, LinkType, Options, Parser, Tag};
use unicode_width::UnicodeWidthStr;

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_SMART_PUNCTUATION
        | Options::ENABLE_HEADING_ATTRIBUTES
}

fn render(markdown: &str) -> String {
    render_text(Parser::new_ext(markdown, options()))
}

#[track_caller]
fn case(markdown: &str, expected: &str) {
    assert_eq!(render(markdown), expected, "markdown: {markdown:?}");
}

const LONG_URL: &str = "https://example.org/archive/2024/issues/a-very-long-path-segment-that-goes-on/and-on-and-on";

#[test]
fn paragraphs() {
    case("", "\n");
    case("Hello, *world*.", "Hello, world.\n");
    case(
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
         incididunt ut labore et dolore magna aliqua.",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod\n\
         tempor incididunt ut labore et dolore magna aliqua.\n",
    );
    case("one\ntwo\n\n\n\nthree", "one two\n\nthree\n");
    case("one  \ntwo\\\nthree", "one\ntwo\nthree\n");
    case("spaced   out\t text  ", "spaced out text\n");
    case(&format!("Read {LONG_URL} today."), &format!("Read\n{LONG_URL}\ntoday.\n"));
    case(
        "well-known-and-hyphenated-compound-words-stay-whole-even-when-they-would-fit-split",
        "well-known-and-hyphenated-compound-words-stay-whole-even-when-they-would-fit-split\n",
    );
    // Double-width characters: 14 × (4 + 1) - 1 = 69 columns, 15 would be 74.
    case("漢字 ".repeat(20).trim(), &format!("{}\n{}\n", "漢字 ".repeat(14).trim(), "漢字 ".repeat(6).trim()));
}

#[test]
fn inline_markup() {
    case("*em* **strong** ~~gone~~ `a  b` ***both***", "em strong gone a b both\n");
}

#[test]
fn headings() {
    case("# Title\n\nText", "Title\n=====\n\nText\n");
    case("Sub\n---\ntext", "Sub\n---\n\ntext\n");
    case("### Third {#id .class}\n#### Fourth\n###### Sixth", "### Third\n\n#### Fourth\n\n###### Sixth\n");
    case(
        "# The weekly letter: a very long heading that will certainly need to wrap nicely",
        "The weekly letter: a very long heading that will certainly need to wrap\n\
         nicely\n\
         =======================================================================\n",
    );
    case(
        "### The weekly letter: a very long heading that will certainly need to wrap",
        "### The weekly letter: a very long heading that will certainly need to\n    wrap\n",
    );
    case("#\n\ntext", "text\n");
}

#[test]
fn code_blocks() {
    let long = format!("let x = \"{}\";", "a".repeat(90));
    case(
        &format!("Before:\n\n```rust\n{long}\n\n  indented();  \n```\n\nAfter."),
        &format!("Before:\n\n    {long}\n\n      indented();\n\nAfter.\n"),
    );
    case("    indented code\n", "    indented code\n");
}

#[test]
fn lists() {
    case("- one\n- two\n- three", "- one\n- two\n- three\n");
    case("- one\n  - nested\n    - deeper\n- two", "- one\n  - nested\n    - deeper\n- two\n");
    case("3. three\n4. four", "3. three\n4. four\n");
    case(
        "- an item long enough to wrap past the seventy-two column limit of the email",
        "- an item long enough to wrap past the seventy-two column limit of the\n  email\n",
    );
    case(
        "9. nine\n10. ten long enough to wrap past the seventy-two column limit of the email",
        "9. nine\n10. ten long enough to wrap past the seventy-two column limit of the\n    email\n",
    );
    case("- one\n\n- two\n\n  more", "- one\n\n- two\n\n  more\n");
    case("Before\n\n- a\n-\n\nAfter", "Before\n\n- a\n-\n\nAfter\n");
    case(
        "- [x] done but long enough to wrap past the seventy-two column limit\n- [ ] open",
        "- [x] done but long enough to wrap past the seventy-two column limit\n- [ ] open\n",
    );
}

#[test]
fn quotes() {
    case(
        "> A pull quote long enough to wrap past the seventy-two column limit, surely.",
        "> A pull quote long enough to wrap past the seventy-two column limit,\n> surely.\n",
    );
    case("> one\n>\n> > two\n\nafter", "> one\n>\n> > two\n\nafter\n");
    case("> - a\n> - b\n>\n> text", "> - a\n> - b\n>\n> text\n");
    case("- > quoted\n  > item", "- > quoted item\n");
}

#[test]
fn rule() {
    case("a\n\n---\n\nb", &format!("a\n\n{}* * *\n\nb\n", " ".repeat(33)));
}

#[test]
fn tables() {
    case(
        "| Name | Qty | Price |\n|:--|:-:|--:|\n| Apple | 1 | £1.00 |\n| Banana split | 12 | £10.50 |",
        "Name          Qty   Price\n\
         ------------  ---  ------\n\
         Apple          1    £1.00\n\
         Banana split  12   £10.50\n",
    );
    case(
        "| 名前 | x |\n|---|---|\n| 漢字漢字 | [a](https://example.org/a) |",
        "名前      x\n--------  -----\n漢字漢字  a [1]\n\nLinks:\n[1] https://example.org/a\n",
    );
    case(
        "| Name | Description |\n|---|---|\n\
         | Alpha | A description that is rather long and will push the table past the limit |\n\
         | Beta | |",
        "Name: Alpha\n\
         Description: A description that is rather long and will push the table\n  past the limit\n\
         \n\
         Name: Beta\n\
         Description:\n",
    );
    case("- item\n\n  | A | B |\n  |---|---|\n  | 1 | 2 |", "- item\n\n  A  B\n  -  -\n  1  2\n");
}

#[test]
fn links() {
    case(
        "See [our site](https://example.org/about), [again](https://example.org/about) \
         and [more](https://example.org/more).",
        "See our site [1], again [1] and more [2].\n\n\
         Links:\n[1] https://example.org/about\n[2] https://example.org/more\n",
    );
    case("Go to <https://example.org/x>.", "Go to https://example.org/x.\n");
    case(
        "[https://example.org/x](https://example.org/x/) and https://example.org/y",
        "https://example.org/x/ and https://example.org/y\n",
    );
    case("[](https://example.org/empty)", "https://example.org/empty\n");
    case(
        "Mail [us](mailto:us@example.org?subject=Hi), <me@example.org> \
         or [you@example.org](mailto:you@example.org).",
        "Mail us (us@example.org), me@example.org or you@example.org.\n",
    );
    case(&format!("[text]({LONG_URL})"), &format!("text [1]\n\nLinks:\n[1] {LONG_URL}\n"));
    // The marker stays with its word instead of starting a line.
    case(
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do [eiusmod](https://e.org)",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do\neiusmod [1]\n\n\
         Links:\n[1] https://e.org\n",
    );
}

#[test]
fn images() {
    case("![A photo](https://example.org/a.png) and ![](https://example.org/b.png) end.", "[A photo] and end.\n");
    case(
        "[![Logo](https://example.org/l.png)](https://example.org/)",
        "[Logo] [1]\n\nLinks:\n[1] https://example.org/\n",
    );
}

#[test]
fn footnotes() {
    case(
        "Here[^b] and there[^a] and again[^b]. A [link](https://example.org/1).\n\n\
         [^a]: First defined, second referenced.\n\
         [^b]: A note with [a link](https://example.org/2) and text that goes past the limit.",
        "Here^1 and there^2 and again^1. A link [1].\n\n\
         Notes:\n\
         ^1 A note with a link [2] and text that goes past the limit.\n\
         ^2 First defined, second referenced.\n\n\
         Links:\n[1] https://example.org/1\n[2] https://example.org/2\n",
    );
    case(
        "Text[^n].\n\n[^n]: A note long enough to wrap past the seventy-two column limit, truly. Yes.",
        "Text^1.\n\nNotes:\n\
         ^1 A note long enough to wrap past the seventy-two column limit, truly.\n   Yes.\n",
    );
    case("No definition[^missing].", "No definition[^missing].\n");
    case("Body.\n\n[^u]: Never referenced.", "Body.\n\nNotes:\n^1 Never referenced.\n");
}

#[test]
fn html_and_characters() {
    case("<div>\nraw block\n</div>\n\nafter", "after\n");
    case("Inline <span class=\"x\">kept</span> a<br>b", "Inline kept a\nb\n");
    case("&amp; &lt; &gt; &quot; &copy; &#8212;", "& < > \" © —\n");
    case("a&nbsp;b a\u{a0}b", "a b a b\n");
    case("It's \"quoted\" -- £5 --- 'single'", "It’s “quoted” – £5 — ‘single’\n");
}

#[test]
fn other_extensions_render_plainly() {
    let extra = options()
        | Options::ENABLE_MATH
        | Options::ENABLE_DEFINITION_LIST
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_TASKLISTS;
    let render = |markdown| render_text(Parser::new_ext(markdown, extra));
    assert_eq!(
        render("---\ntitle: Hi\nauthor: Me\n---\n\nBody $x^2$ and $$y$$."),
        "title: Hi\nauthor: Me\n\nBody x^2 and y.\n"
    );
    assert_eq!(render("Term\n: Definition."), "Term\n    Definition.\n");
}

/// Strips what may precede a line's content: indentation, quote and
/// list markers, task boxes, note markers, `[n] ` and heading hashes.
fn content(line: &str) -> &str {
    let mut rest = line;
    loop {
        let before = rest.len();
        rest = rest.trim_start_matches([' ', '>']);
        for marker in ["- ", "[x] ", "[ ] "] {
            rest = rest.strip_prefix(marker).unwrap_or(rest);
        }
        let hashes = rest.trim_start_matches('#');
        if hashes.len() < rest.len() {
            rest = hashes.strip_prefix(' ').unwrap_or(rest);
        }
        for (open, close) in [("", ". "), ("^", " "), ("[", "] ")] {
            if let Some(tail) = rest.strip_prefix(open) {
                let digits = tail.trim_start_matches(|c: char| c.is_ascii_digit());
                if digits.len() < tail.len() {
                    rest = digits.strip_prefix(close).unwrap_or(rest);
                }
            }
        }
        if rest.len() == before {
            return rest;
        }
    }
}

fn markdownish() -> impl Strategy<Value = String> {
    let long_url = "[a-z0-9/-]{60,120}".prop_map(|path| format!("https://example.org/{path}"));
    let token = prop_oneof![
        4 => "[a-z]{1,12}",
        1 => long_url.clone(),
        1 => long_url.prop_map(|url| format!("[link text]({url})")),
        1 => Just("[x](y)".to_owned()),
        1 => Just("[x](https://example.org/x)".to_owned()),
        1 => Just("![alt](y)".to_owned()),
        2 => prop::sample::select(vec!["#", "##", "###", "-", "1.", ">", "|", "*", "**", "_", "~~"])
            .prop_map(str::to_owned),
        2 => prop::sample::select(vec!["\n", "\n\n", "\n- ", "\n> ", "\n| a | b |\n|---|:-:|\n"])
            .prop_map(str::to_owned),
        1 => prop::sample::select(vec!["’", "£", "–", "日本語", "漢字漢字漢字", "[^1]", "\n\n[^1]: ", "<b>", "<br>", "`c`", "---", "[ ]"])
            .prop_map(str::to_owned),
    ];
    prop::collection::vec(token, 0..80).prop_map(|tokens| tokens.join(" "))
}

/// Events in any order, balanced or not, as a careless caller might
/// pass them.
fn loose_events() -> impl Strategy<Value = Vec<Event<'static>>> {
    let link = |link_type, url: &'static str| Tag::Link {
        link_type,
        dest_url: CowStr::Borrowed(url),
        title: CowStr::Borrowed(""),
        id: CowStr::Borrowed(""),
    };
    let tags = vec![
        Tag::Paragraph,
        Tag::BlockQuote(None),
        Tag::List(Some(u64::MAX)),
        Tag::List(None),
        Tag::Item,
        Tag::FootnoteDefinition(CowStr::Borrowed("n")),
        Tag::Table(vec![Alignment::Center]),
        Tag::TableHead,
        Tag::TableRow,
        Tag::TableCell,
        Tag::CodeBlock(pulldown_cmark::CodeBlockKind::Indented),
        link(LinkType::Inline, "https://example.org/"),
        link(LinkType::Email, "a@example.org"),
        Tag::Image {
            link_type: LinkType::Inline,
            dest_url: CowStr::Borrowed("i.png"),
            title: CowStr::Borrowed(""),
            id: CowStr::Borrowed(""),
        },
    ];
    let event = prop_oneof![
        prop::sample::select(tags.clone()).prop_map(Event::Start),
        prop::sample::select(tags).prop_map(|tag| Event::End(tag.to_end())),
        "[a-z ]{0,90}".prop_map(|text| Event::Text(text.into())),
        Just(Event::FootnoteReference(CowStr::Borrowed("n"))),
        Just(Event::TaskListMarker(true)),
        Just(Event::HardBreak),
        Just(Event::Rule),
    ];
    prop::collection::vec(event, 0..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_input_gives_tidy_lines(markdown in "\\PC*") {
        let text = render(&markdown);
        prop_assert!(text.ends_with('\n') && !text.contains("\n\n\n"));
        prop_assert!(text.lines().all(|line| line == line.trim_end()));
    }

    #[test]
    fn unbalanced_events_do_not_panic(events in loose_events()) {
        prop_assert!(render_text(events).ends_with('\n'));
    }

    #[test]
    fn lines_stay_within_limits(markdown in markdownish()) {
        let text = render(&markdown);
        prop_assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
        prop_assert!(!text.starts_with('\n') || text == "\n");
        prop_assert!(!text.contains("\n\n\n"));
        for line in text.lines() {
            prop_assert_eq!(line, line.trim_end());
            let rest = content(line);
            prop_assert!(
                line.width() <= MAX_COLUMNS || !rest.contains(char::is_whitespace),
                "line too long: {:?}", line
            );
            if line.width() > WIDTH {
                prop_assert!(!rest.contains(' '), "prose past the wrap column: {:?}", line);
            }
        }
    }

    #[test]
    fn no_entities_or_nbsp(markdown in markdownish(), nbsp in any::<bool>()) {
        let markdown = if nbsp { markdown.replace(' ', "\u{a0}") } else { markdown };
        let text = render(&markdown);
        prop_assert!(!text.contains('&'), "entity in {:?}", text);
        prop_assert!(!text.contains('\u{a0}'), "nbsp in {:?}", text);
    }
}

/// An inline `<script>` or `<style>` is code the HTML rendition removes with its tag: the
/// text leaves its content out too, up to its closing tag or the paragraph's end.
#[test]
fn inline_script_and_style_content_is_left_out() {
    case("Before <script>alert(1)</script> after.", "Before after.\n");
    case("A <STYLE type=\"text/css\">p { color: red }</style>b.", "A b.\n");
    case("Never <script>closed\nat all.\n\nNext paragraph.", "Never\n\nNext paragraph.\n");
    case("Kept <scripted>text</scripted> and <b>bold</b>.", "Kept text and bold.\n");
}
