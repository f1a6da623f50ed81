//! One-click unsubscribe tokens: opaque, unforgeable, and free of the subscriber's address.
//!
//! Enters: the signing keys (from `LETTERPRESS_KEYS`, or its older name
//! `LETTERPRESS_UNSUBSCRIBE_KEYS`, else a key generated once into the state directory), an address and a list slug. Leaves: the address's opaque
//! [`Keys::token_id`] (what the journal stores so the unsubscribe endpoint can find the address),
//! the URL-safe token that goes into `List-Unsubscribe` and the footer link, and — for the
//! endpoint — the [`Claims`] of a token that verifies.
//!
//! A token is base64url (no padding) of `version (1 byte) || token id (16 bytes) || list slug ||
//! HMAC-SHA256(first key, version || token id || list slug)` truncated to 16 bytes. The token id
//! is the first 16 bytes of `HMAC-SHA256(first key, "id\0" || address key)`, so neither the token
//! nor the id shows the address (EMAIL.md BS-3). The first key signs; every key verifies, in
//! constant time, so keys can be rotated by putting the new key first.
//!
//! The same keys sign the subscription confirmation links of `letterpress serve`: signed,
//! expiring tokens carrying the address, list and name (see `token/confirm.rs`,
//! [`Keys::confirm_token`] and [`Keys::verify_confirm`]).

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::address::address_key;
use crate::diagnostic::{Diagnostic, Location};
use crate::error::Error;

mod click;
mod confirm;
pub mod return_path;
mod shared;
pub use crate::env::{KEYS as KEYS_VAR, OLD_KEYS as OLD_KEYS_VAR};
pub use click::{CLICK_TOKEN_CHARS, IssueKey};
pub use confirm::{Refused, Subscription};
pub use shared::export;

/// Whether the environment gives keys (under either name).
pub fn keys_in_env(env: &crate::env::Env) -> bool {
    env.is_set(KEYS_VAR) || env.is_set(OLD_KEYS_VAR)
}

/// The generated key's file name inside the state directory.
pub const KEY_FILE: &str = "unsubscribe.key";

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

const VERSION: u8 = 1;
const ID_BYTES: usize = 16;
const TAG_BYTES: usize = 16;
/// Longer tokens are refused before any work: a list slug is short.
pub(crate) const MAX_TOKEN_CHARS: usize = 512;

/// At most how many characters the unsubscribe token of a list slug of `list_bytes` bytes has.
pub(crate) const fn token_chars(list_bytes: usize) -> usize {
    (1 + ID_BYTES + list_bytes + TAG_BYTES).div_ceil(3) * 4
}
const HELP: &str = "each key is 32 or more random bytes written as hex or base64url, e.g. from `openssl rand -hex 32`";

type HmacSha256 = Hmac<Sha256>;

/// The unsubscribe signing keys: the first signs, all verify.
#[derive(Clone)]
pub struct Keys {
    macs: Vec<HmacSha256>,
    /// The keys themselves, for `keys export` only.
    secrets: Vec<Vec<u8>>,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The address's opaque id (as [`Keys::token_id`] gave it when the token was made).
    pub token_id: String,
    /// The list the subscriber leaves.
    pub list: String,
}

impl fmt::Debug for Keys {
    /// Never shows a key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys").field("count", &self.macs.len()).finish_non_exhaustive()
    }
}

impl Keys {
    /// Keys from `LETTERPRESS_KEYS` (or `LETTERPRESS_UNSUBSCRIBE_KEYS`; comma-separated, each
    /// base64url or hex, at least 32 bytes decoded), else the key in
    /// `<state_dir>/unsubscribe.key`, generated on first use (32 random bytes, written atomically
    /// with mode 0600). A key file that other users can read is refused, and so are both
    /// variables set to different keys. Errors name the variable and the key's position, never
    /// the key.
    pub fn load(state_dir: &Path, env: &crate::env::Env) -> Result<Keys, Error> {
        let name = if env.is_set(KEYS_VAR) { KEYS_VAR } else { OLD_KEYS_VAR };
        if env.is_set(KEYS_VAR) && env.is_set(OLD_KEYS_VAR) && env.get(KEYS_VAR) != env.get(OLD_KEYS_VAR) {
            return Err(invalid(format!(
                "`{KEYS_VAR}` and `{OLD_KEYS_VAR}` are both set, to different keys; unset `{OLD_KEYS_VAR}`"
            )));
        }
        match env.get(name) {
            Some(value) => Self::from_env_value(name, value),
            None if env.is_set(name) => Err(invalid(format!("`{name}` is not valid UTF-8"))),
            None => Self::from_key_file(state_dir),
        }
    }

