//! SMTP codes in free text: enhanced status codes (RFC 3463, `5.1.1`) and reply codes (`550`).

/// The first enhanced status code (`5.1.1`, `4.2.2`, `2.0.0`) in `text`, not part of an IP
/// address or a version number.
pub fn find_status(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 5 <= bytes.len() {
        let c = bytes[i];
        if matches!(c, b'2' | b'4' | b'5')
            && bytes[i + 1] == b'.'
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.'))
        {
            let mut j = i + 2;
            let d1 = j;
            while j < bytes.len() && bytes[j].is_ascii_digit() && j - d1 < 3 {
                j += 1;
            }
            if j > d1 && j < bytes.len() && bytes[j] == b'.' {
                let d2 = j + 1;
                let mut k = d2;
                while k < bytes.len() && bytes[k].is_ascii_digit() && k - d2 < 3 {
                    k += 1;
                }
                let clean_end = k == bytes.len()
                    || !(bytes[k].is_ascii_alphanumeric()
                        || (bytes[k] == b'.' && bytes.get(k + 1).is_some_and(u8::is_ascii_digit)));
                if k > d2 && clean_end {
                    return Some(text[i..k].to_owned());
                }
            }
        }
        i += 1;
    }
    None
}

/// The first SMTP reply code (`550`, `452`) in `text`: three digits standing alone or followed
/// by `-`/space, starting with 2, 4 or 5.
pub fn find_reply(text: &str) -> Option<u16> {
    let bytes = text.as_bytes();
    for i in 0..bytes.len().saturating_sub(2) {
        if !matches!(bytes[i], b'4' | b'5')
            || (i > 0
                && (bytes[i - 1].is_ascii_alphanumeric()
                    || matches!(bytes[i - 1], b'.' | b'-' | b':' | b'/' | b'#' | b'+' | b'=')))
        {
            continue;
        }
        if !(bytes[i + 1].is_ascii_digit() && bytes[i + 2].is_ascii_digit()) || bytes[i + 1] > b'5' {
            continue;
        }
        let next = bytes.get(i + 3).copied();
        if next.is_none() || matches!(next, Some(b' ' | b'-' | b'\t' | b'\r' | b'\n' | b')' | b',')) {
            return text[i..i + 3].parse().ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_text() {
        assert_eq!(find_status("550-5.1.1 The email account").as_deref(), Some("5.1.1"));
        assert_eq!(find_status("host 192.0.2.5.1 said").as_deref(), None);
        assert_eq!(find_status("version 4.2.1.3"), None);
        assert_eq!(find_status("(#5.1.1)").as_deref(), Some("5.1.1"));
        assert_eq!(find_reply("said: 550 5.1.1 user"), Some(550));
        assert_eq!(find_reply("[192.0.2.1]:25 421-4.7.0"), Some(421));
        assert_eq!(find_reply("id 12550 x"), None);
    }
}
