//! An in-memory transport for tests: it answers every message from a script and records what
//! it was given, so the send engine can be driven without a network or real time passing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{ConnectError, Connection, Outcome, Reply, Stage, Transport};

/// The reply to one message, chosen by the script from the recipient and how many messages the
/// recorder has seen before it.
type Script = dyn Fn(&str, usize) -> Outcome + Send + Sync;

/// One message the recorder was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The envelope sender.
    pub from: String,
    /// The envelope recipient.
    pub to: String,
    /// The message bytes.
    pub bytes: Vec<u8>,
}

/// A scripted relay.
#[derive(Clone)]
pub struct Recorder {
    script: Arc<Script>,
    refuse: Option<ConnectError>,
    log: Arc<Mutex<Vec<Recorded>>>,
    /// Connections closed politely (QUIT), not dropped.
    closed: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("refuse", &self.refuse).finish_non_exhaustive()
    }
}

impl Recorder {
    /// A relay that accepts every message.
    pub fn accepting() -> Self {
        Self::scripted(|_, _| reply(250, "2.0.0 queued"))
    }

    /// A relay that answers each message with `script(recipient, messages_before)`; a refusal
    /// at MAIL, RCPT or DATA is an `Outcome` at that stage (the message is not recorded then).
    pub fn scripted(script: impl Fn(&str, usize) -> Outcome + Send + Sync + 'static) -> Self {
        Self { script: Arc::new(script), refuse: None, log: Arc::default(), closed: Arc::default() }
    }

    /// A relay whose connections fail with `error`.
    #[must_use]
    pub fn refusing_connections(mut self, error: ConnectError) -> Self {
        self.refuse = Some(error);
        self
    }

    /// Every message delivered so far (accepted or not), in order.
    pub fn messages(&self) -> Vec<Recorded> {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// The recipients of the messages delivered so far, in order.
    pub fn recipients(&self) -> Vec<String> {
        self.messages().into_iter().map(|m| m.to).collect()
    }

    /// How many connections were closed politely (an SMTP QUIT) rather than dropped.
    pub fn closed_politely(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

/// A reply at the end of the message: `text` may start with an enhanced code.
pub fn reply(code: u16, text: &str) -> Outcome {
    let enhanced = super::enhanced_code(text);
    let text = match enhanced {
        Some(_) => text.split_once(' ').map_or("", |(_, rest)| rest),
        None => text,
    };
    Outcome::Replied { reply: Reply { code, enhanced, text: text.to_owned() }, stage: Stage::EndOfData }
}

/// One connection to a [`Recorder`].
pub struct RecorderConnection {
    recorder: Recorder,
    envelope: Option<(String, String)>,
    sent: usize,
}

impl Transport for Recorder {
    type Connection = RecorderConnection;

    async fn connect(&self) -> Result<RecorderConnection, ConnectError> {
        match &self.refuse {
            Some(error) => Err(error.clone()),
            None => Ok(RecorderConnection { recorder: self.clone(), envelope: None, sent: 0 }),
        }
    }

    fn describe(&self) -> String {
        "recorder".to_owned()
    }
}

impl Connection for RecorderConnection {
    async fn begin(&mut self, from: &str, to: &str) -> Option<Outcome> {
        let seen = self.recorder.log.lock().map_or(0, |log| log.len());
        let outcome = (self.recorder.script)(to, seen);
        if let Outcome::Replied { stage: Stage::Mail | Stage::Rcpt | Stage::Data, .. } = outcome {
            return Some(outcome);
        }
        self.envelope = Some((from.to_owned(), to.to_owned()));
        None
    }

    async fn data(&mut self, message: &[u8], _name: &str) -> Outcome {
        let Some((from, to)) = self.envelope.take() else {
            return Outcome::Lost { after_data: false, error: "DATA without a transaction".to_owned() };
        };
        let Ok(mut log) = self.recorder.log.lock() else {
            return Outcome::Lost { after_data: false, error: "the recorder is poisoned".to_owned() };
        };
        let outcome = (self.recorder.script)(&to, log.len());
        log.push(Recorded { from, to, bytes: message.to_vec() });
        if outcome.is_positive() {
            self.sent += 1;
        }
        outcome
    }

    fn sent(&self) -> usize {
        self.sent
    }

    async fn close(self) {
        self.recorder.closed.fetch_add(1, Ordering::SeqCst);
    }
}
