//! What a `send_at` value means: the instant an issue is due, read in the site's time zone.
//!
//! Enters: the text of `send_at` and `site.timezone` (if set). Leaves: a [`Timestamp`] with an
//! optional warning, or why the text names no instant. The rules, with `Europe/London`:
//!
//! - `2027-01-15 07:00` is 07:00 London time: GMT (`+00:00`) in January, BST (`+01:00`) in July.
//!   Without `site.timezone`, a time without an offset is an error.
//! - An explicit offset is taken as written; one that is not the zone's at that instant
//!   (`+01:00` in January) is a warning whose hint gives the zone's offset. `Z` (UTC, local
//!   offset unknown) never warns.
//! - A local time the clocks skip (a DST gap) is an error; one they pass twice (a fold) is a
//!   warning naming both instants, and the first is used.

use jiff::civil::DateTime;
use jiff::fmt::temporal::{Pieces, PiecesOffset};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{Timestamp, Zoned};

/// A problem with a `send_at` value: code, message and hint of its diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The diagnostic code, e.g. `front-matter/send-at-gap`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl Problem {
    fn new(code: &'static str, message: String, help: String) -> Self {
        Self { code, message, help }
    }
}

/// The instant `value` names, read in `zone`, with a warning when it is ambiguous or its offset
/// contradicts the zone; or why it names no instant.
pub fn resolve(value: &str, zone: Option<&TimeZone>) -> Result<(Timestamp, Option<Problem>), Problem> {
    let value = value.trim();
    let not_a_time = || {
        let example = if zone.is_some() { "`2017-01-13 07:00`" } else { "`2017-01-13T07:00:00+00:00`" };
        Problem::new(
            "front-matter/send-at",
            format!("`send_at` is not an RFC 3339 time: `{value}`"),
            format!("write it like {example}"),
        )
    };
    let pieces = Pieces::parse(value).map_err(|_| not_a_time())?;
    let Some(time) = pieces.time() else {
        return Err(match zone {
            Some(_) => Problem::new(
                "front-matter/send-at",
                format!("`send_at` is a date without a time: `{value}`"),
                format!("write a time too, e.g. `{value} 07:00`"),
            ),
            None => Problem::new(
                "front-matter/send-at-zone",
                format!("`send_at` is a date without a time or offset: `{value}`"),
                format!("write a time and offset, e.g. `{value}T07:00:00+00:00`"),
            ),
        });
    };
    if pieces.time_zone_annotation().is_some() {
        // `…[Europe/London]`: jiff resolves the zone it names, and refuses what contradicts it.
        return value.parse::<Zoned>().map(|z| (z.timestamp(), None)).map_err(|_| not_a_time());
    }
    let civil = pieces.date().to_datetime(time);
    match (pieces.offset(), zone) {
        (Some(offset), zone) => {
            let given = offset.to_numeric_offset();
            let at = given.to_timestamp(civil).map_err(|_| not_a_time())?;
            let warning = match (offset, zone) {
                (PiecesOffset::Numeric(_), Some(zone)) if zone.to_offset(at) != given => {
                    Some(contradiction(civil, given, at, zone))
                }
                _ => None,
            };
            Ok((at, warning))
        }
        (None, None) => Err(Problem::new(
            "front-matter/send-at-zone",
            format!("`send_at` has no time zone offset: `{value}`"),
            format!(
                "add an offset, e.g. `{value}+00:00` for UK winter time or `+01:00` for summer time, or set `site.timezone` in letterpress.yaml"
            ),
        )),
        (None, Some(zone)) => in_zone(civil, zone),
    }
}

