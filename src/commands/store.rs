//! Handlers for `keys …` and `state backup`: adapters to [`crate::token`] (the shared keys) and
//! [`crate::state`] (backups).

use std::io::IsTerminal as _;
use std::path::Path;

use super::write_stdout;
use crate::cli::KeysCommand;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::project;
use crate::state::{State, Store};
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

/// `letterpress state backup FILE`: SQLite only (PostgreSQL has its own tools, `pg_dump`).
pub fn backup(root: &Path, file: &Path, env: &Env) -> Result<()> {
    let config = project::load_config(root)?;
    let store = Store::from_config(&config.state, root, env)?;
    if store.is_postgres() {
        return Err(Error::usage(format!(
            "`state backup` copies a SQLite store, and `{}` is PostgreSQL: use `pg_dump` (see docs/deploy.md)",
            store.shown().display()
        )));
    }
    let shown = store.shown();
    let Some(state) = State::open_store_existing(&store)? else {
        return Err(Error::usage(format!("there is no state store at `{}` yet: nothing to back up", shown.display())));
    };
    let target = if file.is_absolute() { file.to_path_buf() } else { root.join(file) };
    let bytes = state.backup(&target)?;
    eprintln!("backed up `{}` to `{}` ({bytes} bytes)", shown.display(), file.display());
    Ok(())
}
