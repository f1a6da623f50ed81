//! Messages from files: a Maildir (`new/` then `cur/`), an mbox file, `.eml` files, or a
//! directory holding any of them.
//!
//! Enters: paths. Leaves: each message's bytes with an origin naming it (`path`, or
//! `path#n` for the n-th message of an mbox), one at a time, so memory does not grow with the
//! mailbox. Nothing is changed on disk: `bounces ingest` is idempotent through the state store,
//! so a Maildir is read as it is and can be read again.
//!
//! A file that cannot be read, or a message over [`MAX_MESSAGE_BYTES`], is reported to the
//! caller as a [`Problem`] and the rest is still read.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Messages larger than this are skipped (no bounce is this big; a 50 MB one is read).
pub const MAX_MESSAGE_BYTES: u64 = 64 * 1024 * 1024;

/// A message that could not be read; the rest are still read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, or `path#n` in an mbox.
    pub origin: String,
    /// What went wrong.
    pub why: String,
}

/// Where messages are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// One message per file.
    Message(PathBuf),
    /// An mbox file.
    Mbox(PathBuf),
}

/// Call `each` with every message under `paths`, in order: a Maildir's `new/` then `cur/` by
/// file name, a directory's files by name (recursively), an mbox's messages in order. `each`
/// returning an error stops the walk; unreadable messages go to `problem` instead.
///
/// A path that does not exist is an [`Error::Usage`] before anything is read.
pub fn for_each_message(
    paths: &[PathBuf],
    mut each: impl FnMut(&str, &[u8]) -> Result<()>,
    mut problem: impl FnMut(Problem),
) -> Result<()> {
    let mut sources = Vec::new();
    for path in paths {
        let metadata =
            std::fs::metadata(path).map_err(|e| Error::usage(format!("cannot read `{}`: {e}", path.display())))?;
        if metadata.is_dir() {
            collect_dir(path, &mut sources, &mut problem);
        } else if metadata.is_file() {
            sources.push(classify(path));
        } else {
            // A FIFO would block the run, a device would never end.
            return Err(Error::usage(format!(
                "`{}` is not a file or a directory (a pipe, socket or device); name a Maildir, an mbox or message files",
                path.display()
            )));
        }
    }
    let mut buffer = Vec::new();
    for source in sources {
        match source {
            Source::Message(path) => {
                let origin = path.display().to_string();
                match read_message(&path, &mut buffer) {
                    Ok(()) => each(&origin, &buffer)?,
                    Err(why) => problem(Problem { origin, why }),
                }
            }
            Source::Mbox(path) => read_mbox(&path, &mut each, &mut problem)?,
        }
    }
    Ok(())
}

/// A Maildir's `new/` and `cur/`, or every file of a directory tree, by name.
fn collect_dir(dir: &Path, sources: &mut Vec<Source>, problem: &mut impl FnMut(Problem)) {
    let maildir = ["new", "cur"].map(|sub| dir.join(sub));
    let roots: Vec<&Path> = if maildir.iter().any(|d| d.is_dir()) {
        maildir.iter().filter(|d| d.is_dir()).map(PathBuf::as_path).collect()
    } else {
        vec![dir]
    };
    for root in roots {
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            match entry {
                // Dot files: a Maildir's own, and editors' and mail tools' leftovers.
                Ok(entry) if entry.file_name().to_string_lossy().starts_with('.') => {}
                Ok(entry) if entry.file_type().is_file() => sources.push(classify(entry.path())),
                Ok(entry) if entry.file_type().is_dir() => {}
                // A link is read when it leads to a file; what is not a file is named, not read.
                Ok(entry) => {
                    let why = match std::fs::metadata(entry.path()) {
                        Ok(target) if target.is_file() => {
                            sources.push(classify(entry.path()));
                            continue;
                        }
                        Ok(target) if target.is_dir() => "a link to a directory, not followed; skipped".to_owned(),
                        Ok(_) => "not a file (a pipe, socket or device); skipped".to_owned(),
                        Err(e) => format!("cannot read it: {e}"),
                    };
                    problem(Problem { origin: entry.path().display().to_string(), why });
                }
                Err(e) => problem(Problem {
                    origin: e.path().map_or_else(|| root.display().to_string(), |p| p.display().to_string()),
                    why: e.to_string(),
                }),
            }
        }
    }
}

/// An mbox when the file starts with a `From ` line; else one message.
fn classify(path: &Path) -> Source {
    let mut start = [0u8; 5];
    let is_mbox = File::open(path).and_then(|mut f| f.read_exact(&mut start)).is_ok() && &start == b"From ";
    if is_mbox { Source::Mbox(path.to_path_buf()) } else { Source::Message(path.to_path_buf()) }
}

