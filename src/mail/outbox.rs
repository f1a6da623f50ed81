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
        let path = self.dir.join(format!("{}.eml", file_name(name)));
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

/// `name` (made of a recipient's address) as a file name in the outbox directory: ASCII letters,
/// digits and `@._+-` kept, anything else `_`, so no `/` or `\\` in an address can reach
/// outside it.
fn file_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "@._+-".contains(c) { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address with `/` (valid in a local part) or `\` names a file in the outbox, never a
    /// path out of it: `send --test` passes the address as typed.
    #[tokio::test]
    async fn a_message_stays_in_the_outbox_whatever_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("outbox"));
        let mut connection = outbox.connect().await.unwrap();
        for name in ["test-a/../../../escaped@example.org", "test-b\\..\\x@example.org", "0000001-ann@example.org"] {
            let outcome = connection.data(b"Subject: x\r\n\r\nbody\r\n", name).await;
            assert!(matches!(outcome, Outcome::Replied { stage: Stage::EndOfData, .. }), "{name}: {outcome:?}");
        }
        let mut written: Vec<String> =
            std::fs::read_dir(outbox.dir()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        written.sort();
        assert_eq!(
            written,
            ["0000001-ann@example.org.eml", "test-a_.._.._.._escaped@example.org.eml", "test-b_.._x@example.org.eml"]
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing beside the outbox");
    }
}