    /// The keys a dry run composes with: the project's own, as [`Keys::load`] finds them, but
    /// where there are none yet a throwaway key instead of a new key file. The tokens of a dry
    /// run go nowhere, so the key that signs real links is created only when one is issued.
    pub fn load_or_throwaway(state_dir: &Path, env: &crate::env::Env) -> Result<Keys, Error> {
        let env_set = keys_in_env(env);
        match std::fs::symlink_metadata(state_dir.join(KEY_FILE)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !env_set => {
                let mut secret = vec![0u8; MIN_KEY_BYTES];
                crate::entropy::fill(&mut secret)?;
                Self::from_secrets(vec![secret])
            }
            _ => Self::load(state_dir, env),
        }
    }

    /// Keys from raw secrets, first signing (for tests and callers with their own store).
    pub fn from_secrets(secrets: Vec<Vec<u8>>) -> Result<Keys, Error> {
        if secrets.is_empty() {
            return Err(invalid("no unsubscribe keys given".to_owned()));
        }
        let mut macs = Vec::with_capacity(secrets.len());
        for (i, secret) in secrets.iter().enumerate() {
            if secret.len() < MIN_KEY_BYTES {
                return Err(invalid(format!(
                    "unsubscribe key {} is {} bytes; a key must be at least {MIN_KEY_BYTES} bytes",
                    i + 1,
                    secret.len()
                )));
            }
            macs.push(HmacSha256::new_from_slice(secret).map_err(|_| invalid("unusable unsubscribe key".to_owned()))?);
        }
        Ok(Keys { macs, secrets })
    }

