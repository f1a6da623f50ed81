//! DKIM relaxed/relaxed canonicalisation (RFC 6376 §3.4.2, §3.4.4), the choice of header fields
//! to sign (with oversigning) and the folding of the `DKIM-Signature` header.
//!
//! Enters: the finished message bytes (CRLF line endings, as compose writes them). Leaves: the
//! body hash computed in one pass over the body (no canonical copy of the body is made), the
//! canonical header data to sign, the `h=` list, and the folded header text. No cryptography
//! here: see `dkim.rs` for the keys.

use aws_lc_rs::digest;

/// Where the header block ends: the index of the blank line's CRLF pair, and where the body
/// starts. A message without a blank line is all header.
pub(super) fn split(message: &[u8]) -> (&[u8], &[u8]) {
    if message.starts_with(b"\r\n") {
        return (&[], &message[2..]);
    }
    match memchr::memmem::find(message, b"\r\n\r\n") {
        Some(at) => (&message[..at + 2], &message[at + 4..]),
        None => (message, &[]),
    }
}

/// The header fields of a header block, each with its continuation lines, without the final
/// CRLF, in order.
pub(super) fn fields(header: &[u8]) -> Vec<&[u8]> {
    let mut fields = Vec::with_capacity(24);
    let mut start = 0;
    let mut at = 0;
    while at < header.len() {
        let end = CRLF.find(&header[at..]).map_or(header.len(), |p| at + p);
        let next = (end + 2).min(header.len());
        let continued = header.get(next).is_some_and(|&b| b == b' ' || b == b'\t');
        if !continued {
            fields.push(&header[start..end]);
            start = next;
        }
        at = next;
    }
    fields
}

/// A field's name (before the colon, trailing blanks dropped).
fn name_of(field: &[u8]) -> &[u8] {
    let colon = field.iter().position(|&b| b == b':').unwrap_or(field.len());
    field[..colon].trim_ascii_end()
}

/// The `h=` list: every name in `names` once more than the message has it, so a second copy
/// added in transit (above or below) takes the empty slot and breaks the signature.
pub(super) fn oversigned(fields: &[&[u8]], names: &[&str]) -> Vec<String> {
    let mut list = Vec::with_capacity(names.len() * 2);
    for name in names {
        let count = fields.iter().filter(|f| name_of(f).eq_ignore_ascii_case(name.as_bytes())).count();
        list.extend(std::iter::repeat_n((*name).to_owned(), count + 1));
    }
    list
}

/// Append the relaxed canonical form of `field` (`name:value`, unfolded, blanks collapsed and
/// trimmed) to `out`, without a CRLF.
pub(super) fn relaxed_field(field: &[u8], out: &mut Vec<u8>) {
    let colon = field.iter().position(|&b| b == b':').unwrap_or(field.len());
    out.extend(field[..colon].trim_ascii_end().iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    let value = field.get(colon + 1..).unwrap_or_default();
    let mut pending_space = false;
    let mut started = false;
    for &b in value {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => pending_space = started,
            _ => {
                if pending_space {
                    out.push(b' ');
                    pending_space = false;
                }
                started = true;
                out.push(b);
            }
        }
    }
}

