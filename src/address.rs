//! Addresses: validation, normalisation, and when two addresses are the same subscriber. The one
//! place an address is judged; lists, the state store, tokens and commands all call it.
//!
//! Enters: an address as a person wrote it (a CSV cell, a command-line argument, a form field).
//! Leaves: the normalised address (what a subscriber row's `email` holds), or the
//! reason it is not one ([`invalid`] words it, [`parse`] makes it a usage error); the duplicate
//! key of an address; and `Seen`, the compact set that finds duplicates in a stream.
//!
//! A leaf: it uses nothing of the crate but [`crate::error`].
//!
//! Validation is `lettre::Address`, the same validator the sender uses, so an address accepted
//! here is never refused at send time for its syntax.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use lettre::address::AddressError;

use crate::error::Error;

/// `domain` lower-cased, an internationalised one as its IDNA A-labels (`bücher.example` →
/// `xn--bcher-kva.example`); `None` when it cannot be converted.
pub fn ascii_domain(domain: &str) -> Option<String> {
    // An ASCII domain is taken as it is, but for an A-label, which must decode (`xn--zz` does
    // not, and names no domain anyone can register).
    if domain.is_ascii() && !domain.to_ascii_lowercase().contains("xn--") {
        return Some(domain.to_ascii_lowercase());
    }
    match url::Host::parse(domain) {
        Ok(url::Host::Domain(ascii)) => Some(ascii),
        _ => None,
    }
}

/// Validate `raw` and return it normalised: surrounding whitespace trimmed, in Unicode NFC, the
/// domain lower-cased and converted to IDNA A-labels, the local part otherwise as written.
///
/// The error is a lowercase reason to put after "is not a valid address: ".
pub fn normalise_address(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("it is empty".to_owned());
    }
    // One spelling of each address: `pelé` typed as `e` + U+0301 (macOS input, a copy from a PDF)
    // is the same mailbox as the composed `é` (RFC 6532 §3.1: NFC), and lettre takes only that.
    let composed: String;
    let trimmed = if unicode_normalization::is_nfc(trimmed) {
        trimmed
    } else {
        composed = unicode_normalization::UnicodeNormalization::nfc(trimmed).collect();
        &composed
    };
    let address: lettre::Address = trimmed.parse().map_err(|e| reason(trimmed, e))?;
    // RFC 5321 allows `"john doe"@` and `"j\ohn"@`, but each spelling would key as a different
    // subscriber while the mail reaches one mailbox (and lettre's `Mailbox` refuses some of
    // them at send time). Web forms (the HTML standard's `type=email`) refuse them too.
    if address.user().starts_with('"') {
        return Err("a quoted part before `@` (`\"…\"@`) is not accepted".to_owned());
    }
    let domain = address.domain();
    // lettre takes what RFC 5321 allows; a newsletter's subscribers have public addresses.
    if domain.starts_with('[') {
        return Err("an IP address instead of a domain cannot be mailed".to_owned());
    }
    if !domain.contains('.') {
        return Err(format!("the domain `{domain}` has no top-level domain (such as `.org`)"));
    }
    // No top-level domain is all digits (RFC 3696 §2): `x@example.123` is a typo or a probe.
    if domain.rsplit('.').next().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("the domain `{domain}` ends in digits, which no top-level domain does"));
    }
    let Some(domain) = ascii_domain(domain) else {
        return Err(format!("the domain `{domain}` cannot be converted to ASCII"));
    };
    let normal = format!("{}@{domain}", address.user());
    // RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets.
    if normal.len() > MAX_ADDRESS_BYTES {
        return Err(format!("it is longer than {MAX_ADDRESS_BYTES} bytes"));
    }
    Ok(normal)
}

/// The one wording of an address that is not valid: `` `raw` is not a valid address: why ``
/// (`raw` trimmed), with `why` as [`normalise_address`] gives it.
pub fn invalid(raw: &str, why: &str) -> String {
    format!("`{}` is not a valid address: {why}", raw.trim())
}

/// [`normalise_address`] for a command's argument: an address that is not valid is an
/// [`Error::Usage`] worded by [`invalid`].
pub fn parse(raw: &str) -> Result<String, Error> {
    normalise_address(raw).map_err(|why| Error::usage(invalid(raw, &why)))
}

/// The longest address a relay must accept (RFC 5321's 256-octet path, less `<` and `>`).
pub const MAX_ADDRESS_BYTES: usize = 254;

