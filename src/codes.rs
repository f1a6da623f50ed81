//! The codes of the diagnostics an issue can have: a leaf, so that the configuration (which
//! validates `sending.block-on`), `check` (which reports them) and the send gate (`--allow`)
//! share one list without importing one another.

/// Every code [`crate::check::issue`] can report, for settings that name codes
/// (`sending.block-on`, `send --allow`).
pub const ISSUE_CODES: &[&str] = &[
    "content/unknown-publication",
    "front-matter/empty-subject",
    "front-matter/duplicate-list",
    "front-matter/send-at-fold",
    "front-matter/send-at-offset",
    "front-matter/subject-line",
    "front-matter/unknown-list",
    "link/broken",
    "link/data-uri",
    "link/draft",
    "link/missing-image",
    "link/scheme",
    "lint/alt-text",
    "lint/date-mismatch",
    "lint/draft-scheduled",
    "lint/email-support",
    "lint/html-size",
    "lint/http-link",
    "lint/no-scheme",
    "lint/placeholder",
    "lint/raw-html",
    "lint/subject-length",
    "lint/text-width",
    "template/css",
    "template/error",
    "template/io",
    "template/unsubscribe",
];
