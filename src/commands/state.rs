//! `letterpress state …`: copying the state store between backends (and `backup`, in `store.rs`).

use std::path::Path;

use crate::cli::StateCommand;
use crate::env::Env;
use crate::error::Result;
use crate::project;
use crate::state::{State, Store};

/// `letterpress state migrate --to <url|path> [--force]`.
pub fn state(root: &Path, command: StateCommand, env: &Env) -> Result<()> {
    let (to, force) = match command {
        StateCommand::Backup { file } => return super::store::backup(root, &file, env),
        StateCommand::Migrate { to, force } => (to, force),
    };
    let config = project::load_config(root)?;
    let from = Store::from_config(&config.state, root, env)?;
    let target = if to.starts_with("postgres://") || to.starts_with("postgresql://") {
        let password = config.state.password_env.as_deref().and_then(|name| env.get(name)).map(str::to_owned);
        Store::Postgres { url: to, password }
    } else {
        Store::sqlite(&root.join(&to), Path::new(&to))
    };
    if from == target {
        return Err(crate::error::Error::usage(format!(
            "`{}` is the project's store already; name another one with `--to`",
            target.shown().display()
        )));
    }
    let source = State::open_store(&from)?;
    let counts = source.copy_into(&State::open_store(&target)?, force)?;
    let total: u64 = counts.values().sum();
    let tables = counts.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", ");
    println!(
        "copied {total} rows from `{}` to `{}` and verified the counts: {tables}",
        from.shown().display(),
        target.shown().display()
    );
    Ok(())
}
