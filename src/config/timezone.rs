//! `site.timezone`: the IANA time zone editors think in, looked up in the system's time zone
//! database or, on a machine without one, the copy built into letterpress (jiff's bundle).
//!
//! Enters: [`Site`] and the configuration text. Leaves: a [`TimeZone`] or a located
//! `config/timezone` error with a "did you mean" hint.

use std::path::Path;

use jiff::tz::TimeZone;

use super::{Site, find};
use crate::diagnostic::{Diagnostic, did_you_mean};

impl Site {
    /// The configured time zone (`timezone`), from the system's time zone database or, on a
    /// machine without one, the copy built into letterpress.
    pub fn time_zone(&self) -> Option<TimeZone> {
        self.timezone.as_deref().and_then(|name| jiff::tz::db().get(name).ok())
    }
}

/// `config/timezone` when `site.timezone` names no zone, with the closest name as a hint.
pub(super) fn validate(site: &Site, path: &Path, text: &str) -> Option<Diagnostic> {
    let name = site.timezone.as_deref()?;
    if jiff::tz::db().get(name).is_ok() {
        return None;
    }
    let names = jiff::tz::db().available();
    let names: Vec<String> = names.map(|n| n.as_str().to_owned()).collect();
    let city =
        names.iter().find(|n| n.rsplit('/').next().is_some_and(|c| c.eq_ignore_ascii_case(&name.replace(' ', "_"))));
    let help = match city.map(String::as_str).or_else(|| did_you_mean(name, names.iter().map(String::as_str))) {
        Some(close) => format!("did you mean `{close}`?"),
        None => "write an IANA time zone name such as `Europe/London` or `America/New_York`, not an abbreviation such as `BST`"
            .to_owned(),
    };
    Some(
        Diagnostic::error("config/timezone", format!("unknown time zone `{name}`"))
            .help(help)
            .at(find(path, text, "timezone", name), text),
    )
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    const GOOD: &str = "site:\n  title: T\n  timezone: Europe/London\n  base-url: https://news.example.org\npublications:\n  - slug: weekly\n    name: Weekly\n    from: Weekly <w@news.example.org>\n";

    #[test]
    fn the_time_zone_is_an_iana_name() {
        let config = Config::parse(Path::new("c.yaml"), GOOD).unwrap();
        assert_eq!(
            config.site.time_zone().and_then(|z| z.iana_name().map(str::to_owned)).as_deref(),
            Some("Europe/London")
        );
        assert_eq!(
            Config::parse(Path::new("c.yaml"), &GOOD.replace("  timezone: Europe/London\n", ""))
                .unwrap()
                .site
                .time_zone(),
            None
        );
        for (bad, hint) in [
            ("Europe/Londn", "did you mean `Europe/London`?"),
            ("London", "did you mean `Europe/London`?"),
            ("BST", "write an IANA time zone name"),
        ] {
            let errors = Config::parse(Path::new("c.yaml"), &GOOD.replace("Europe/London", bad)).unwrap_err();
            assert_eq!(errors[0].code, "config/timezone", "{bad}");
            assert_eq!(errors[0].message, format!("unknown time zone `{bad}`"));
            assert!(errors[0].help.as_deref().unwrap_or_default().starts_with(hint), "{bad}: {:?}", errors[0].help);
            assert_eq!(errors[0].location.as_ref().map(|l| (l.line, l.col)), Some((3, 3)), "{bad}");
        }
    }
}