/// The header data a signature covers: the fields named in `h=`, each the bottom-most one not
/// used yet (none for an empty slot), canonical and CRLF-terminated.
pub(super) fn signed_fields(fields: &[&[u8]], h: &[String], out: &mut Vec<u8>) {
    let mut used = vec![false; fields.len()];
    for name in h {
        let found =
            (0..fields.len()).rev().find(|&i| !used[i] && name_of(fields[i]).eq_ignore_ascii_case(name.as_bytes()));
        if let Some(i) = found {
            used[i] = true;
            relaxed_field(fields[i], out);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// The line break of a message as compose writes it.
static CRLF: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\r\n"));

/// Two blanks in a row, which relaxed canonicalisation collapses.
static DOUBLE_SPACE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"  "));

/// SHA-256 of the relaxed canonical body, in one pass: blanks collapsed and trimmed at line
/// ends, empty lines at the end dropped, a final CRLF added to a body without one.
///
/// Most lines (quoted-printable text) are canonical as they stand: a run of such lines, with
/// the bare empty lines between them, goes to the hash as one slice of the body; only a line
/// that changes, and the empty lines before it, are hashed piece by piece.
pub(super) fn body_hash(body: &[u8]) -> digest::Digest {
    let mut hash = digest::Context::new(&digest::SHA256);
    // `body[run..kept]` is canonical as it stands and not hashed yet; `empty` empty lines come
    // after it, hashed only if a non-empty line follows them; while `bare`, they are exactly
    // `body[kept..at]` (CRLFs with nothing between them).
    let (mut run, mut kept, mut at) = (0, 0, 0);
    let (mut empty, mut bare) = (0usize, true);
    let mut buffer = Vec::new();
    while at < body.len() {
        let (end, next) = match CRLF.find(&body[at..]) {
            Some(found) => (at + found, at + found + 2),
            None => (body.len(), body.len()),
        };
        let line = &body[at..end];
        at = next;
        if line.is_empty() {
            empty += 1;
            continue;
        }
        let clean = is_canonical(line);
        if clean && bare && next == end + 2 {
            kept = next;
            empty = 0;
            continue;
        }
        let line = if clean { line } else { canonical_line(line, &mut buffer) };
        if line.is_empty() {
            // Blanks only: an empty line, but not bare in the body.
            empty += 1;
            bare = false;
            continue;
        }
        hash.update(&body[run..kept]);
        for _ in 0..empty {
            hash.update(b"\r\n");
        }
        hash.update(line);
        hash.update(b"\r\n");
        (run, kept, empty, bare) = (next, next, 0, true);
    }
    hash.update(&body[run..kept]);
    hash.finish()
}

/// Whether a body line is already in relaxed form: no tab, no two blanks in a row, no blank
/// at its end.
fn is_canonical(line: &[u8]) -> bool {
    !line.ends_with(b" ") && memchr::memchr(b'\t', line).is_none() && DOUBLE_SPACE.find(line).is_none()
}

/// One body line in relaxed form, rewritten into `buffer`.
fn canonical_line<'a>(line: &[u8], buffer: &'a mut Vec<u8>) -> &'a [u8] {
    buffer.clear();
    let mut pending_space = false;
    for &b in line {
        if b == b' ' || b == b'\t' {
            pending_space = true;
        } else {
            if pending_space {
                buffer.push(b' ');
                pending_space = false;
            }
            buffer.push(b);
        }
    }
    buffer
}

/// Columns a folded `DKIM-Signature` line may take.
const WIDTH: usize = 78;

/// Build `DKIM-Signature: ` folded under [`WIDTH`] columns from its tags, `b=` last: each piece
/// is a tag or part of one; a piece that would overflow the line starts a new one. Values that
/// are long (`h=`, `bh=`, `b=`) are split where RFC 6376 allows folding whitespace (after a
/// colon in `h=`, anywhere in base64).
#[derive(Clone)]
pub(super) struct Folded {
    text: String,
    column: usize,
}

impl Folded {
    pub(super) fn new() -> Self {
        Self { text: String::from("DKIM-Signature:"), column: "DKIM-Signature:".len() }
    }

    /// Add `piece`, after a space (`spaced`) or glued to what is before it.
    fn push(&mut self, piece: &str, spaced: bool) {
        let extra = usize::from(spaced);
        if self.column + extra + piece.len() > WIDTH {
            self.text.push_str("\r\n ");
            self.column = 1;
        } else if spaced {
            self.text.push(' ');
            self.column += 1;
        }
        self.text.push_str(piece);
        self.column += piece.len();
    }

    /// A short tag: `name=value;`.
    pub(super) fn tag(&mut self, name: &str, value: &str) {
        self.push(&format!("{name}={value};"), true);
    }

    /// `h=` with its names, split after colons.
    pub(super) fn names(&mut self, names: &[String]) {
        let last = names.len().saturating_sub(1);
        for (i, name) in names.iter().enumerate() {
            let piece = match (i == 0, i == last) {
                (true, true) => format!("h={name};"),
                (true, false) => format!("h={name}:"),
                (false, true) => format!("{name};"),
                (false, false) => format!("{name}:"),
            };
            self.push(&piece, i == 0);
        }
    }

    /// A base64 value, split anywhere to fill lines; `last` leaves the `;` off (`b=` ends the
    /// header).
    pub(super) fn base64(&mut self, name: &str, value: &str, last: bool) {
        let text = format!("{name}={value}{}", if last { "" } else { ";" });
        let mut rest = text.as_str();
        loop {
            let room = WIDTH.saturating_sub(self.column + 1);
            if room < 12 && self.column > 1 {
                self.text.push_str("\r\n");
                self.column = 0;
                continue;
            }
            let take = room.min(rest.len());
            self.text.push(' ');
            self.text.push_str(&rest[..take]);
            self.column += 1 + take;
            rest = &rest[take..];
            if rest.is_empty() {
                return;
            }
            self.text.push_str("\r\n");
            self.column = 0;
        }
    }

