//! The outbox: each message an `.eml` file under a directory, written atomically and privately.
//! Nobody is mailed; a mail client opens the files.

use std::path::{Path, PathBuf};

use super::{ConnectError, Connection, Outcome, Reply, Stage, Transport};

/// Write `.eml` files under this directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// The outbox at `dir`, created on the first connection.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Where the files go.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A worker's handle on the outbox.
#[derive(Debug)]
pub struct OutboxConnection {
    dir: PathBuf,
}

impl Transport for Outbox {
    type Connection = OutboxConnection;

    async fn connect(&self) -> Result<OutboxConnection, ConnectError> {
        std::fs::create_dir_all(&self.dir)
            .map(|()| OutboxConnection { dir: self.dir.clone() })
            .map_err(|e| ConnectError::Fatal(format!("cannot create `{}`: {e}", self.dir.display())))
    }

    fn describe(&self) -> String {
        format!("outbox `{}`", self.dir.display())
    }

    fn writes_files(&self) -> bool {
        true
    }
}

impl Connection for OutboxConnection {
    async fn begin(&mut self, _from: &str, _to: &str) -> Option<Outcome> {
        None
    }

    async fn data(&mut self, message: &[u8], name: &str) -> Outcome {
        let path = self.dir.join(format!("{name}.eml"));
        match crate::fsutil::write_private(&path, message) {
            Ok(()) => Outcome::Replied {
                reply: Reply { code: 250, enhanced: Some((2, 0, 0)), text: format!("written to {}", path.display()) },
                stage: Stage::EndOfData,
            },
            Err(e) => Outcome::Lost { after_data: false, error: e.to_string() },
        }
    }

    fn sent(&self) -> usize {
        0
    }

    async fn close(self) {}
}
