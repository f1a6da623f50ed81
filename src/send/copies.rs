//! Messages that are not journaled: `--dry-run` (composed, not sent) and `--test` copies.

use std::path::Path;

use super::run::runtime;
use super::{outbox_sub, template};
use crate::clock::Clock;
use crate::compose::{MessageTemplate, Recipient};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::mail::{Configured, Connection as _, KeyUse, Outbound, Outcome, Stage, Transport as _};
use crate::project::Project;
use crate::state::State;
use crate::subscribers::{ListFile, Member, Members};

/// `--dry-run`: compose every message, deliver none, report counts and sizes.
pub(super) fn dry_run(
    project: &Project,
    checked: &crate::checked::CheckedIssue,
    lists: &[ListFile],
    clock: &Clock,
    env: &Env,
) -> Result<()> {
    let issue = &checked.issue;
    // What the real send would refuse before connecting (the relay's URL, the password
    // variable, the CA file), refused here too, in the same words.
    let Outbound { signing, .. } =
        Outbound::load(&project.root, &project.config, env, KeyUse::Throwaway, &outbox_sub(issue))?;
    let template = template(project, checked, lists, signing, clock, false)?;
    let state = State::open_configured_existing(&project.config.state, &project.root, env)?;
    let mut recipients = Members::against(lists, state.as_ref())?.one_per_address();
    let (mut messages, mut bytes, mut largest) = (0usize, 0usize, 0usize);
    let mut buffer = Vec::new();
    for recipient in recipients.by_ref() {
        let Member { subscriber: s, list, .. } = recipient?;
        template.compose(
            &Recipient { email: &s.email, name: &s.name, attrs: &s.attrs, list: &lists[list].slug },
            &mut buffer,
        )?;
        messages += 1;
        bytes += buffer.len();
        largest = largest.max(buffer.len());
    }
    let (counts, _, _) = recipients.finish();
    let duplicates: usize = counts.iter().map(|c| c.duplicates).sum();
    let skipped: usize = counts.iter().map(|c| c.rows - c.invalid - c.active + c.suppressed).sum();
    let outside = match counts.iter().filter_map(|c| c.outside).reduce(|a, b| a + b) {
        Some(n) => format!(", {n} outside its audience"),
        None => String::new(),
    };
    eprintln!(
        "dry run of `{}`: {messages} messages composed ({} KB on average, largest {} KB), {duplicates} duplicates folded, {skipped} not active or suppressed{outside}; nothing was sent",
        issue.id(),
        bytes / messages.max(1) / 1024,
        largest / 1024
    );
    Ok(())
}

/// `--test <addr>…`: `[TEST]` copies to these addresses, not journaled.
pub(super) fn test_send(
    root: &Path,
    template: &MessageTemplate,
    transport: &Configured,
    addresses: &[String],
) -> Result<()> {
    let runtime = runtime()?;
    // The outbox directory as the editor would type it.
    let outbox = transport.outbox().map(|dir| dir.strip_prefix(root).unwrap_or(dir));
    runtime.block_on(async {
        let mut connection = transport.connect().await.map_err(|e| Error::sender(e.to_string()))?;
        let mut buffer = Vec::new();
        let none = std::collections::BTreeMap::new();
        for address in addresses {
            let email = crate::address::parse(address)?;
            template.compose(&Recipient { email: &email, name: "", attrs: &none, list: crate::compose::TEST_LIST }, &mut buffer)?;
            match connection
                .send(template.envelope_from(), &email, &buffer, &format!("test-{}", email.replace('@', "_at_")))
                .await
            {
                Outcome::Replied { stage: Stage::EndOfData, .. } if outbox.is_some() => {
                    let dir = outbox.unwrap_or(Path::new("outbox"));
                    eprintln!(
                        "test copy for `{email}` written to the outbox `{}`; no SMTP relay is configured, so nobody was mailed (set `LETTERPRESS_SMTP_URL`, or `transport: smtp`, to mail it)",
                        dir.display()
                    );
                }
                Outcome::Replied { reply, stage: Stage::EndOfData } if reply.is_positive() => {
                    eprintln!("test copy sent to `{email}`: {}", reply.summary());
                }
                Outcome::Replied { reply, .. } => {
                    return Err(Error::sender(format!("test copy to `{email}` refused: {}", reply.summary())));
                }
                Outcome::Lost { error, .. } => {
                    return Err(Error::sender(format!("test copy to `{email}` failed: {error}")));
                }
            }
        }
        connection.close().await;
        Ok(())
    })
}
