//! Everything outgoing mail needs, read once: the unsubscribe keys, the DKIM key and the
//! transport. `send`, `send --test` and `--dry-run`, `serve`'s confirmation mail and the
//! preview's raw message all load them here, so they agree on where mail goes and how it is
//! signed.

use std::path::Path;

use super::{Configured, Pool};
use crate::compose::DkimKey;
use crate::config::Config;
use crate::env::Env;
use crate::error::Result;
use crate::token::{KEY_FILE, Keys, keys_in_env};

/// Which unsubscribe keys a use takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// The project's keys, the key file created on first use: links that will be mailed.
    Send,
    /// The project's keys when it has some, else a throwaway key: a dry run, whose links go
    /// nowhere, creates no key file.
    Throwaway,
    /// The project's keys when it has some, else a fixed preview-only key: the preview never
    /// creates state.
    Preview,
}

/// What composing a message needs besides the issue: the keys its tokens are signed with and
/// the DKIM key, if the project signs its mail.
#[derive(Debug)]
pub struct Signing {
    /// Unsubscribe and confirmation keys.
    pub keys: Keys,
    /// The DKIM key.
    pub dkim: Option<DkimKey>,
}

impl Signing {
    /// The project's keys (as `keys` says) and DKIM key.
    pub fn load(root: &Path, config: &Config, env: &Env, keys: KeyUse) -> Result<Self> {
        let state_dir = root.join(crate::state::DIR);
        let keys = match keys {
            KeyUse::Send => Keys::load(&state_dir, env)?,
            KeyUse::Throwaway => Keys::load_or_throwaway(&state_dir, env)?,
            KeyUse::Preview if state_dir.join(KEY_FILE).exists() || keys_in_env(env) => Keys::load(&state_dir, env)?,
            KeyUse::Preview => Keys::from_secrets(vec![b"letterpress preview key: never used to send".to_vec()])?,
        };
        let dkim = match &config.dkim {
            Some(settings) => Some(DkimKey::load(root, settings)?),
            None => None,
        };
        Ok(Self { keys, dkim })
    }
}

/// Keys, DKIM key and transport of a project.
#[derive(Debug)]
pub struct Outbound {
    /// Keys and DKIM.
    pub signing: Signing,
    /// Where single messages go (test copies, confirmations): the pool's first relay.
    pub transport: Configured,
    /// Every relay a send spreads its messages over.
    pub pool: Pool,
}

impl Outbound {
    /// Read them from the configuration and `env`; `outbox_sub` is the folder under the
    /// outbox directory this use writes to when the project sends to the outbox.
    pub fn load(root: &Path, config: &Config, env: &Env, keys: KeyUse, outbox_sub: &Path) -> Result<Self> {
        let signing = Signing::load(root, config, env, keys)?;
        let pool = Pool::from_config(root, config, env, outbox_sub)?;
        let transport = pool.relays()[0].transport.clone();
        Ok(Self { signing, transport, pool })
    }
}
