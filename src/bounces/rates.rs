//! Whether the last send's bounce and complaint rates put the sending account at risk.
//!
//! Enters: the state store's per-send [`BounceCounts`]. Leaves: a warning [`Diagnostic`] for
//! `check` and `send` when the latest send that delivered anything had more than
//! [`MAX_BOUNCE_RATE`] bounces or [`MAX_COMPLAINT_RATE`] complaints. Providers review accounts
//! above 5 % bounces (Amazon SES) and 0.1 % complaints (SES; Gmail's bulk rules want under
//! 0.3 %), so the warning comes well before that.

use crate::diagnostic::Diagnostic;
use crate::error::Result;
use crate::state::{BounceCounts, State};

/// Bounced recipients per delivered message above which `check` and `send` warn.
pub const MAX_BOUNCE_RATE: f64 = 0.02;
/// Complaints per delivered message above which `check` and `send` warn.
pub const MAX_COMPLAINT_RATE: f64 = 0.001;

/// The warning about the latest send that delivered anything, if its rates are too high.
pub fn last_send_warning(state: &State) -> Result<Option<Diagnostic>> {
    let counts = state.bounce_counts()?;
    Ok(counts.iter().rev().find(|c| c.delivered > 0).and_then(warning))
}

/// The warning for one send's figures, if its rates are too high.
pub fn warning(counts: &BounceCounts) -> Option<Diagnostic> {
    let (bounces, complaints) = (counts.bounce_rate(), counts.complaint_rate());
    let mut over = Vec::new();
    if bounces > MAX_BOUNCE_RATE {
        over.push(format!("{} bounced ({}, over 2 %)", counts.hard + counts.soft, percent(bounces)));
    }
    if complaints > MAX_COMPLAINT_RATE {
        over.push(format!("{} complained ({}, over 0.1 %)", counts.complaints, percent(complaints)));
    }
    if over.is_empty() {
        return None;
    }
    Some(
        Diagnostic::warning(
            "bounces/rate",
            format!("the last send, `{}`, reached {} recipients: {}", counts.send, counts.delivered, over.join(" and ")),
        )
        .help("run `letterpress bounces ingest` (or `bounces fetch`) so bounced addresses are suppressed, and check the list's source; providers suspend accounts above 5 % bounces or 0.1 % complaints"),
    )
}

/// `rate` as a percentage with two decimals.
pub fn percent(rate: f64) -> String {
    format!("{:.2} %", rate * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(delivered: u32, hard: u32, soft: u32, complaints: u32) -> BounceCounts {
        BounceCounts { send: "weekly/a".to_owned(), delivered, hard, soft, complaints }
    }

    #[test]
    fn warns_over_two_percent_bounces_or_a_tenth_of_a_percent_complaints() {
        assert_eq!(warning(&counts(100, 2, 0, 0)), None, "2 % is not over");
        assert_eq!(warning(&counts(1000, 0, 0, 1)), None, "0.1 % is not over");
        assert_eq!(warning(&counts(0, 0, 0, 0)), None);
        let over = warning(&counts(100, 2, 1, 0)).unwrap();
        assert_eq!(over.message, "the last send, `weekly/a`, reached 100 recipients: 3 bounced (3.00 %, over 2 %)");
        let both = warning(&counts(1000, 30, 0, 2)).unwrap();
        assert!(
            both.message.ends_with("30 bounced (3.00 %, over 2 %) and 2 complained (0.20 %, over 0.1 %)"),
            "{}",
            both.message
        );
    }
}