    /// Parse the value of the variable `name` ([`KEYS_VAR`] or [`OLD_KEYS_VAR`]).
    fn from_env_value(name: &str, value: &str) -> Result<Keys, Error> {
        let parts: Vec<&str> = value.split(',').map(str::trim).collect();
        let mut secrets = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let position = format!("key {} of {}", i + 1, parts.len());
            secrets.push(decode_key(part).map_err(|why| {
                Error::Invalid(vec![
                    Diagnostic::error("unsubscribe/keys", format!("`{name}`: {position} {why}")).help(HELP),
                ])
            })?);
        }
        Self::from_secrets(secrets)
    }

    /// The key in `<state_dir>/unsubscribe.key`, created if missing.
    fn from_key_file(state_dir: &Path) -> Result<Keys, Error> {
        let path = state_dir.join(KEY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(&path)?,
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        crate::fsutil::check_private(&path, &path, "unsubscribe/key-permissions")?;
        let secret = decode_key(text.trim()).map_err(|why| {
            Error::Invalid(vec![
                Diagnostic::error("unsubscribe/keys", format!("the key in `{}` {why}", path.display()))
                    .in_file(Location::file(&path))
                    .help(format!("delete the file to generate a new key (links in mail already sent stop working), or set `{KEYS_VAR}`")),
            ])
        })?;
        Self::from_secrets(vec![secret])
    }

    /// The opaque, stable id of an address: hex of the first 16 bytes of
    /// `HMAC-SHA256(first key, "id\0" || address key)`.
    pub fn token_id(&self, address: &str) -> String {
        hex(&self.id_of_key(&address_key(address)))
    }

    /// The unsubscribe token of `address` on `list`; the address never appears in it.
    pub fn token(&self, address: &str, list: &str) -> String {
        let mut token = String::new();
        self.write_token(&self.id_of_key(&address_key(address)), list, &mut token);
        token
    }

    /// The claims of a token signed by any of the keys, or `None` for a tampered, truncated,
    /// re-targeted or garbage token. Tags are compared in constant time.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() < 1 + ID_BYTES + 1 + TAG_BYTES || bytes[0] != VERSION {
            return None;
        }
        let (signed, tag) = bytes.split_at(bytes.len() - TAG_BYTES);
        if !self.verifies(b"", signed, tag) {
            return None;
        }
        let list = std::str::from_utf8(&signed[1 + ID_BYTES..]).ok()?;
        Some(Claims { token_id: hex(&signed[1..=ID_BYTES]), list: list.to_owned() })
    }

    /// Whether `tag` is the (truncated) HMAC of `domain` then `signed` under any of the keys,
    /// compared in constant time: the check every kind of token makes, each with its own domain
    /// so one kind never verifies as another.
    pub(crate) fn verifies(&self, domain: &[u8], signed: &[u8], tag: &[u8]) -> bool {
        self.macs.iter().any(|mac| {
            let mut mac = mac.clone();
            mac.update(domain);
            mac.update(signed);
            mac.verify_truncated_left(tag).is_ok()
        })
    }

    /// The id bytes of an address key (see [`crate::address::address_key`]).
    pub(crate) fn id_of_key(&self, address_key: &str) -> [u8; ID_BYTES] {
        let mut mac = self.macs[0].clone();
        mac.update(b"id\0");
        mac.update(address_key.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut id = [0; ID_BYTES];
        id.copy_from_slice(&digest[..ID_BYTES]);
        id
    }

    /// Append the token of an id on `list` to `out`.
    pub(crate) fn write_token(&self, id: &[u8; ID_BYTES], list: &str, out: &mut String) {
        let mut bytes = Vec::with_capacity(1 + ID_BYTES + list.len() + TAG_BYTES);
        bytes.push(VERSION);
        bytes.extend_from_slice(id);
        bytes.extend_from_slice(list.as_bytes());
        let mut mac = self.macs[0].clone();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode_string(&bytes, out);
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Why a key's text is not a usable key; shown after the key's name ("… is empty").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum KeyError {
    #[error("is empty")]
    Empty,
    #[error("is neither hex nor base64url")]
    Encoding,
    #[error("is {0} bytes; a key must be at least {MIN_KEY_BYTES} bytes")]
    Short(usize),
}

/// Decode a key written as hex (only hex digits) or base64url (padding optional).
fn decode_key(text: &str) -> Result<Vec<u8>, KeyError> {
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    let bytes = if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        text.as_bytes().chunks(2).map(|pair| (nibble(pair[0]) << 4) | nibble(pair[1])).collect()
    } else {
        let lenient = GeneralPurpose::new(
            &alphabet::URL_SAFE,
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
        );
        lenient.decode(text).map_err(|_| KeyError::Encoding)?
    };
    if bytes.len() < MIN_KEY_BYTES {
        return Err(KeyError::Short(bytes.len()));
    }
    Ok(bytes)
}

/// The value of one hex digit (the caller has checked it is one).
fn nibble(digit: u8) -> u8 {
    char::from(digit).to_digit(16).and_then(|d| u8::try_from(d).ok()).unwrap_or(0)
}

/// Generate a key, write it atomically with mode 0600 (never replacing a file another process
/// created meanwhile), and return the file's text.
fn create_key_file(path: &Path) -> Result<String, Error> {
    let dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
    let mut secret = [0u8; MIN_KEY_BYTES];
    crate::entropy::fill(&mut secret)?;
    let text = format!("{}\n", URL_SAFE_NO_PAD.encode(secret));
    // tempfile creates the file with mode 0600 on Unix, before any byte of the key is written.
    let mut temp = tempfile::Builder::new()
        .prefix(".unsubscribe-key-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io("create a temporary file in", &dir, e))?;
    temp.write_all(text.as_bytes())
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| Error::io("write", path, e))?;
    match temp.persist_noclobber(path) {
        Ok(_) => Ok(text),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))
        }
        Err(e) => Err(Error::io("create", path, e.error)),
    }
}

/// A problem with the keys in [`KEYS_VAR`]: an environment variable has no file position, so the
/// message names the variable instead.
fn invalid(message: String) -> Error {
    Error::Invalid(vec![Diagnostic::error("unsubscribe/keys", message).help(HELP)])
}

#[cfg(test)]
mod tests;
