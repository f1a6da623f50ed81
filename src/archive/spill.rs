//! Email renditions set aside in an anonymous temporary file between checking an issue and
//! writing the archive, so that a large archive's renditions do not all sit in memory while
//! every issue is checked (nothing is written under the output directory until all pass).

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;
use std::sync::Mutex;

use crate::error::{Error, Result};

/// The temporary file, when one could be made (else everything is kept in memory).
#[derive(Debug)]
pub(super) struct Spill {
    file: Option<Mutex<File>>,
}

/// A text set aside: in the file, or kept in memory when the file could not take it.
#[derive(Debug)]
pub(super) enum Kept {
    Memory(String),
    Disk { start: u64, len: usize },
}

impl Spill {
    pub(super) fn new() -> Self {
        Self { file: tempfile::tempfile().ok().map(Mutex::new) }
    }

    /// Set `text` aside.
    pub(super) fn put(&self, text: String) -> Kept {
        let Some(Ok(mut file)) = self.file.as_ref().map(Mutex::lock) else { return Kept::Memory(text) };
        match file.seek(SeekFrom::End(0)).and_then(|start| file.write_all(text.as_bytes()).map(|()| start)) {
            Ok(start) => Kept::Disk { start, len: text.len() },
            Err(_) => Kept::Memory(text),
        }
    }

    /// The bytes of a text set aside.
    pub(super) fn take(&self, kept: Kept) -> Result<Vec<u8>> {
        let (start, len) = match kept {
            Kept::Memory(text) => return Ok(text.into_bytes()),
            Kept::Disk { start, len } => (start, len),
        };
        let failed = |e| Error::io("read back", Path::new("<temporary file>"), e);
        let Some(Ok(mut file)) = self.file.as_ref().map(Mutex::lock) else {
            return Err(failed(std::io::Error::other("the temporary file is gone")));
        };
        let mut bytes = vec![0; len];
        file.seek(SeekFrom::Start(start)).and_then(|_| file.read_exact(&mut bytes)).map_err(failed)?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_come_back_as_they_went() {
        let spill = Spill::new();
        let kept: Vec<Kept> = ["first", "", "третий"].map(|t| spill.put(t.to_owned())).into_iter().collect();
        assert!(kept.iter().all(|k| matches!(k, Kept::Disk { .. })));
        let back: Vec<Vec<u8>> = kept.into_iter().map(|k| spill.take(k).unwrap()).collect();
        assert_eq!(back, ["first", "", "третий"].map(|t| t.as_bytes().to_vec()));
        let memory = Spill { file: None };
        assert_eq!(memory.take(memory.put("kept".to_owned())).unwrap(), b"kept");
    }
}
