//! Test seams of the webhooks (only with the `test-hooks` feature, never in a release build):
//! a sink that appends each new event to a file as a JSON line (a replayed event id is a
//! duplicate), and an SNS fetcher that serves a test certificate and records other GETs.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use url::Url;

use super::OpenSink;
use crate::bounces::webhook::ses::{Fetch, Fetched};
use crate::bounces::{Handled, ProviderEvent, Sink};
use crate::env::Env;
use crate::error::{Error, Result};

/// Events file variable.
pub const EVENTS_VAR: &str = "LETTERPRESS_TEST_WEBHOOK_EVENTS";
/// Certificate file variable.
pub const CERT_VAR: &str = "LETTERPRESS_TEST_SNS_CERT";

pub fn from_env(env: &Env) -> Option<(Arc<dyn Fetch>, OpenSink)> {
    let events = PathBuf::from(env.get(EVENTS_VAR)?);
    let cert = PathBuf::from(env.get(CERT_VAR).unwrap_or_default());
    let sink: OpenSink =
        Box::new(move || Ok(Box::new(FileSink { path: events, seen: HashSet::new() }) as Box<dyn Sink>));
    Some((Arc::new(FileFetch { cert }), sink))
}

struct FileSink {
    path: PathBuf,
    seen: HashSet<String>,
}

impl Sink for FileSink {
    fn message(&mut self, _raw: &[u8], _origin: &str) -> Result<Handled> {
        Ok(Handled::Ignored("webhooks give events only".to_owned()))
    }

    fn event(&mut self, event: &ProviderEvent) -> Result<Handled> {
        if !self.seen.insert(format!("{}:{}", event.provider.as_str(), event.event_id)) {
            return Ok(Handled::Duplicate);
        }
        let line = serde_json::to_string(event).map_err(|e| Error::usage(e.to_string()))? + "\n";
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::io("open", &self.path, e))?;
        file.write_all(line.as_bytes()).map_err(|e| Error::io("write", &self.path, e))?;
        Ok(Handled::Recorded(1))
    }
}

struct FileFetch {
    cert: PathBuf,
}

impl Fetch for FileFetch {
    fn get<'a>(&'a self, url: &'a Url) -> Fetched<'a> {
        let answer = if crate::bounces::webhook::ses::has_pem_extension(url) {
            std::fs::read(&self.cert).map_err(|e| e.to_string())
        } else {
            let log = self.cert.with_extension("fetched");
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .and_then(|mut f| f.write_all(format!("{url}\n").as_bytes()))
                .map(|()| b"<ConfirmSubscriptionResponse/>".to_vec())
                .map_err(|e| e.to_string())
        };
        Box::pin(async move { answer })
    }
}
