//! The one error type of letterpress, and the exit codes it maps to.
//!
//! Errors speak with one voice: lowercase, names in backticks, the path involved, and no debug
//! formatting. Problems located in a user's file are [`Diagnostic`]s, carried by
//! [`Error::Invalid`] so that every one of them is printed, not only the first.

use std::io;
use std::path::{Path, PathBuf};

use crate::diagnostic::{self, Diagnostic};

/// Everything that can stop a letterpress command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("failed to {action} `{}`: {}", path.display(), io_reason(source))]
    Io {
        /// What we were doing, e.g. "read" or "write".
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The project's configuration, content or templates have errors, each located.
    #[error("{}", diagnostic::render_all(.0))]
    Invalid(Vec<Diagnostic>),
    /// The command failed and has said why on standard error already (each diagnostic, each
    /// issue's line): nothing more is printed, the process exits with `code`.
    #[error("")]
    Reported {
        /// The process exit code.
        code: i32,
    },
    /// The command line names something that does not exist or cannot be done.
    #[error("{message}")]
    Usage {
        /// What is wrong with the request.
        message: String,
    },
    /// A send refused because the issue has errors, or warnings that block a send (the
    /// diagnostics were printed already).
    #[error("`{issue}` is not sent: {count} {} it, the first at {first}", if *.count == 1 { "diagnostic blocks" } else { "diagnostics block" })]
    Blocked {
        /// The issue, `<publication>/<slug>`.
        issue: String,
        /// How many diagnostics block it.
        count: usize,
        /// The first, on one line: `path:line:col: message`.
        first: String,
    },
    /// Another `send` holds the project's send lock.
    #[error("another send is running in this project (`{}` is locked); this run does nothing", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The relay refused us, not a recipient: authentication, TLS, or a run of policy rejections.
    #[error("{message}")]
    Sender {
        /// What the relay said and what to check.
        message: String,
    },
    /// A send ended with recipients failed, deferred or uncertain (the summary says which).
    #[error("{message}")]
    Incomplete {
        /// The one-line summary.
        message: String,
    },
}

/// Short alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path` while doing `action`.
    pub fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io { action, path: path.to_path_buf(), source }
    }

    /// An error from the SMTP relay about us (exit code 5).
    pub fn sender(message: impl Into<String>) -> Self {
        Self::Sender { message: message.into() }
    }

    /// The command failed after printing why (exit code 1).
    pub fn reported() -> Self {
        Self::Reported { code: 1 }
    }

    /// A usage error with the given message.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage { message: message.into() }
    }

    /// The error as printed on standard error, ending in a newline: diagnostics as they
    /// render themselves, anything else after `error: `. Empty when there is nothing to add
    /// (diagnostics already printed).
    pub fn report(&self) -> String {
        let text = self.to_string();
        match self {
            Self::Reported { .. } => String::new(),
            _ if text.is_empty() => text,
            Self::Invalid(_) => text,
            _ => format!("error: {}\n", diagnostic::mask_userinfo(&text).0),
        }
    }

    /// The process exit code for this error (documented in the README).
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Io { .. } | Self::Invalid(_) | Self::Blocked { .. } => 1,
            Self::Reported { code } => *code,
            Self::Usage { .. } => 2,
            Self::Incomplete { .. } => 3,
            Self::Locked { .. } => 4,
            Self::Sender { .. } => 5,
        }
    }
}

/// The OS reason without Rust's debug decoration ("permission denied", not "Os { code: 13 }").
fn io_reason(error: &io::Error) -> String {
    let text = error.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_as_one_sentence() {
        let error = Error::io("read", Path::new("content/x.md"), io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(error.to_string(), "failed to read `content/x.md`: permission denied");
        assert_eq!(error.exit_code(), 1);
    }

    #[test]
    fn a_reported_error_adds_nothing_and_keeps_its_code() {
        assert_eq!(Error::reported().report(), "");
        assert_eq!(Error::reported().exit_code(), 1);
        assert_eq!(Error::Reported { code: 3 }.exit_code(), 3);
    }
}