fn read_message(path: &Path, buffer: &mut Vec<u8>) -> std::result::Result<(), String> {
    buffer.clear();
    let file = File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let size = file.metadata().map_err(|e| format!("cannot read it: {e}"))?.len();
    if size > MAX_MESSAGE_BYTES {
        return Err(too_big(size, MAX_MESSAGE_BYTES));
    }
    file.take(MAX_MESSAGE_BYTES).read_to_end(buffer).map_err(|e| format!("cannot read it: {e}"))?;
    Ok(())
}

fn too_big(size: u64, limit: u64) -> String {
    format!("{size} bytes is more than the {limit} a bounce may be; skipped")
}

/// A line of an mbox is read this much at a time, so one endless line never sits in memory
/// whole.
const LINE_CHUNK: u64 = 1024 * 1024;

/// The messages of an mbox (mboxrd: `>From ` lines lose one `>`), one in memory at a time.
fn read_mbox(
    path: &Path,
    each: &mut impl FnMut(&str, &[u8]) -> Result<()>,
    problem: &mut impl FnMut(Problem),
) -> Result<()> {
    read_mbox_within(path, MAX_MESSAGE_BYTES, each, problem)
}

/// [`read_mbox`] with messages over `limit` bytes skipped (reported with their size).
fn read_mbox_within(
    path: &Path,
    limit: u64,
    each: &mut impl FnMut(&str, &[u8]) -> Result<()>,
    problem: &mut impl FnMut(Problem),
) -> Result<()> {
    let shown = path.display();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) => {
            problem(Problem { origin: shown.to_string(), why: format!("cannot read it: {e}") });
            return Ok(());
        }
    };
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut line = Vec::new();
    let mut message = Vec::new();
    let mut number = 0usize;
    // The bytes of the current message, counted on past the limit for the report.
    let mut size = 0u64;
    let mut previous_blank = true;
    // Whether the next piece read starts a line (a long line comes in pieces).
    let mut at_line_start = true;
    loop {
        line.clear();
        let read = match (&mut reader).take(LINE_CHUNK.min(limit + 1)).read_until(b'\n', &mut line) {
            Ok(read) => read,
            Err(e) => {
                problem(Problem { origin: format!("{shown}#{}", number.max(1)), why: format!("cannot read it: {e}") });
                return Ok(());
            }
        };
        let line_start = at_line_start;
        at_line_start = line.ends_with(b"\n");
        let starts = read == 0 || (line_start && previous_blank && line.starts_with(b"From "));
        if starts {
            if number > 0 {
                let origin = format!("{shown}#{number}");
                if size > limit {
                    problem(Problem { origin, why: too_big(size, limit) });
                } else {
                    // The blank line before the next `From ` belongs to the mbox, not the message.
                    if message.ends_with(b"\n\n") {
                        message.pop();
                    } else if message.ends_with(b"\r\n\r\n") {
                        message.truncate(message.len() - 2);
                    }
                    each(&origin, &message)?;
                }
            }
            if read == 0 {
                return Ok(());
            }
            number += 1;
            message.clear();
            size = 0;
            previous_blank = false;
            continue;
        }
        previous_blank = line_start && (line == b"\n" || line == b"\r\n");
        size += read as u64;
        if size > limit {
            if !message.is_empty() {
                message.clear();
                message.shrink_to(1024 * 1024);
            }
            continue;
        }
        let unquoted = line_start
            && line.iter().position(|&b| b != b'>').is_some_and(|n| n > 0 && line[n..].starts_with(b"From "));
        message.extend_from_slice(if unquoted { &line[1..] } else { &line });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(paths: &[PathBuf]) -> (Vec<(String, String)>, Vec<Problem>) {
        let mut messages = Vec::new();
        let mut problems = Vec::new();
        for_each_message(
            paths,
            |origin, raw| {
                messages.push((origin.to_owned(), String::from_utf8_lossy(raw).into_owned()));
                Ok(())
            },
            |p| problems.push(p),
        )
        .unwrap();
        (messages, problems)
    }

    #[test]
    fn reads_a_maildir_new_then_cur_skipping_dot_files() {
        let dir = tempfile::tempdir().unwrap();
        for (sub, name, text) in
            [("cur", "1.a:2,S", "B"), ("new", "2.b", "A"), ("new", ".hidden", "x"), ("tmp", "3.c", "x")]
        {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
            std::fs::write(dir.path().join(sub).join(name), text).unwrap();
        }
        let (messages, problems) = read_all(&[dir.path().to_path_buf()]);
        let texts: Vec<&str> = messages.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["A", "B"]);
        assert!(messages[0].0.ends_with("new/2.b"));
        assert!(problems.is_empty());
    }

    #[test]
    fn splits_an_mbox_and_unquotes_from_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mbox = dir.path().join("bounces.mbox");
        let text = "From MAILER-DAEMON Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n>From the start\n\nFrom MAILER-DAEMON Mon Jan  1 00:00:01 2024\nSubject: two\n\nbody\nFrom here on\n";
        std::fs::write(&mbox, text).unwrap();
        let (messages, _) = read_all(std::slice::from_ref(&mbox));
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0].1, "Subject: one\n\nbody\nFrom the start\n");
        assert_eq!(messages[1].1, "Subject: two\n\nbody\nFrom here on\n", "a From line after a non-blank line is text");
        assert!(messages[1].0.ends_with("bounces.mbox#2"));
    }

    #[test]
    fn an_mbox_message_over_the_limit_is_skipped_with_its_size_even_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let mbox = dir.path().join("big.mbox");
        let long = "x".repeat(5000);
        let text = format!(
            "From a Mon Jan  1 00:00:00 2024\nSubject: one\n\n{long}\n\n\
             From b Mon Jan  1 00:00:01 2024\nSubject: two\n\nshort\n\n\
             From c Mon Jan  1 00:00:02 2024\nSubject: three\n\n{long} From the middle\n"
        );
        std::fs::write(&mbox, text).unwrap();
        let mut messages = Vec::new();
        let mut problems = Vec::new();
        read_mbox_within(
            &mbox,
            1000,
            &mut |origin, raw| {
                messages.push((origin.to_owned(), String::from_utf8_lossy(raw).into_owned()));
                Ok(())
            },
            &mut |p| problems.push(p),
        )
        .unwrap();
        let shown = mbox.display();
        assert_eq!(messages, [(format!("{shown}#2"), "Subject: two\n\nshort\n".to_owned())]);
        let why: Vec<(String, String)> = problems.into_iter().map(|p| (p.origin, p.why)).collect();
        let big = |n: usize| format!("{n} bytes is more than the 1000 a bounce may be; skipped");
        // Every byte up to the next `From ` line: the headers, the blank line, the long line
        // and the blank line that ends the message.
        assert_eq!(
            why,
            [(format!("{shown}#1"), big(13 + 1 + 5001 + 1)), (format!("{shown}#3"), big(15 + 1 + 5017))],
            "the size is the message's, not 0"
        );
    }

    #[test]
    fn links_to_files_are_read_and_what_is_not_a_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("kept.eml"), "A").unwrap();
        std::fs::create_dir_all(dir.path().join("box")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("kept.eml"), dir.path().join("box/1.eml")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("box/2-dir")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("box/3-dangling")).unwrap();
        let fifo = dir.path().join("box/4-fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let (messages, problems) = read_all(&[dir.path().join("box")]);
        assert_eq!(messages.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(), ["A"]);
        let why: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.origin.rsplit('/').next().unwrap_or_default(), p.why.split(';').next().unwrap_or_default()))
            .collect();
        assert_eq!(
            why,
            [
                ("2-dir", "a link to a directory, not followed"),
                ("3-dangling", "cannot read it: No such file or directory (os error 2)"),
                ("4-fifo", "not a file (a pipe, socket or device)")
            ]
        );
        // Named on the command line, a pipe is refused before anything is read: it would block.
        let named = for_each_message(&[fifo], |_, _| Ok(()), |_| {});
        assert!(matches!(&named, Err(Error::Usage { message, .. }) if message.contains("not a file")), "{named:?}");
    }

    #[test]
    fn a_missing_path_is_a_usage_error_and_an_eml_is_one_message() {
        let dir = tempfile::tempdir().unwrap();
        let eml = dir.path().join("one.eml");
        std::fs::write(&eml, "Subject: x\r\n\r\nFrom me\r\n").unwrap();
        let (messages, _) = read_all(std::slice::from_ref(&eml));
        assert_eq!(messages[0].1, "Subject: x\r\n\r\nFrom me\r\n");
        let missing = for_each_message(&[dir.path().join("nope")], |_, _| Ok(()), |_| {});
        assert!(matches!(missing, Err(Error::Usage { .. })), "{missing:?}");
    }
}
