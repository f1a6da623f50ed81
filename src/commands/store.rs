//! Handlers for `keys …` and `state …`: adapters to [`crate::token`] (the shared keys) and
//! [`crate::state`] (backups).

use std::io::IsTerminal as _;
use std::path::Path;

use super::write_stdout;
use crate::cli::{KeysCommand, StateCommand};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::project;
use crate::state::State;
use crate::token::{self, Keys};

/// `letterpress keys export`: the keys on standard output, never in a log; a warning first when
/// that is a terminal, where the keys would stay on screen and in scrollback.
pub fn keys(root: &Path, command: &KeysCommand, env: &Env) -> Result<()> {
    match command {
        KeysCommand::Export => {
            project::load_config(root)?;
            let keys = Keys::load(&root.join(crate::state::DIR), env)?;
            if std::io::stdout().is_terminal() {
                eprintln!(
                    "warning: these are the project's secret keys: anyone who has them can forge unsubscribe and \
                     confirmation links. Pipe them to where they go (e.g. a secret store) rather than copying them \
                     from the screen"
                );
            }
            write_stdout(format!("{}\n", token::export(&keys)).as_bytes())
        }
    }
}

/// `letterpress state backup FILE`.
pub fn state(root: &Path, command: &StateCommand) -> Result<()> {
    match command {
        StateCommand::Backup { file } => {
            let config = project::load_config(root)?;
            let shown = config.state.db_path();
            let Some(state) = State::open_existing(&root.join(&shown), &shown)? else {
                return Err(Error::usage(format!(
                    "there is no state store at `{}` yet: nothing to back up",
                    shown.display()
                )));
            };
            let target = if file.is_absolute() { file.clone() } else { root.join(file) };
            let bytes = state.backup(&target)?;
            eprintln!("backed up `{}` to `{}` ({bytes} bytes)", shown.display(), file.display());
            Ok(())
        }
    }
}
