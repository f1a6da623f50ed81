//! Personalisation slots: the issue is rendered once with markers where per-recipient values go,
//! split at the markers, and quoted-printable encoded once; a message only encodes its values.
//!
//! Enters: the subscriber attribute columns (to build the marked context) and the rendered HTML
//! and text with markers in them. Leaves: [`EncodedPart`]s that write a part's body for one
//! recipient's values, and the parts' canonical text (slots named) for the content hash.
//!
//! A marker is `U+E000`, the slot number, `U+E001`: private-use code points survive Tera's HTML
//! escaping and the CSS inliner untouched. Every encoded static segment ends at the start of a
//! line (with a soft line break `=\r\n` if it does not end with a hard one), so a slot's encoded
//! value always starts a fresh line and no line is ever longer than 76 columns.

use std::collections::BTreeMap;

use quoted_printable::{InputMode, Options};

use crate::template::view::SubscriberView;

/// `subscriber.email`.
pub(crate) const EMAIL: usize = 0;
/// `subscriber.name`.
pub(crate) const NAME: usize = 1;
/// `unsubscribe_url`.
pub(crate) const UNSUBSCRIBE: usize = 2;
/// `subscriber.attrs.<column>` is slot `FIRST_ATTR + index of the column`.
pub(crate) const FIRST_ATTR: usize = 3;

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';
/// Leaves room for the `=` of a soft line break after a segment: lines stay within 76 columns.
const LINE_LIMIT: usize = 75;

/// The marker of `slot`.
pub(crate) fn marker(slot: usize) -> String {
    format!("{OPEN}{slot}{CLOSE}")
}

/// The subscriber of the marked render: email, name and every attribute column as markers.
pub(crate) fn marked_subscriber(columns: &[String]) -> SubscriberView {
    let attrs: BTreeMap<String, String> =
        columns.iter().enumerate().map(|(i, column)| (column.clone(), marker(FIRST_ATTR + i))).collect();
    SubscriberView { email: marker(EMAIL), name: marker(NAME), attrs }
}

/// The template expression a slot stands for, as the content hash and errors name it.
pub(crate) fn slot_name(slot: usize, columns: &[String]) -> String {
    match slot {
        EMAIL => "subscriber.email".to_owned(),
        NAME => "subscriber.name".to_owned(),
        UNSUBSCRIBE => "unsubscribe_url".to_owned(),
        n => format!("subscriber.attrs.{}", columns.get(n - FIRST_ATTR).map_or("?", String::as_str)),
    }
}

/// A marker that is not whole: a filter changed a slot, or the content holds the marker
/// characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Damaged;

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "a personalisation slot was changed by a filter (subscriber values and `unsubscribe_url` can only be printed), or the content contains U+E000 or U+E001",
        )
    }
}

/// A rendered part split at its markers: `segments.len() == slots.len() + 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Split {
    /// The text between markers.
    pub segments: Vec<String>,
    /// The slot between `segments[i]` and `segments[i + 1]`.
    pub slots: Vec<usize>,
}

impl Split {
    /// Split `rendered` at markers of slots below `count`; a damaged or unknown marker (a filter
    /// that changed a slot, or U+E000/U+E001 in the content) is an error.
    pub(crate) fn new(rendered: &str, count: usize) -> Result<Self, Damaged> {
        let damaged = || Damaged;
        let mut split = Split { segments: Vec::new(), slots: Vec::new() };
        let mut rest = rendered;
        while let Some(at) = rest.find(OPEN) {
            let after = &rest[at + OPEN.len_utf8()..];
            let close = after.find(CLOSE).filter(|&c| (1..=4).contains(&c)).ok_or_else(damaged)?;
            let slot = after[..close].parse::<usize>().ok().filter(|&s| s < count).ok_or_else(damaged)?;
            split.segments.push(rest[..at].to_owned());
            split.slots.push(slot);
            rest = &after[close + CLOSE.len_utf8()..];
        }
        if rest.contains(CLOSE) {
            return Err(damaged());
        }
        split.segments.push(rest.to_owned());
        Ok(split)
    }

    /// The part with every slot written as `{{ name }}`: stable across runs and column orders.
    pub(crate) fn canonical(&self, columns: &[String]) -> String {
        let mut out = String::new();
        for (i, segment) in self.segments.iter().enumerate() {
            out.push_str(segment);
            if let Some(&slot) = self.slots.get(i) {
                out.push_str("{{ ");
                out.push_str(&slot_name(slot, columns));
                out.push_str(" }}");
            }
        }
        out
    }

