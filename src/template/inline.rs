//! Inlining an email's stylesheet into its rendered HTML layout (css-inline), with the layout's
//! numeric character references decoded first where the result is the same.
//!
//! css-inline parses the layout with html5ever and serialises the tree again, so a reference
//! such as `&#8199;` in text comes out as the character itself either way. html5ever decodes a
//! reference one input character at a time, which made the default template's preheader (180 of
//! them, the padding that keeps inbox previews short) about a twentieth of an issue's render.
//! [`decode_text_references`] decodes them in one pass beforehand, only where html5ever would
//! decode them to the same character in a text node, and leaves every other byte alone: the
//! inlined email is byte-identical (a property test holds the two together).

use std::borrow::Cow;

/// Inline `css` into `html`; `<style data-css-inline="keep">` blocks (media queries) stay.
pub(super) fn inline_css(html: &str, css: &str) -> Result<String, css_inline::InlineError> {
    #[cfg(any(test, feature = "test-hooks"))]
    super::renders::record(super::renders::INLINE);
    css_inline::CSSInliner::options()
        .load_remote_stylesheets(false)
        .extra_css(Some(Cow::Borrowed(css)))
        .build()
        .inline(&decode_text_references(html))
}

/// `html` with the numeric character references (`&#8199;`, `&#x2007;`, with their `;`) of its
/// text decoded, where an HTML parser would decode them to that same character: between tags,
/// outside comments and the elements whose text is raw (`<style>`, `<title>`, …), and only for
/// characters no parser treats specially (not markup, whitespace, controls, surrogates or
/// noncharacters). From anything it does not follow (`<script>`, `<svg>` or `<math>`, `CDATA`,
/// unusual comments) to the end, the text is left as written, which is always the same to a
/// parser.
pub(crate) fn decode_text_references(html: &str) -> Cow<'_, str> {
    let bytes = html.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut at = 0;
    while let Some(found) = memchr::memchr2(b'<', b'&', &bytes[at..]) {
        let i = at + found;
        if bytes[i] == b'<' {
            match skip_markup(html, i) {
                Some(next) => at = next,
                None => break,
            }
        } else if let Some((c, end)) = numeric_reference(html, i).filter(|_| i > 0) {
            if out.is_empty() {
                out.reserve(html.len());
            }
            out.push_str(&html[copied..i]);
            out.push(c);
            copied = end;
            at = end;
        } else {
            at = i + 1;
        }
    }
    if copied == 0 {
        return Cow::Borrowed(html);
    }
    out.push_str(&html[copied..]);
    Cow::Owned(out)
}

/// The character of the reference at `html[i..]` (`&#…;`) and the offset after it, when it is
/// one this module may decode.
fn numeric_reference(html: &str, i: usize) -> Option<(char, usize)> {
    let rest = html.get(i + 2..)?;
    let (radix, digits) = match rest.strip_prefix(['x', 'X']) {
        Some(hex) => (16, hex),
        None => (10, rest),
    };
    let len = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    // Longer numbers are out of range anyway; `;` must follow.
    if len == 0 || len > 7 || !digits[len..].starts_with(';') {
        return None;
    }
    let value = u32::from_str_radix(&digits[..len], radix).ok()?;
    let plain = value >= 0xA1 && !(0xFDD0..=0xFDEF).contains(&value) && value & 0xFFFE != 0xFFFE;
    let c = char::from_u32(value).filter(|_| plain)?;
    Some((c, i + 2 + (rest.len() - digits.len()) + len + 1))
}

/// Elements whose text is raw (RAWTEXT) or has only references (RCDATA): their text is skipped
/// to their end tag.
const RAW_TEXT: [&str; 8] = ["style", "xmp", "iframe", "noembed", "noframes", "noscript", "textarea", "title"];

/// Elements after which the rest is left alone: script's text has states of its own, foreign
/// content has CDATA sections, plaintext never ends.
const STOP: [&str; 4] = ["script", "svg", "math", "plaintext"];

/// The offset after the markup starting at `html[i] == '<'` (a tag, a comment, the doctype; the
/// text of a raw-text element with it), or `i + 1` when the `<` is text; `None` for what this
/// module does not follow.
fn skip_markup(html: &str, i: usize) -> Option<usize> {
    let rest = &html[i + 1..];
    let next = rest.bytes().next();
    match next {
        Some(b'!') => {
            if let Some(comment) = rest.strip_prefix("!--") {
                // `<!-->`, `<!--->` and `--!>` end comments early: not followed.
                if comment.starts_with('>') || comment.starts_with("->") {
                    return None;
                }
                let end = comment.find("-->")?;
                if comment[..end + 3].contains("--!>") {
                    return None;
                }
                Some(i + 4 + end + 3)
            } else if rest.get(1..8).is_some_and(|word| word.eq_ignore_ascii_case("doctype")) {
                Some(i + 1 + rest.find('>')? + 1)
            } else {
                None
            }
        }
        Some(b'/') => {
            if !rest[1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
                return None;
            }
            let (_, end) = tag(html, i + 2)?;
            Some(end)
        }
        Some(c) if c.is_ascii_alphabetic() => {
            let (name, end) = tag(html, i + 1)?;
            if STOP.iter().any(|stop| name.eq_ignore_ascii_case(stop)) {
                return None;
            }
            match RAW_TEXT.iter().find(|raw| name.eq_ignore_ascii_case(raw)) {
                Some(raw) => Some(end + end_tag(&html[end..], raw)?),
                None => Some(end),
            }
        }
        // `<?…>` is a bogus comment; `<` before anything else is text.
        Some(b'?') => None,
        _ => Some(i + 1),
    }
}