fn reason(address: &str, error: AddressError) -> String {
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    match error {
        AddressError::MissingParts => "it has no `@`".to_owned(),
        AddressError::InvalidUser => "the part before `@` is not valid".to_owned(),
        AddressError::InvalidDomain if domain.is_empty() => "the domain is missing".to_owned(),
        AddressError::InvalidDomain => format!("the domain `{domain}` is not valid"),
        _ => "it is not of the form `name@example.org`".to_owned(),
    }
}

/// The duplicate key of an address: normalised, then the whole address lower-cased.
///
/// Two rows are the same subscriber when their keys are equal: `Bob@Example.org` and
/// `bob@example.org` are one subscriber, `bob+news@example.org` is another (EMAIL.md §7 row 8:
/// local-part case is policy, case-insensitive by default; `+tag` addresses are not merged).
/// Suppressions in the state store are stored under this key. An invalid address keys as its
/// trimmed, lower-cased text, so the function is total.
pub fn address_key(address: &str) -> String {
    match normalise_address(address) {
        Ok(normal) => fold(&normal),
        Err(_) => address.trim().to_lowercase(),
    }
}

/// The key of the person behind an address, for limits on mail that nobody may have asked for
/// (subscription confirmations): the duplicate key ([`address_key`], case-folded) with any
/// `+tag` cut from the local part, so `Victim+1@example.org` and `victim+2@Example.org` are one
/// person's mailbox and share one daily allowance. Lists still keep `+tag` addresses apart.
pub fn person_key(address: &str) -> String {
    let key = address_key(address);
    let Some((local, domain)) = key.rsplit_once('@') else { return key };
    match local.split_once('+') {
        Some((base, _)) if !base.is_empty() => format!("{base}@{domain}"),
        _ => key,
    }
}

/// The key of an already normalised address (cheaper than [`address_key`]: no parsing).
pub(crate) fn fold(normalised: &str) -> String {
    normalised.to_lowercase()
}

/// A stable 64-bit hash of `fold(normalised)`, computed without allocating.
///
/// FNV-1a: a few lines, no dependency, and the same value in every build and on every machine
/// (std's `DefaultHasher` promises neither).
pub(crate) fn key_hash(normalised: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(PRIME);
        }
    };
    if normalised.is_ascii() {
        for b in normalised.bytes() {
            feed(&[b.to_ascii_lowercase()]);
        }
    } else {
        // `str::to_lowercase`, as `fold` does, not char by char: a final `Σ` becomes `ς`.
        feed(fold(normalised).as_bytes());
    }
    hash
}

/// The addresses seen so far in a stream, each with the line it was first seen on.
///
/// Only a 64-bit hash of each key is kept, split into two `u32` so an entry (hash + line) packs
/// into 12 bytes instead of 16: a million addresses cost about 27 MB, 41 MB for the moment the
/// table grows. The trade-off is that two different addresses with equal hashes would be taken
/// for duplicates: with n = 1,000,000 keys the chance of any such pair is about
/// n² / 2⁶⁵ ≈ 3 × 10⁻⁸, and the cost would be one spurious warning. The audience, where a
/// false duplicate would drop a recipient, confirms every hit against the full key.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    first_line: HashMap<[u32; 2], u32>,
}

