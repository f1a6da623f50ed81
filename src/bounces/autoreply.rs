//! Automatic replies (RFC 3834 and what vacation programs really send): never a bounce.

use super::classify::{Phrases, any, normalise};
use super::parse::Parsed;

/// Subjects of automatic replies, lower-case, in the languages newsrooms meet.
const SUBJECTS: &[&str] = &[
    "out of office",
    "out of the office",
    "out-of-office",
    "automatic reply",
    "auto reply",
    "autoreply",
    "auto-reply",
    "auto response",
    "autoresponse",
    "auto-response",
    "automated response",
    "automatische antwort",
    "abwesenheitsnotiz",
    "abwesend",
    "réponse automatique",
    "reponse automatique",
    "absence",
    "respuesta automática",
    "respuesta automatica",
    "fuera de la oficina",
    "risposta automatica",
    "fuori sede",
    "automatisch antwoord",
    "afwezig",
    "resposta automática",
    "ausente",
    "automatiskt svar",
    "automatisk svar",
    "autosvar",
    "fraværende",
    "automaattinen vastaus",
    "odpowiedź automatyczna",
    "автоматический ответ",
    "自動応答",
    "自动回复",
    "vacation",
    "on vacation",
    "on holiday",
    "on leave",
    "away from the office",
    "i am away",
    "i'm away",
    "thank you for your email",
    "thank you for your message",
    "thanks for your email",
    "thanks for your message",
    "we have received your",
    "ticket received",
];

static SUBJECT_SET: Phrases = Phrases::new(SUBJECTS);

/// Whether the message is an automatic reply, by its headers or its subject.
pub fn is_autoreply(parsed: &Parsed) -> bool {
    let auto = parsed.auto_submitted.as_str();
    if auto.starts_with("auto-replied") || auto.starts_with("auto-notified") {
        return true;
    }
    if parsed.autoreply_header {
        return true;
    }
    if matches!(parsed.precedence.as_str(), "auto_reply" | "auto-reply") {
        return true;
    }
    SUBJECT_SET.found_in(&normalise(&parsed.subject))
}

/// Whether only the subject (not a header) says so, and strongly.
pub fn subject_says_autoreply(subject: &str) -> bool {
    let subject = normalise(subject);
    any(
        &subject,
        &[
            "out of office",
            "out of the office",
            "automatic reply",
            "auto reply",
            "autoreply",
            "auto-reply",
            "abwesenheitsnotiz",
            "réponse automatique",
            "automatische antwort",
            "respuesta automática",
            "risposta automatica",
            "automatisch antwoord",
            "vacation",
            "автоматический ответ",
        ],
    )
}