/// A civil time without an offset, in `zone`.
fn in_zone(civil: DateTime, zone: &TimeZone) -> Result<(Timestamp, Option<Problem>), Problem> {
    let name = zone_name(zone);
    let bad = |why: &str| {
        Problem::new("front-matter/send-at", format!("`send_at` {why}"), "write it like `2017-01-13 07:00`".to_owned())
    };
    match zone.to_ambiguous_timestamp(civil).offset() {
        AmbiguousOffset::Unambiguous { offset } => {
            offset.to_timestamp(civil).map(|at| (at, None)).map_err(|_| bad("is out of range"))
        }
        AmbiguousOffset::Gap { before, after } => {
            let later = before.to_timestamp(civil).map_err(|_| bad("is out of range"))?;
            Err(Problem::new(
                "front-matter/send-at-gap",
                format!(
                    "`send_at` `{}` does not exist in {name}: the clocks go from {} to {} and skip it",
                    local(civil),
                    offset_text(before),
                    offset_text(after)
                ),
                format!(
                    "pick a time the clocks show that day, e.g. `{}`, or write an offset",
                    local(later.to_zoned(zone.clone()).datetime())
                ),
            ))
        }
        AmbiguousOffset::Fold { before, after } => {
            let first = before.to_timestamp(civil).map_err(|_| bad("is out of range"))?;
            let second = after.to_timestamp(civil).map_err(|_| bad("is out of range"))?;
            let warning = Problem::new(
                "front-matter/send-at-fold",
                format!(
                    "`send_at` `{}` happens twice in {name}: at `{}` ({} UTC) and at `{}` ({} UTC); the first is used",
                    local(civil),
                    with_offset(civil, before),
                    utc(first),
                    with_offset(civil, after),
                    utc(second)
                ),
                format!(
                    "write the offset of the one you mean: `{}` or `{}`",
                    with_offset(civil, before),
                    with_offset(civil, after)
                ),
            );
            Ok((first, Some(warning)))
        }
    }
}

/// The warning for an explicit offset that is not the zone's at that instant.
fn contradiction(civil: DateTime, given: Offset, at: Timestamp, zone: &TimeZone) -> Problem {
    let name = zone_name(zone);
    let right = zone.to_ambiguous_timestamp(civil).compatible().map_or(zone.to_offset(at), |t| zone.to_offset(t));
    Problem::new(
        "front-matter/send-at-offset",
        format!(
            "`send_at` offset `{}` is not {name}'s on {}, which is `{}`: as written it is `{}` there",
            offset_text(given),
            civil.date(),
            offset_text(right),
            local(at.to_zoned(zone.clone()).datetime())
        ),
        format!(
            "write `{}` for {} in {name}, or leave the offset out",
            with_offset(civil, right),
            civil.time().strftime("%H:%M")
        ),
    )
}

fn zone_name(zone: &TimeZone) -> &str {
    zone.iana_name().unwrap_or("the site's time zone")
}

/// `2027-01-15 07:00`, with seconds when there are any.
fn local(dt: DateTime) -> String {
    if dt.second() == 0 && dt.subsec_nanosecond() == 0 {
        dt.strftime("%Y-%m-%d %H:%M").to_string()
    } else {
        dt.strftime("%Y-%m-%d %H:%M:%S").to_string()
    }
}

fn utc(at: Timestamp) -> String {
    at.strftime("%H:%M").to_string()
}

/// `2027-01-15T07:00:00+00:00`.
fn with_offset(civil: DateTime, offset: Offset) -> String {
    format!("{}{}", civil.strftime("%Y-%m-%dT%H:%M:%S"), offset_text(offset))
}

