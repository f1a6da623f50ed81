//! What may become a link: the one rule for every URL that reaches an `href` or `src`.
//!
//! Body links and images, `related` links, the configured site URLs and the sanitiser's pass
//! over the finished HTML all ask [`judge`]. Allowed are `https:`, `http:` (which `check` warns
//! about), `mailto:`, internal `@/publication/file.md` links, `#fragments` and relative paths
//! (made absolute against `site.base-url`). Every other scheme is refused — `javascript:`,
//! `data:`, `vbscript:`, `file:`, … — also when hidden the ways a browser would still see
//! through: upper case, white space or control characters around or inside the scheme, and
//! HTML character references (`&#106;avascript:`, `javascript&colon;`).

use std::borrow::Cow;
use std::fmt;

/// The schemes links may use, for messages.
const ALLOWED: &str = "`https:`, `http:` or `mailto:`";

/// What kind of link an allowed URL is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `https:`.
    Https,
    /// `http:`: allowed, but `check` warns.
    Http,
    /// `mailto:`.
    Mailto,
    /// `@/publication/file.md`, resolved to the archive URL.
    Internal,
    /// `#id`, within the same page.
    Fragment,
    /// A path without a scheme, resolved against the site's base URL.
    Relative,
}

/// Why a URL may not become a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A scheme other than `https:`, `http:` and `mailto:` (lowercase).
    Scheme {
        /// The scheme, lowercase, without the colon.
        scheme: String,
        /// Whether it was disguised (white space, control characters or character references).
        hidden: bool,
    },
    /// A control character (other than the tab and line breaks browsers drop).
    Control,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scheme { scheme, hidden: false } => {
                write!(f, "uses the `{scheme}:` scheme; links may only be {ALLOWED}")
            }
            Self::Scheme { scheme, hidden: true } => write!(
                f,
                "is a `{scheme}:` link disguised with white space, control characters or character references; links may only be {ALLOWED}"
            ),
            Self::Control => write!(f, "contains a control character"),
        }
    }
}

impl Refused {
    /// How to fix a refused link.
    pub fn help(&self) -> &'static str {
        match self {
            Self::Scheme { scheme, .. } if scheme == "data" => {
                "put the file in `static/` and link to it, or link to an `https://` page"
            }
            Self::Scheme { .. } => "link to an `https://` page, or remove the link",
            Self::Control => "remove the control character from the URL",
        }
    }
}

/// Whether `url` may be a link, and what kind of link it is.
pub fn judge(url: &str) -> Result<Kind, Refused> {
    let decoded = decode_references(url);
    // Browsers drop tabs and line breaks anywhere in a URL, and C0 controls and spaces around it.
    let cleaned: String = decoded.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    let trimmed = cleaned.trim_matches(|c: char| c <= ' ');
    if trimmed.chars().any(char::is_control) {
        return Err(Refused::Control);
    }
    if let Some(scheme) = scheme(trimmed) {
        let scheme = scheme.to_ascii_lowercase();
        return match scheme.as_str() {
            "https" => Ok(Kind::Https),
            "http" => Ok(Kind::Http),
            "mailto" => Ok(Kind::Mailto),
            _ => {
                let hidden = !url.trim_start_matches(' ').to_ascii_lowercase().starts_with(&format!("{scheme}:"));
                Err(Refused::Scheme { scheme, hidden })
            }
        };
    }
    Ok(if trimmed.starts_with("@/") {
        Kind::Internal
    } else if trimmed.starts_with('#') {
        Kind::Fragment
    } else {
        Kind::Relative
    })
}

/// Whether `url` may be a link.
pub fn is_allowed(url: &str) -> bool {
    judge(url).is_ok()
}

/// The scheme of `url` as a URL parser reads it: letters, digits, `+`, `-` and `.` before the
/// first `:`, starting with a letter.
fn scheme(url: &str) -> Option<&str> {
    let (candidate, _) = url.split_once(':')?;
    let mut chars = candidate.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then_some(candidate)
}

