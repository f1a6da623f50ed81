//! Messages from files: a Maildir (`cur/` and `new/`), an mbox file, a directory of `.eml`
//! files, or single message files. One message is in memory at a time.

use std::fs::File;
use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A message file larger than this is read only up to it (bounces say what they have to say at
/// the top; the rest is the returned original).
pub const MAX_MESSAGE: u64 = 64 << 20;

/// Call `each(origin, raw)` for every message under `path`, in a stable order. `origin` names
/// the message in output: the file's path, with `:N` (1-based) for the N-th message of an mbox.
pub fn each_message(path: &Path, each: &mut dyn FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("read", path, e))?;
    if meta.is_dir() {
        let maildir = ["cur", "new"].iter().any(|d| path.join(d).is_dir());
        if maildir {
            for sub in ["cur", "new"] {
                let dir = path.join(sub);
                if dir.is_dir() {
                    for file in sorted_files(&dir)? {
                        one_file(&file, each)?;
                    }
                }
            }
        } else {
            for file in sorted_files(path)? {
                one_file(&file, each)?;
            }
        }
        return Ok(());
    }
    one_file(path, each)
}

fn sorted_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))? {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// One file: an mbox when it starts with a `From ` line, else one message.
fn one_file(path: &Path, each: &mut dyn FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut reader = BufReader::with_capacity(64 << 10, file);
    let starts_mbox = reader.fill_buf().map_err(|e| Error::io("read", path, e))?.starts_with(b"From ");
    let name = path.display().to_string();
    if starts_mbox {
        return mbox(reader, &name, path, each);
    }
    let mut raw = Vec::new();
    reader.take(MAX_MESSAGE).read_to_end(&mut raw).map_err(|e| Error::io("read", path, e))?;
    each(&name, &raw)
}

/// Split an mbox on `From ` lines that follow a blank line (or open the file), undoing `>From `
/// quoting (mboxrd: one `>` is removed from any `>…>From ` line).
fn mbox(
    mut reader: impl BufRead,
    name: &str,
    path: &Path,
    each: &mut dyn FnMut(&str, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut message: Vec<u8> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut count = 0usize;
    let mut previous_blank = true;
    let mut started = false;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(|e| Error::io("read", path, e))?;
        if read == 0 {
            break;
        }
        if previous_blank && line.starts_with(b"From ") {
            if started {
                count += 1;
                trim_separator(&mut message);
                each(&format!("{name}:{count}"), &message)?;
                message.clear();
            }
            started = true;
            previous_blank = false;
            continue;
        }
        previous_blank = line == b"\n" || line == b"\r\n";
        if (message.len() as u64) < MAX_MESSAGE {
            let quoted = line.iter().position(|&b| b != b'>').is_some_and(|i| i > 0 && line[i..].starts_with(b"From "));
            message.extend_from_slice(if quoted { &line[1..] } else { &line });
        }
    }
    if started {
        count += 1;
        trim_separator(&mut message);
        each(&format!("{name}:{count}"), &message)?;
    }
    Ok(())
}

/// The blank line before the next `From ` belongs to the mbox, not the message.
fn trim_separator(message: &mut Vec<u8>) {
    if message.ends_with(b"\r\n\r\n") {
        message.truncate(message.len() - 2);
    } else if message.ends_with(b"\n\n") {
        message.truncate(message.len() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_an_mbox_and_unquotes() {
        let text = b"From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\n>From here\n\nFrom c@d Mon Jan  1 00:00:00 2024\nSubject: two\n\nbody\n";
        let mut seen = Vec::new();
        mbox(&text[..], "m", Path::new("m"), &mut |origin, raw| {
            seen.push((origin.to_owned(), String::from_utf8_lossy(raw).into_owned()));
            Ok(())
        })
        .expect("split");
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0, "m:1");
        assert_eq!(seen[0].1, "Subject: one\n\nFrom here\n");
        assert_eq!(seen[1].1, "Subject: two\n\nbody\n");
    }
}