/// `+01:00`, `-05:00`, `+05:30`.
fn offset_text(offset: Offset) -> String {
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn london() -> TimeZone {
        // The bundled database, so the rules hold on a machine without `/usr/share/zoneinfo`.
        jiff::tz::TimeZoneDatabase::bundled().get("Europe/London").unwrap()
    }

    #[track_caller]
    fn at(value: &str, zone: Option<&TimeZone>) -> (String, Option<Problem>) {
        let (at, warning) = resolve(value, zone).unwrap();
        (at.to_string(), warning)
    }

    #[track_caller]
    fn refused(value: &str, zone: Option<&TimeZone>) -> Problem {
        resolve(value, zone).unwrap_err()
    }

    #[test]
    fn a_local_time_is_gmt_in_winter_and_bst_in_summer() {
        let zone = london();
        assert_eq!(at("2027-01-15 07:00", Some(&zone)), ("2027-01-15T07:00:00Z".to_owned(), None));
        assert_eq!(at("2027-07-15 07:00", Some(&zone)), ("2027-07-15T06:00:00Z".to_owned(), None));
        assert_eq!(at("2027-07-15T07:00:30", Some(&zone)).0, "2027-07-15T06:00:30Z");
        // The days the clocks change: after 01:00 UTC on the last Sunday of March, before it
        // on the last Sunday of October.
        assert_eq!(at("2027-03-28 03:00", Some(&zone)).0, "2027-03-28T02:00:00Z");
        assert_eq!(at("2027-03-28 00:30", Some(&zone)).0, "2027-03-28T00:30:00Z");
        assert_eq!(at("2027-10-31 03:00", Some(&zone)).0, "2027-10-31T03:00:00Z");
    }

    #[test]
    fn without_a_zone_a_time_needs_an_offset() {
        assert_eq!(at("2017-01-13T07:00:00+00:00", None), ("2017-01-13T07:00:00Z".to_owned(), None));
        let problem = refused("2017-01-13T07:00:00", None);
        assert_eq!(problem.code, "front-matter/send-at-zone");
        assert!(problem.help.contains("`site.timezone`"), "{}", problem.help);
        assert_eq!(refused("2017-01-13", None).code, "front-matter/send-at-zone");
        assert_eq!(refused("soon", None).code, "front-matter/send-at");
        assert_eq!(refused("2017-01-13", Some(&london())).code, "front-matter/send-at");
    }

    #[test]
    fn an_offset_contradicting_the_zone_is_a_warning_with_the_right_offset() {
        let zone = london();
        let (instant, warning) = at("2027-01-15T07:00:00+01:00", Some(&zone));
        assert_eq!(instant, "2027-01-15T06:00:00Z", "the offset is taken as written");
        let warning = warning.expect("a warning");
        assert_eq!(warning.code, "front-matter/send-at-offset");
        assert_eq!(
            warning.message,
            "`send_at` offset `+01:00` is not Europe/London's on 2027-01-15, which is `+00:00`: as written it is `2027-01-15 06:00` there"
        );
        assert_eq!(
            warning.help,
            "write `2027-01-15T07:00:00+00:00` for 07:00 in Europe/London, or leave the offset out"
        );
        let summer = at("2027-07-15T07:00:00+00:00", Some(&zone)).1.expect("a warning");
        assert!(summer.help.starts_with("write `2027-07-15T07:00:00+01:00`"), "{}", summer.help);
        assert_eq!(at("2027-07-15T07:00:00+01:00", Some(&zone)).1, None);
        assert_eq!(at("2027-07-15T07:00:00Z", Some(&zone)).1, None, "`Z` says UTC, not a local offset");
    }

    #[test]
    fn a_time_in_a_gap_is_an_error() {
        let problem = refused("2027-03-28 01:30", Some(&london()));
        assert_eq!(problem.code, "front-matter/send-at-gap");
        assert_eq!(
            problem.message,
            "`send_at` `2027-03-28 01:30` does not exist in Europe/London: the clocks go from +00:00 to +01:00 and skip it"
        );
        assert!(problem.help.contains("`2027-03-28 02:30`"), "{}", problem.help);
    }

    #[test]
    fn a_time_in_a_fold_is_a_warning_naming_both_instants() {
        let (instant, warning) = at("2027-10-31 01:30", Some(&london()));
        assert_eq!(instant, "2027-10-31T00:30:00Z", "the first one");
        let warning = warning.expect("a warning");
        assert_eq!(warning.code, "front-matter/send-at-fold");
        assert_eq!(
            warning.message,
            "`send_at` `2027-10-31 01:30` happens twice in Europe/London: at `2027-10-31T01:30:00+01:00` (00:30 UTC) and at `2027-10-31T01:30:00+00:00` (01:30 UTC); the first is used"
        );
        let (second, warning) = at("2027-10-31T01:30:00+00:00", Some(&london()));
        assert_eq!((second.as_str(), warning), ("2027-10-31T01:30:00Z", None), "an offset chooses");
    }
}