/// `text` with HTML character references decoded, as a browser decodes an attribute value
/// (named references from the HTML standard's table, also the legacy ones without `;`).
fn decode_references(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some((decoded, used)) = reference(after) {
            out.push_str(&decoded);
            rest = &after[used..];
        } else {
            out.push('&');
            rest = after;
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The character reference at the start of `after` (the text after a `&`): what it stands for
/// and how many bytes it takes.
fn reference(after: &str) -> Option<(String, usize)> {
    if let Some(number) = after.strip_prefix('#') {
        let (radix, digits, prefix) = match number.strip_prefix(['x', 'X']) {
            Some(hex) => (16, hex, 2),
            None => (10, number, 1),
        };
        let len = digits.chars().take_while(|c| c.is_digit(radix)).count();
        if len == 0 {
            return None;
        }
        let c = u32::from_str_radix(&digits[..len], radix).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
        let semicolon = usize::from(digits[len..].starts_with(';'));
        return Some((c.to_string(), prefix + len + semicolon));
    }
    let len = after.chars().take_while(char::is_ascii_alphanumeric).count();
    let with_semicolon = after[len..].starts_with(';').then(|| &after[..=len]);
    // The longest name that is a reference wins, as in the HTML tokenizer.
    with_semicolon.into_iter().chain((1..=len).rev().map(|end| &after[..end])).find_map(|name| {
        // The table also holds every prefix of a name, as (0, 0), for the tokenizer's sake.
        let (first, second) = markup5ever::data::NAMED_ENTITIES.get(name).filter(|(first, _)| *first != 0)?;
        let decoded: String = [*first, *second].into_iter().filter(|c| *c != 0).filter_map(char::from_u32).collect();
        Some((decoded, name.len()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(url: &str, expected: Result<Kind, (&str, bool)>) {
        let got = judge(url).map_err(|refused| match refused {
            Refused::Scheme { scheme, hidden } => (scheme, hidden),
            Refused::Control => ("<control>".to_owned(), false),
        });
        assert_eq!(got.as_ref().copied().map_err(|(s, h)| (s.as_str(), *h)), expected, "{url:?}");
    }

    #[test]
    fn allows_web_mail_internal_and_relative_links() {
        case("https://example.org/a?b=1&c=2#d", Ok(Kind::Https));
        case("HTTPS://EXAMPLE.ORG/", Ok(Kind::Https));
        case("http://example.org/", Ok(Kind::Http));
        case("mailto:editor@example.org?subject=Hi", Ok(Kind::Mailto));
        case("@/weekly/2016-12-09-a.md#money", Ok(Kind::Internal));
        case("#notes", Ok(Kind::Fragment));
        case("/images/chart.png", Ok(Kind::Relative));
        case("about/", Ok(Kind::Relative));
        case("about/x:y", Ok(Kind::Relative));
        case("www.example.org", Ok(Kind::Relative));
        case("Tom &amp; Jerry/", Ok(Kind::Relative));
        case("a&b", Ok(Kind::Relative));
        case("", Ok(Kind::Relative));
    }

    #[test]
    fn refuses_every_other_scheme() {
        case("javascript:alert(1)", Err(("javascript", false)));
        case("data:text/html,<script>alert(1)</script>", Err(("data", false)));
        case("data:image/png;base64,iVBORw0KGgo=", Err(("data", false)));
        case("vbscript:msgbox(1)", Err(("vbscript", false)));
        case("file:///etc/passwd", Err(("file", false)));
        case("tel:+441234567890", Err(("tel", false)));
        case("ftp://example.org/", Err(("ftp", false)));
        case("C:\\Users\\a.png", Err(("c", false)));
    }

    #[test]
    fn sees_through_disguised_schemes() {
        case(" JavaScript:alert(1)", Err(("javascript", false)));
        case("JAVASCRIPT:alert(1)", Err(("javascript", false)));
        case("java\tscript:alert(1)", Err(("javascript", true)));
        case("java\nscript:alert(1)", Err(("javascript", true)));
        case("\u{1}javascript:alert(1)", Err(("javascript", true)));
        case("\tjavascript:alert(1)", Err(("javascript", true)));
        case("&#106;avascript:alert(1)", Err(("javascript", true)));
        case("&#x6A;avascript:alert(1)", Err(("javascript", true)));
        case("&#0000106&#0000097vascript:alert(1)", Err(("javascript", true)));
        case("javascript&colon;alert(1)", Err(("javascript", true)));
        case("java&Tab;script:alert(1)", Err(("javascript", true)));
        case("java&NewLine;script:alert(1)", Err(("javascript", true)));
        case("jav&#x09;ascript:alert(1)", Err(("javascript", true)));
        case("java\u{0}script:alert(1)", Err(("<control>", false)));
        case("https://example.org/\u{7f}", Err(("<control>", false)));
    }

    #[test]
    fn decodes_references_like_a_browser() {
        assert_eq!(
            decode_references("a &amp; b &lt &#65;&#x42; &#99999999999; &nosuch; &"),
            "a & b < AB \u{fffd} &nosuch; &"
        );
        assert_eq!(decode_references("&notit;"), "¬it;");
    }
}
