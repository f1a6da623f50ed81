//! Amazon SES notifications through an SNS topic's HTTPS subscription.
//!
//! Each SNS message is verified as AWS documents: the signing certificate's URL must be https
//! on an `sns.<region>.amazonaws.com` host (checked before anything is fetched), the signature
//! (`SignatureVersion` 1: `SHA1withRSA`, 2: `SHA256withRSA`) must verify over the canonical string
//! of the message's fields with that certificate's key, and the `TopicArn` must be one of
//! `bounces.webhooks.ses.topics`. Certificates are cached by URL. A verified
//! `SubscriptionConfirmation` is confirmed by fetching its (host-checked) `SubscribeURL`; a
//! `Notification` carries an SES `Bounce` (`Permanent` → hard, `Transient` → soft,
//! `Undetermined` → unknown), `Complaint` or `Delivery`.

mod fetch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use jiff::Timestamp;
use serde_json::Value;
use url::Url;

pub use fetch::{Fetch, Fetched, HttpsFetcher};

use super::{Rejected, Verified, bare_message_id, json, reply_code, status_code, text};
use crate::bounces::{Provider, ProviderEvent, Verdict};

/// Cached RSA keys by certificate URL, with the certificate's expiry.
type Keys = HashMap<String, (Arc<Vec<u8>>, Timestamp)>;

/// Certificates kept at most (SNS uses one per region, rotated rarely).
const CACHED: usize = 32;

/// Verifies SNS messages for the configured topics.
pub struct Verifier {
    topics: Vec<String>,
    fetch: Arc<dyn Fetch>,
    /// RSA public keys (PKCS#1 DER) by certificate URL, with the certificate's expiry.
    keys: Mutex<Keys>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("topics", &self.topics).finish_non_exhaustive()
    }
}