/// HTML's whitespace between attributes (a carriage return is a line feed to the parser).
fn is_space(c: u8) -> bool {
    matches!(c, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

/// The name of the tag whose name starts at `html[start..]` and the offset after its `>`,
/// reading its attributes as the HTML tokenizer does (quotes only around values).
fn tag(html: &str, start: usize) -> Option<(&str, usize)> {
    let bytes = html.as_bytes();
    let name_end = start
        + bytes[start..].iter().position(|&c| is_space(c) || c == b'/' || c == b'>').unwrap_or(bytes.len() - start);
    let name = &html[start..name_end];
    let mut at = name_end;
    loop {
        while at < bytes.len() && (is_space(bytes[at]) || bytes[at] == b'/') {
            at += 1;
        }
        match bytes.get(at)? {
            b'>' => return Some((name, at + 1)),
            // An attribute name: its first character may be anything, even `=`.
            _ => at += 1,
        }
        while at < bytes.len() && !(is_space(bytes[at]) || matches!(bytes[at], b'/' | b'>' | b'=')) {
            at += 1;
        }
        while at < bytes.len() && is_space(bytes[at]) {
            at += 1;
        }
        if bytes.get(at) != Some(&b'=') {
            continue;
        }
        at += 1;
        while at < bytes.len() && is_space(bytes[at]) {
            at += 1;
        }
        match bytes.get(at)? {
            quote @ (b'"' | b'\'') => at += 1 + memchr::memchr(*quote, &bytes[at + 1..])? + 1,
            b'>' => return Some((name, at + 1)),
            _ => {
                while at < bytes.len() && !(is_space(bytes[at]) || bytes[at] == b'>') {
                    at += 1;
                }
            }
        }
    }
}

/// The offset in `text` (the text of a raw-text element `name`) of its end tag: `</name`, in
/// any case, then whitespace, `/` or `>`.
fn end_tag(text: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find("</") {
        let at = from + found;
        let after = &text.as_bytes()[at + 2..];
        if after.len() > name.len()
            && after[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && (is_space(after[name.len()]) || matches!(after[name.len()], b'/' | b'>'))
        {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn inlined_as_written(html: &str, css: &str) -> String {
        css_inline::CSSInliner::options()
            .load_remote_stylesheets(false)
            .extra_css(Some(Cow::Borrowed(css)))
            .build()
            .inline(html)
            .unwrap()
    }

    #[test]
    fn decodes_references_in_text_only() {
        let html = "<!DOCTYPE html><title>&#8199;</title><style>p::after { content: \"&#8199;\" }</style>\
                    <!-- &#8199; --><p title=\"&#8199;\">a&#8199;&#65279;&#x34F; &#60;&#32;&#160;&#8199</p>\
                    <script>&#8199;</script>&#8199;";
        assert_eq!(
            decode_text_references(html),
            "<!DOCTYPE html><title>&#8199;</title><style>p::after { content: \"&#8199;\" }</style>\
             <!-- &#8199; --><p title=\"&#8199;\">a\u{2007}\u{feff}\u{34f} &#60;&#32;&#160;&#8199</p>\
             <script>&#8199;</script>&#8199;"
        );
        assert!(matches!(decode_text_references("<p>no references</p>"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_default_email_inlines_as_before() {
        let layout = super::super::DEFAULTS.iter().find(|(n, _)| *n == "email.html").unwrap().1;
        let css = super::super::DEFAULTS.iter().find(|(n, _)| *n == "email.css").unwrap().1;
        let html = layout.replace("{% for _ in range(end=60) %}", "").replace("{% endfor %}", "");
        assert!(html.contains("&#8199;"));
        assert_eq!(inline_css(&html, css).unwrap(), inlined_as_written(&html, css));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Decoding first never changes what css-inline makes of a document.
        #[test]
        fn inlining_is_unchanged(parts in prop::collection::vec(prop::sample::select(vec![
            "<p>", "</p>", "<p class=\"a\">", "<td class='a' title=&#8199;>", "<a href=\"x>&#8199;\">", "</a >",
            "<style>", "</style>", "</style ", "<STYLE data-x=\">\">", "<title>", "</title>", "<textarea>",
            "</textarea/>", "<script>", "</script>", "<svg>", "<![CDATA[", "]]>", "<!--", "-->", "--!>", "<!-->",
            "<!DOCTYPE html>", "<?x>", "<", ">", "/", "=", "\"", "'", " ", "\n", "\r", "a", "é", "&", "&#", ";",
            "&#8199;", "&#65279;", "&#x34f;", "&#X2007;", "&#160;", "&#60;", "&#38;", "&#0;", "&#128;", "&#xD800;",
            "&#xFFFE;", "&#1114111;", "&#99999999;", "&amp;", "<table>", "<tr>", "<td>", "<br/>", "<img src=x>",
        ]), 0..24)) {
            let html = parts.concat();
            let css = "p, td { color: red; } .a { margin: 0; } title { color: blue; }";
            prop_assert_eq!(inline_css(&html, css).unwrap(), inlined_as_written(&html, css));
        }
    }
}
