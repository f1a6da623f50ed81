//! The only place that reads randomness.
//!
//! Enters: a buffer. Leaves: the buffer filled with bytes from the operating system's secure
//! random source (`getrandom`), or an error saying that source failed. Secrets (the unsubscribe
//! key) and per-run nonces (MIME boundaries) come from here; `clippy.toml` keeps other sources
//! out, as `clock.rs` does for the time.

use crate::diagnostic::Diagnostic;
use crate::error::Error;

/// Fill `bytes` with secure random bytes from the operating system.
pub fn fill(bytes: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(bytes).map_err(|e| {
        // Not located: the operating system failed, no file of the project is involved.
        Error::Invalid(vec![Diagnostic::error(
            "entropy",
            format!("cannot read random bytes from the operating system: {}", lowercase(&e.to_string())),
        )])
    })
}

fn lowercase(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_buffers_with_different_bytes() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        fill(&mut a).unwrap();
        fill(&mut b).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