/// Whether `host` is an SNS endpoint: `sns.<region>.amazonaws.com` (or `.com.cn`).
pub fn is_sns_host(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("sns.") else { return false };
    let Some(region) = rest.strip_suffix(".amazonaws.com").or_else(|| rest.strip_suffix(".amazonaws.com.cn")) else {
        return false;
    };
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// `value` as an https URL on an SNS host, or why not.
pub fn sns_url(value: &str, what: &str) -> Result<Url, Rejected> {
    let refuse = |why: String| Rejected::Forbidden(format!("SNS: {what} `{value}` {why}"));
    let url = Url::parse(value).map_err(|_| refuse("is not a URL".to_owned()))?;
    if url.scheme() != "https" {
        return Err(refuse("is not https".to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
        return Err(refuse("has a user name, password or port".to_owned()));
    }
    match url.host() {
        Some(url::Host::Domain(host)) if is_sns_host(host) => Ok(url),
        _ => Err(refuse("is not on an `sns.<region>.amazonaws.com` host".to_owned())),
    }
}

/// Whether the URL's path names a `.pem` file.
pub fn has_pem_extension(url: &Url) -> bool {
    std::path::Path::new(url.path()).extension().is_some_and(|ext| ext.eq_ignore_ascii_case("pem"))
}

/// The string SNS signs: the documented fields of the message's type, each `Name\nvalue\n`.
pub fn canonical(message: &Value) -> Result<String, Rejected> {
    let kind = text(message, "Type").unwrap_or_default();
    let fields: &[&str] = match kind {
        "Notification" => &["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
            &["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        }
        other => return Err(Rejected::BadRequest(format!("SNS: unknown message type `{other}`"))),
    };
    let mut out = String::new();
    for &field in fields {
        match text(message, field) {
            Some(value) => {
                out.push_str(field);
                out.push('\n');
                out.push_str(value);
                out.push('\n');
            }
            None if field == "Subject" => {}
            None => return Err(Rejected::Unauthorized(format!("SNS: the message has no `{field}`"))),
        }
    }
    Ok(out)
}

impl Verifier {
    /// A verifier accepting `topics`, fetching certificates (and confirming subscriptions)
    /// through `fetch`.
    pub fn new(topics: Vec<String>, fetch: Arc<dyn Fetch>) -> Self {
        Self { topics, fetch, keys: Mutex::default() }
    }

    /// The fetcher, for confirming subscriptions.
    pub fn fetcher(&self) -> &dyn Fetch {
        self.fetch.as_ref()
    }

    /// Check one SNS request at `now`: what it asks of us when it is genuine and for us.
    pub async fn verify(&self, body: &[u8], now: Timestamp) -> Result<Verified, Rejected> {
        let message = json(body)?;
        let topic = text(&message, "TopicArn").ok_or_else(|| Rejected::BadRequest("SNS: no `TopicArn`".to_owned()))?;
        if !self.topics.iter().any(|t| t == topic) {
            return Err(Rejected::Forbidden(format!("SNS: topic `{topic}` is not in `bounces.webhooks.ses.topics`")));
        }
        let signed = canonical(&message)?;
        let algorithm: &dyn ring::signature::VerificationAlgorithm = match text(&message, "SignatureVersion") {
            Some("1") => &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            Some("2") => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            _ => return Err(Rejected::Unauthorized("SNS: `SignatureVersion` is not 1 or 2".to_owned())),
        };
        let signature = text(&message, "Signature")
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .ok_or_else(|| Rejected::Unauthorized("SNS: no base64 `Signature`".to_owned()))?;
        let cert_url = sns_url(text(&message, "SigningCertURL").unwrap_or_default(), "SigningCertURL")?;
        if !has_pem_extension(&cert_url) {
            return Err(Rejected::Forbidden(format!("SNS: SigningCertURL `{cert_url}` is not a .pem file")));
        }
        let key = self.key(&cert_url, now).await?;
        ring::signature::UnparsedPublicKey::new(algorithm, key.as_slice())
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| Rejected::Unauthorized("SNS: the signature does not verify".to_owned()))?;
        match text(&message, "Type") {
            Some("SubscriptionConfirmation") => {
                let url = sns_url(text(&message, "SubscribeURL").unwrap_or_default(), "SubscribeURL")?;
                Ok(Verified::Subscribe(url))
            }
            Some("Notification") => Ok(Verified::Events(events(text(&message, "Message").unwrap_or_default())?)),
            _ => Ok(Verified::Events(Vec::new())),
        }
    }

    /// The RSA key of the certificate at `url`, from the cache or fetched.
    async fn key(&self, url: &Url, now: Timestamp) -> Result<Arc<Vec<u8>>, Rejected> {
        let cached = self.lock().get(url.as_str()).cloned();
        if let Some((key, expires)) = cached
            && now < expires
        {
            return Ok(key);
        }
        let pem = self.fetch.get(url).await.map_err(|why| {
            Rejected::Unavailable(format!("SNS: could not fetch the signing certificate `{url}`: {why}"))
        })?;
        let (key, expires) =
            rsa_key(&pem, now).map_err(|why| Rejected::Unauthorized(format!("SNS: the certificate `{url}` {why}")))?;
        let key = Arc::new(key);
        let mut keys = self.lock();
        if keys.len() >= CACHED {
            keys.clear();
        }
        keys.insert(url.as_str().to_owned(), (Arc::clone(&key), expires));
        Ok(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The RSA public key (PKCS#1 DER) of a PEM certificate valid at `now`, and its expiry.
fn rsa_key(pem: &[u8], now: Timestamp) -> Result<(Vec<u8>, Timestamp), String> {
    use rustls_pki_types::pem::PemObject as _;
    let der =
        rustls_pki_types::CertificateDer::from_pem_slice(pem).map_err(|_| "is not a PEM certificate".to_owned())?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|_| "cannot be parsed".to_owned())?;
    let validity = cert.validity();
    let (from, until) = (validity.not_before.timestamp(), validity.not_after.timestamp());
    if now.as_second() < from || now.as_second() > until {
        return Err("is not valid now".to_owned());
    }
    let spki = cert.public_key();
    if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
        return Err("does not hold an RSA key".to_owned());
    }
    let expires = Timestamp::from_second(until).map_err(|_| "has an impossible expiry".to_owned())?;
    Ok((spki.subject_public_key.data.to_vec(), expires))
}

/// The events of a verified SES notification (the SNS `Message`).
pub fn events(message: &str) -> Result<Vec<ProviderEvent>, Rejected> {
    let bad = |why: &str| Rejected::BadRequest(format!("SES notification: {why}"));
    let value: Value = serde_json::from_str(message).map_err(|_| bad("the message is not JSON"))?;
    let kind = text(&value, "notificationType").or_else(|| text(&value, "eventType")).ok_or_else(|| bad("no type"))?;
    let mail = value.get("mail").unwrap_or(&Value::Null);
    let message_id = mail
        .pointer("/commonHeaders/messageId")
        .and_then(Value::as_str)
        .or_else(|| {
            mail.get("headers")?.as_array()?.iter().find_map(|h| {
                text(h, "name").filter(|n| n.eq_ignore_ascii_case("Message-ID")).and_then(|_| text(h, "value"))
            })
        })
        .map(bare_message_id);
    let at = |section: &Value| text(section, "timestamp").and_then(|t| t.parse::<Timestamp>().ok());
    let event = |id: String, recipient: &str, verdict, diagnostic: Option<String>, at| ProviderEvent {
        provider: Provider::Ses,
        event_id: id,
        recipient: recipient.to_owned(),
        verdict,
        status: None,
        reply: diagnostic.as_deref().and_then(reply_code),
        diagnostic,
        message_id: message_id.clone(),
        at,
    };
    let list = |section: &Value, key: &str| section.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out = Vec::new();
    match kind {
        "Bounce" => {
            let bounce = value.get("bounce").ok_or_else(|| bad("no `bounce`"))?;
            let verdict = match text(bounce, "bounceType") {
                Some("Permanent") => Verdict::Hard,
                Some("Transient") => Verdict::Soft,
                _ => Verdict::Unknown,
            };
            let feedback = text(bounce, "feedbackId").ok_or_else(|| bad("no `feedbackId`"))?;
            for r in list(bounce, "bouncedRecipients") {
                let Some(address) = text(&r, "emailAddress") else { continue };
                let diagnostic = text(&r, "diagnosticCode").map(str::to_owned);
                let status =
                    text(&r, "status").map(str::to_owned).or_else(|| diagnostic.as_deref().and_then(status_code));
                let e = event(format!("{feedback}:{address}"), address, verdict, diagnostic, at(bounce));
                out.push(ProviderEvent { status, ..e });
            }
        }
        "Complaint" => {
            let complaint = value.get("complaint").ok_or_else(|| bad("no `complaint`"))?;
            let feedback_type = text(complaint, "complaintFeedbackType");
            if feedback_type == Some("not-spam") {
                return Ok(Vec::new());
            }
            // As for a feedback report read from a mailbox: only abuse, fraud and virus (or no
            // type) are complaints; an auth-failure or other report is recorded as unknown.
            let verdict = crate::bounces::arf::verdict_of(feedback_type);
            let feedback = text(complaint, "feedbackId").ok_or_else(|| bad("no `feedbackId`"))?;
            for r in list(complaint, "complainedRecipients") {
                let Some(address) = text(&r, "emailAddress") else { continue };
                let kind = feedback_type.map(|t| format!("feedback type {t}"));
                out.push(event(format!("{feedback}:{address}"), address, verdict, kind, at(complaint)));
            }
        }
        "Delivery" => {
            let delivery = value.get("delivery").ok_or_else(|| bad("no `delivery`"))?;
            let ses_id = text(mail, "messageId").ok_or_else(|| bad("no `mail.messageId`"))?;
            let response = text(delivery, "smtpResponse").map(str::to_owned);
            for r in list(delivery, "recipients") {
                let Some(address) = r.as_str() else { continue };
                let id = format!("delivery:{ses_id}:{address}");
                out.push(event(id, address, Verdict::Delivered, response.clone(), at(delivery)));
            }
        }
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