    /// The part with the slots left empty.
    pub(crate) fn without_slots(&self, keep: impl Fn(usize) -> bool) -> String {
        let mut out = String::new();
        for (i, segment) in self.segments.iter().enumerate() {
            out.push_str(segment);
            if let Some(&slot) = self.slots.get(i).filter(|&&s| keep(s)) {
                out.push_str(&marker(slot));
            }
        }
        out
    }
}

/// How a part treats slot values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    /// `text/plain`: values as they are.
    Text,
    /// `text/html`: values HTML-escaped (they are data, never markup).
    Html,
}

/// One MIME part's body, encoded once with holes for the slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EncodedPart {
    /// Every static segment, quoted-printable encoded, back to back.
    encoded: Vec<u8>,
    /// Where each segment ends in `encoded`.
    ends: Vec<usize>,
    /// The slot after each segment but the last.
    slots: Vec<usize>,
    escape: Escape,
}

impl EncodedPart {
    /// Encode the static segments of `split`.
    pub(crate) fn new(split: &Split, escape: Escape) -> Self {
        let mut encoded = Vec::new();
        let mut ends = Vec::with_capacity(split.segments.len());
        let last = split.segments.len().saturating_sub(1);
        for (i, segment) in split.segments.iter().enumerate() {
            let crlf = segment.replace("\r\n", "\n").replace('\n', "\r\n");
            let qp = quoted_printable::encode_with_options(crlf, options(InputMode::Text));
            encoded.extend_from_slice(qp.as_bytes());
            if i != last && !qp.is_empty() && !qp.ends_with("\r\n") {
                encoded.extend_from_slice(b"=\r\n");
            }
            ends.push(encoded.len());
        }
        Self { encoded, ends, slots: split.slots.clone(), escape }
    }

    /// Append the body for one recipient, `value(slot)` giving each slot's raw value.
    pub(crate) fn write<'v>(&self, value: impl Fn(usize) -> &'v str, out: &mut Vec<u8>) {
        let mut start = 0;
        for (i, &end) in self.ends.iter().enumerate() {
            out.extend_from_slice(&self.encoded[start..end]);
            start = end;
            if let Some(&slot) = self.slots.get(i) {
                write_value(value(slot), self.escape, out);
            }
        }
    }
}

/// Encode one value on lines of its own. Binary mode: a CR or LF in a value is data (`=0D`,
/// `=0A`), never a line break of the message.
fn write_value(value: &str, escape: Escape, out: &mut Vec<u8>) {
    if value.is_empty() {
        return;
    }
    let escaped;
    let value = match escape {
        Escape::Text => value,
        Escape::Html if !value.contains(['&', '<', '>', '"', '\'']) => value,
        Escape::Html => {
            escaped = escape_html(value);
            &escaped
        }
    };
    if is_literal(value) {
        out.extend_from_slice(value.as_bytes());
    } else {
        out.extend_from_slice(quoted_printable::encode_with_options(value, options(InputMode::Binary)).as_bytes());
    }
    out.extend_from_slice(b"=\r\n");
}

/// Whether quoted-printable leaves `value` as it is: a short value (one line, well within
/// [`LINE_LIMIT`]) of printable ASCII other than `=`, with spaces only between other characters.
/// Most names, addresses and attributes are; a property test holds this to the encoder.
fn is_literal(value: &str) -> bool {
    value.len() < LINE_LIMIT - 3
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && value.bytes().all(|b| matches!(b, b' '..=b'~') && b != b'=')
}

fn options(mode: InputMode) -> Options {
    Options::default().input_mode(mode).line_length_limit(LINE_LIMIT)
}