impl Seen {
    /// Record `normalised` seen at `line`; if it was seen before, the line it was first seen on.
    pub(crate) fn insert(&mut self, normalised: &str, line: usize) -> Option<usize> {
        let hash = key_hash(normalised).to_le_bytes();
        let key = [
            u32::from_le_bytes([hash[0], hash[1], hash[2], hash[3]]),
            u32::from_le_bytes([hash[4], hash[5], hash[6], hash[7]]),
        ];
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        match self.first_line.entry(key) {
            Entry::Occupied(first) => Some(usize::try_from(*first.get()).unwrap_or(usize::MAX)),
            Entry::Vacant(slot) => {
                slot.insert(line);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_person_behind_tagged_and_case_variant_addresses_is_one() {
        for variant in
            ["victim@example.org", "Victim+1@example.org", "victim+news+2@EXAMPLE.ORG", " VICTIM+@example.org"]
        {
            assert_eq!(person_key(variant), "victim@example.org", "{variant}");
        }
        assert_eq!(person_key("+only@example.org"), "+only@example.org");
        assert_ne!(person_key("other@example.org"), person_key("victim@example.org"));
    }

    #[track_caller]
    fn case(raw: &str, expected: Result<&str, &str>) {
        assert_eq!(normalise_address(raw).as_deref(), expected.map_err(str::to_owned).as_deref(), "raw: {raw:?}");
    }

    #[test]
    fn normalises_the_domain_and_keeps_the_local_part() {
        case("  Bob.Smith@Example.ORG ", Ok("Bob.Smith@example.org"));
        case("bob+news@example.org", Ok("bob+news@example.org"));
        case("anna@Bücher.example", Ok("anna@xn--bcher-kva.example"));
        case("anna@xn--bcher-kva.example", Ok("anna@xn--bcher-kva.example"));
        case("pelé@example.org", Ok("pelé@example.org"));
        case("pele\u{301}@example.org", Ok("pelé@example.org"));
    }

    #[test]
    fn refuses_what_is_not_an_address_with_a_reason() {
        case("", Err("it is empty"));
        case("bob.example.org", Err("it has no `@`"));
        case("bob@", Err("the domain is missing"));
        case("a@b@example.org", Err("the part before `@` is not valid"));
        case("bob smith@example.org", Err("the part before `@` is not valid"));
        case("<bob@example.org>", Err("the part before `@` is not valid"));
        case("bob@example..org", Err("the domain `example..org` is not valid"));
        case(&format!("{}@example.org", "a".repeat(65)), Err("the part before `@` is not valid"));
        case("bob@example.org.", Err("the domain `example.org.` is not valid"));
        case("bob@localhost", Err("the domain `localhost` has no top-level domain (such as `.org`)"));
        case("bob@[127.0.0.1]", Err("an IP address instead of a domain cannot be mailed"));
        case("bob@example.123", Err("the domain `example.123` ends in digits, which no top-level domain does"));
        case("bob@xn--zz.example", Err("the domain `xn--zz.example` cannot be converted to ASCII"));
        case("bob@XN--BCHER-KVA.example", Ok("bob@xn--bcher-kva.example"));
        for quoted in ["\"john doe\"@example.org", "\"victim\"@example.org", "\"v\\ictim\"@example.org"] {
            case(quoted, Err("a quoted part before `@` (`\"…\"@`) is not accepted"));
        }
        let long =
            format!("{}@{}.example.org", "a".repeat(64), ["b".repeat(60), "c".repeat(60), "d".repeat(60)].join("."));
        case(&long, Err("it is longer than 254 bytes"));
        case(
            &format!("{}@{}.org", "a".repeat(64), "b".repeat(63)),
            Ok(&format!("{}@{}.org", "a".repeat(64), "b".repeat(63))),
        );
    }

    #[test]
    fn an_invalid_address_is_worded_once() {
        assert_eq!(invalid(" bob ", "it has no `@`"), "`bob` is not a valid address: it has no `@`");
        let error = parse(" bob.example.org").unwrap_err();
        assert!(matches!(error, Error::Usage { .. }), "{error:?}");
        assert_eq!(error.to_string(), "`bob.example.org` is not a valid address: it has no `@`");
        assert_eq!(parse(" Bob@Example.ORG ").ok().as_deref(), Some("Bob@example.org"));
    }

    #[test]
    fn keys_merge_case_variants_but_not_tags() {
        assert_eq!(address_key(" Bob@EXAMPLE.org"), "bob@example.org");
        assert_eq!(address_key("anna@BÜCHER.example"), "anna@xn--bcher-kva.example");
        assert_ne!(address_key("bob+news@example.org"), address_key("bob@example.org"));
        assert_eq!(address_key(" Not An Address "), "not an address");
    }

    #[test]
    fn hash_is_the_hash_of_the_key_and_stable() {
        for email in ["Bob@example.org", "PELÉ@example.org", "x@xn--bcher-kva.example", "ΣΑΣ@example.org"] {
            let mut reference = 0xcbf2_9ce4_8422_2325_u64;
            for b in fold(email).bytes() {
                reference = (reference ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
            assert_eq!(key_hash(email), reference, "{email}");
        }
        assert_eq!(key_hash("a@example.org"), 0x5ef9_85fb_b3e1_51d2, "FNV-1a 64 must not change between versions");
    }

    #[test]
    fn seen_reports_the_first_line() {
        let mut seen = Seen::default();
        assert_eq!(seen.insert("bob@example.org", 2), None);
        assert_eq!(seen.insert("ann@example.org", 3), None);
        assert_eq!(seen.insert("BOB@example.org", 7), Some(2));
        assert_eq!(seen.insert("bob+x@example.org", 8), None);
    }
}
