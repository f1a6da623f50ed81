//! Header text rules every stage shares: whether a value a person wrote would be decoded by a
//! mail client into something else.
//!
//! Enters: text bound for a header (a subject, a name, a setting). Leaves: yes or no. A leaf:
//! configuration, content and compose all call it, and it calls nothing of the crate.

/// Whether `text` holds something shaped like an RFC 2047 encoded-word (`=?charset?B?…?=` or
/// `?Q?`). Sent as it is, a mail client would decode it, so it could display anything, a line
/// break and a fake header included; text we put in a header must never contain one.
pub fn has_encoded_word(text: &str) -> bool {
    text.match_indices("=?").any(|(start, _)| {
        let mut parts = text[start + 2..].splitn(4, '?');
        let (Some(charset), Some(encoding), Some(payload), Some(rest)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let token = |s: &str| !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c.is_control());
        token(charset)
            && matches!(encoding, "B" | "b" | "Q" | "q")
            && !payload.contains(char::is_whitespace)
            && rest.starts_with('=')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_are_found_wherever_they_are() {
        for (text, found) in [
            ("=?utf-8?b?SGkNCkJjYzogZXZpbEB4?=", true),
            ("Re: =?UTF-8?Q?caf=C3=A9?= tonight", true),
            ("=?iso-8859-1?q??=", true),
            ("Is 2 + 2 =? 4", false),
            ("=?utf-8?x?abc?=", false),
            ("=?utf-8?b?a b?=", false),
            ("£4bn =?", false),
            ("", false),
        ] {
            assert_eq!(has_encoded_word(text), found, "{text:?}");
        }
    }
}