    pub(super) fn into_string(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(data: &[u8]) -> Vec<u8> {
        digest::digest(&digest::SHA256, data).as_ref().to_vec()
    }

    #[test]
    fn relaxed_body_follows_rfc_6376_example() {
        // RFC 6376 §3.4.6: " C \r\nD \t E\r\n\r\n\r\n" canonicalises to " C\r\nD E\r\n".
        assert_eq!(body_hash(b" C \r\nD \t E\r\n\r\n\r\n").as_ref(), sha256(b" C\r\nD E\r\n"));
        // An empty body hashes as empty; a body without a final CRLF gets one; trailing
        // blank-only lines count as empty lines.
        assert_eq!(body_hash(b"").as_ref(), sha256(b""));
        assert_eq!(body_hash(b"\r\n\r\n").as_ref(), sha256(b""));
        assert_eq!(body_hash(b"x").as_ref(), sha256(b"x\r\n"));
        assert_eq!(body_hash(b"a\r\n \t\r\n\r\nb  c\r\n  \r\n").as_ref(), sha256(b"a\r\n\r\n\r\nb c\r\n"));
    }

    /// The relaxed body as RFC 6376 §3.4.4 words it, built whole: the reference `body_hash`
    /// must hash the same bytes as.
    fn canonical_body(body: &[u8]) -> Vec<u8> {
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            let (line, next) = match rest.windows(2).position(|w| w == b"\r\n") {
                Some(at) => (&rest[..at], &rest[at + 2..]),
                None => (rest, &[][..]),
            };
            let mut out = Vec::new();
            for word in line.split(|&b| b == b' ' || b == b'\t').filter(|w| !w.is_empty()) {
                if !out.is_empty() || line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                    out.push(b' ');
                }
                out.extend_from_slice(word);
            }
            lines.push(out);
            rest = next;
        }
        while lines.last().is_some_and(Vec::is_empty) {
            lines.pop();
        }
        lines.into_iter().flat_map(|l| [l, b"\r\n".to_vec()]).flatten().collect()
    }

    proptest::proptest! {
        #[test]
        fn the_body_hash_is_the_hash_of_the_relaxed_body(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec!["a", "bc", " ", "  ", "\t", "\r\n", "\r\n\r\n", "\r", "\n", " \r\n"]),
                0..60,
            )
        ) {
            let body = pieces.concat();
            let (got, want) = (body_hash(body.as_bytes()), sha256(&canonical_body(body.as_bytes())));
            proptest::prop_assert_eq!(got.as_ref(), want.as_slice(), "{:?}", body);
        }
    }

    #[test]
    fn relaxed_header_follows_rfc_6376_example() {
        // RFC 6376 §3.4.6: "A: X\r\nB : Y\t\r\n\tZ  \r\n" gives "a:X\r\nb:Y Z\r\n".
        let header = b"A: X\r\nB : Y\t\r\n\tZ  \r\n";
        let fields = fields(header);
        assert_eq!(fields.len(), 2);
        let mut out = Vec::new();
        signed_fields(&fields, &["B".to_owned(), "a".to_owned()], &mut out);
        assert_eq!(out, b"b:Y Z\r\na:X\r\n");
    }

    #[test]
    fn oversigning_lists_each_name_once_more_than_it_occurs_and_takes_fields_bottom_up() {
        let header = b"Subject: one\r\nFrom: a@example.org\r\nSubject: two\r\n";
        let fields = fields(header);
        let h = oversigned(&fields, &["From", "Subject", "Reply-To"]);
        assert_eq!(h, ["From", "From", "Subject", "Subject", "Subject", "Reply-To"]);
        let mut out = Vec::new();
        signed_fields(&fields, &h, &mut out);
        assert_eq!(out, b"from:a@example.org\r\nsubject:two\r\nsubject:one\r\n");
    }

    #[test]
    fn the_folded_header_keeps_every_line_under_78_columns() {
        let mut folded = Folded::new();
        folded.tag("v", "1");
        folded.tag("d", "a-rather-long-subdomain.of-a-long-domain.example.org");
        folded.names(&vec!["List-Unsubscribe-Post".to_owned(); 9]);
        folded.base64("bh", &"A".repeat(44), false);
        folded.base64("b", &"B".repeat(344), true);
        let text = folded.into_string();
        assert!(text.split("\r\n").all(|line| line.len() <= 78), "{text}");
        assert!(text.split("\r\n").skip(1).all(|line| line.starts_with(' ')), "{text}");
        let mut canonical = Vec::new();
        relaxed_field(text.as_bytes(), &mut canonical);
        let canonical = String::from_utf8(canonical).unwrap();
        assert!(canonical.contains(&format!("b={}", "B".repeat(10))) || canonical.contains("b= "), "{canonical}");
        assert!(canonical.starts_with("dkim-signature:v=1; d="), "{canonical}");
    }
}