/// Escape a value for HTML text or a quoted attribute.
pub(crate) fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> String {
        String::from_utf8(quoted_printable::decode(bytes, quoted_printable::ParseMode::Strict).unwrap()).unwrap()
    }

    #[track_caller]
    fn assert_lines_within(bytes: &[u8], limit: usize) {
        let text = std::str::from_utf8(bytes).unwrap();
        assert!(!text.replace("\r\n", "").contains(['\r', '\n']), "bare CR or LF in {text:?}");
        for line in text.split("\r\n") {
            assert!(line.len() <= limit, "line of {} columns: {line:?}", line.len());
        }
    }

    #[test]
    fn splits_at_markers_and_names_slots() {
        let text = format!("Hi {}, bye {}{}", marker(NAME), marker(UNSUBSCRIBE), marker(FIRST_ATTR));
        let split = Split::new(&text, FIRST_ATTR + 1).unwrap();
        assert_eq!(split.segments, ["Hi ", ", bye ", "", ""]);
        assert_eq!(split.slots, [NAME, UNSUBSCRIBE, FIRST_ATTR]);
        let columns = ["region".to_owned()];
        assert_eq!(
            split.canonical(&columns),
            "Hi {{ subscriber.name }}, bye {{ unsubscribe_url }}{{ subscriber.attrs.region }}"
        );
        assert_eq!(split.without_slots(|s| s == UNSUBSCRIBE), format!("Hi , bye {}", marker(UNSUBSCRIBE)));
    }

    #[test]
    fn damaged_or_unknown_markers_are_errors() {
        for text in ["a \u{E000}1 b", "a \u{E001} b", "\u{E000}9\u{E001}", "\u{E000}\u{E001}", "\u{E000}12345\u{E001}"]
        {
            assert!(Split::new(text, 4).is_err(), "{text:?}");
        }
    }

    #[test]
    fn segments_and_values_decode_to_the_filled_text_on_short_lines() {
        let long_word = "x".repeat(200);
        let text = format!(
            "Dear {},\nA line with trailing space \n{long_word}\nNon-ASCII: Zoë – 日本語 👋🏽 {} and = signs.\n. dot line\n",
            marker(NAME),
            marker(EMAIL)
        );
        let split = Split::new(&text, FIRST_ATTR).unwrap();
        for escape in [Escape::Text, Escape::Html] {
            let part = EncodedPart::new(&split, escape);
            let name = format!("O'Brien & <Sons> \"Ltd\" {}\r\nBcc: x@example.com", "é".repeat(60));
            let mut out = Vec::new();
            part.write(|slot| if slot == NAME { &name } else { "zoe@example.org" }, &mut out);
            assert_lines_within(&out, 76);
            let shown = if escape == Escape::Html { escape_html(&name) } else { name.clone() };
            let expected =
                text.replace('\n', "\r\n").replace(&marker(NAME), &shown).replace(&marker(EMAIL), "zoe@example.org");
            assert_eq!(decode(&out), expected);
        }
    }

    proptest::proptest! {
        /// A value written as it is is exactly what the quoted-printable encoder makes of it.
        #[test]
        fn a_literal_value_is_its_own_encoding(value in "[ -~]{0,80}|[ -~\\t\u{e9}\u{65e5}]{0,80}") {
            if is_literal(&value) {
                let encoded = quoted_printable::encode_with_options(value.as_str(), options(InputMode::Binary));
                proptest::prop_assert_eq!(encoded, value);
            }
        }
    }

    #[test]
    fn literal_values_are_the_common_short_ones() {
        for value in ["Reader 1", "reader.1@example1.org", "North West", "O'Brien (Ltd.)"] {
            assert!(is_literal(value), "{value:?}");
        }
        for value in ["a=b", " lead", "trail ", "Zo\u{eb}", "tab\there", &"x".repeat(72)] {
            assert!(!is_literal(value), "{value:?}");
        }
        // Where some encoders differ (a line starting `From ` or `.`, runs of spaces, the
        // longest literal), ours leaves these as they are too.
        for value in ["From me", ".", ". dot", "a  b", "~!#$%&'()*+,-./:;<>?@[\\]^_`{|}", &"y".repeat(71)] {
            assert!(is_literal(value), "{value:?}");
            assert_eq!(quoted_printable::encode_with_options(value, options(InputMode::Binary)), value);
        }
    }

    #[test]
    fn values_are_escaped_only_in_html() {
        assert_eq!(
            escape_html(r#"{{ 7*7 }} <script>alert('1')</script> & "q""#),
            "{{ 7*7 }} &lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        let split = Split::new(&marker(NAME), FIRST_ATTR).unwrap();
        let mut out = Vec::new();
        EncodedPart::new(&split, Escape::Text).write(|_| "<b>", &mut out);
        assert_eq!(decode(&out), "<b>");
    }
}
