//! The only place that reads the wall clock.
//!
//! Commands receive a [`Clock`] and ask it for the time, so tests can pin it. The environment
//! variable `LETTERPRESS_NOW` (an RFC 3339 timestamp) pins the clock for a whole process, which
//! is how the CLI tests and reproducible runs fix "today".

use jiff::{Timestamp, Zoned, tz::TimeZone};

/// `LETTERPRESS_NOW` is set but is not a timestamp; the parser's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`LETTERPRESS_NOW` is not an RFC 3339 timestamp: {0}")]
pub struct BadNow(String);

impl From<BadNow> for String {
    fn from(error: BadNow) -> Self {
        error.to_string()
    }
}

/// A source of the current time.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    fixed: Option<Timestamp>,
}

impl Clock {
    /// The real clock, unless `LETTERPRESS_NOW` pins it.
    #[allow(clippy::disallowed_methods, reason = "LETTERPRESS_NOW is read with the clock, at the edge")]
    pub fn from_env() -> Result<Self, BadNow> {
        match std::env::var("LETTERPRESS_NOW") {
            Ok(value) => value.parse::<Timestamp>().map(Self::fixed).map_err(|e| BadNow(e.to_string())),
            Err(_) => Ok(Self { fixed: None }),
        }
    }

    /// A clock stopped at `at`.
    pub fn fixed(at: Timestamp) -> Self {
        Self { fixed: Some(at) }
    }

    /// The current instant, to the second (what files and the state store record).
    #[allow(clippy::disallowed_methods, reason = "this is the one place allowed to read the clock")]
    pub fn now(&self) -> Timestamp {
        let now = self.fixed.unwrap_or_else(Timestamp::now);
        Timestamp::from_second(now.as_second()).unwrap_or(now)
    }

    /// Today in `zone`, the site's time zone when it has one, else [`Self::now_local`]'s date.
    pub fn today(&self, zone: Option<&TimeZone>) -> jiff::civil::Date {
        zone.map_or_else(|| self.now_local().date(), |zone| self.now().to_zoned(zone.clone()).date())
    }

    /// The current time in the system's time zone (UTC when pinned, for reproducibility).
    pub fn now_local(&self) -> Zoned {
        let tz = if self.fixed.is_some() { TimeZone::UTC } else { TimeZone::system() };
        self.now().to_zoned(tz)
    }
}

/// Elapsed time from a start, on the monotonic clock: what budgets and timeouts measure, never
/// shown to anyone and unaffected by `LETTERPRESS_NOW` or the wall clock being set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopwatch {
    started: std::time::Instant,
}

impl Stopwatch {
    /// A stopwatch started now.
    pub fn start() -> Self {
        Self { started: std::time::Instant::now() }
    }

    /// Time since [`Stopwatch::start`].
    pub fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }
}

/// `at` as people read it. Without a zone, RFC 3339 in UTC (`2027-01-15T07:00:00Z`); in the
/// site's zone, its local date and time with the zone's abbreviation (`2027-01-15 07:00 GMT`),
/// seconds only when there are some.
pub fn show(at: Timestamp, zone: Option<&TimeZone>) -> String {
    let Some(zone) = zone else { return at.to_string() };
    let local = at.to_zoned(zone.clone());
    let format = if local.second() == 0 { "%Y-%m-%d %H:%M %Z" } else { "%Y-%m-%d %H:%M:%S %Z" };
    local.strftime(format).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_in_the_site_zone_with_its_abbreviation() {
        let london = jiff::tz::TimeZoneDatabase::bundled().get("Europe/London").unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(show(at("2027-01-15T07:00:00Z"), None), "2027-01-15T07:00:00Z");
        assert_eq!(show(at("2027-01-15T07:00:00Z"), Some(&london)), "2027-01-15 07:00 GMT");
        assert_eq!(show(at("2027-07-15T06:00:30Z"), Some(&london)), "2027-07-15 07:00:30 BST");
    }

    #[test]
    fn today_is_the_site_zone_date() {
        let clock = Clock::fixed("2026-11-22T09:30:00Z".parse().unwrap());
        let honolulu = jiff::tz::TimeZoneDatabase::bundled().get("Pacific/Honolulu").unwrap();
        assert_eq!(clock.today(None).to_string(), "2026-11-22");
        assert_eq!(clock.today(Some(&honolulu)).to_string(), "2026-11-21");
    }
}
