//! One run over the mailbox: connect, log in, read each message, hand it to the sink, move it.

use std::collections::HashMap;
use std::time::Duration;

use async_imap::{Client, Session};
use futures_util::TryStreamExt as _;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::stream::Stream;
use super::{BATCH, MAX_MESSAGE, Mode, Report, Target, uid_set};
use crate::bounces::{Handled, Sink};
use crate::error::{Error, Result};

/// Longest one connection attempt or one IMAP command may take.
const TIMEOUT: Duration = Duration::from_secs(120);

type Imap = Session<Stream>;

/// Read every message of the target's folder into `sink` and, unless [`Mode::DryRun`], move it
/// to the done or failed folder by what the sink said. Stops at the first error of the sink or
/// the connection, leaving the messages not yet moved in place.
pub async fn fetch(target: &Target, sink: &mut dyn Sink, mode: Mode) -> Result<Report> {
    let mut session = connect(target).await?;
    let result = run(target, &mut session, sink, mode).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
    result
}

async fn run(target: &Target, session: &mut Imap, sink: &mut dyn Sink, mode: Mode) -> Result<Report> {
    let folder = &target.folder;
    let dry = mode == Mode::DryRun;
    if dry {
        timed(target, "open", session.examine(folder)).await?;
    } else {
        timed(target, "open", session.select(folder)).await?;
        for name in [&target.done_folder, &target.failed_folder] {
            ensure_folder(target, session, name).await?;
        }
    }
    let capabilities = timed(target, "ask the capabilities of", session.capabilities()).await?;
    let moves = Moves { r#move: capabilities.has_str("MOVE"), uidplus: capabilities.has_str("UIDPLUS") };
    let mut uids: Vec<u32> = timed(target, "search", session.uid_search("UNDELETED")).await?.into_iter().collect();
    uids.sort_unstable();
    let mut report = Report { found: uids.len(), ..Report::default() };
    for batch in uids.chunks(BATCH) {
        let sizes = sizes(target, session, batch).await?;
        let (mut done, mut failed) = (Vec::new(), Vec::new());
        let mut stop = None;
        for &uid in batch {
            let origin = format!("imap:{folder}/{uid}");
            let Some(&size) = sizes.get(&uid) else { continue };
            let handled = if size > MAX_MESSAGE {
                Handled::Unparsable(format!("{size} bytes, more than a bounce can be ({MAX_MESSAGE} bytes)"))
            } else {
                let Some(raw) = body(target, session, uid).await? else { continue };
                match sink.message(&raw, &origin) {
                    Ok(handled) => handled,
                    Err(error) => {
                        stop = Some(error);
                        break;
                    }
                }
            };
            match handled {
                Handled::Recorded(_) => report.recorded += 1,
                Handled::Duplicate => report.duplicate += 1,
                Handled::Ignored(why) => {
                    report.ignored += 1;
                    if !dry {
                        eprintln!("bounces fetch: {origin}: nothing to record: {why}");
                    }
                }
                Handled::Unparsable(why) => {
                    report.unparsable += 1;
                    eprintln!("bounces fetch: {origin}: unreadable, to `{}`: {why}", target.failed_folder);
                    failed.push(uid);
                    continue;
                }
            }
            done.push(uid);
        }
        if !dry {
            report.moved_done += move_to(target, session, &done, &target.done_folder, moves).await?;
            report.moved_failed += move_to(target, session, &failed, &target.failed_folder, moves).await?;
        }
        while session.unsolicited_responses.try_recv().is_ok() {}
        if let Some(error) = stop {
            return Err(error);
        }
    }
    Ok(report)
}

/// Connect, with TLS unless plaintext to loopback was asked for, and log in.
async fn connect(target: &Target) -> Result<Imap> {
    let address = (target.host.as_str(), target.port);
    let tcp = tokio::time::timeout(TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| failure(target, "connect to", "timed out"))?
        .map_err(|e| failure(target, "connect to", e.to_string()))?;
    let stream = if target.tls {
        let name = ServerName::try_from(target.host.clone())
            .map_err(|_| failure(target, "connect to", "the host is not a valid TLS server name"))?;
        let tls = tokio::time::timeout(TIMEOUT, target.connector.connect(name, tcp))
            .await
            .map_err(|_| failure(target, "connect to", "the TLS handshake timed out"))?
            .map_err(|e| failure(target, "connect to", format!("TLS: {e}")))?;
        Stream::Tls(Box::new(tls))
    } else {
        Stream::Plain(tcp)
    };
    let mut client = Client::new(stream);
    match tokio::time::timeout(TIMEOUT, client.read_response()).await {
        Ok(Ok(Some(_greeting))) => {}
        Ok(Ok(None)) => return Err(failure(target, "connect to", "the server closed the connection")),
        Ok(Err(e)) => return Err(failure(target, "connect to", e.to_string())),
        Err(_) => return Err(failure(target, "connect to", "no greeting")),
    }
    let login = tokio::time::timeout(TIMEOUT, client.login(&target.username, &target.password)).await;
    match login {
        Ok(Ok(session)) => Ok(session),
        Ok(Err((error, _))) => Err(Error::sender(format!(
            "the IMAP server at {} refused the login: {}; check `bounces.imap.username` and the password in the variable `password-env` names",
            target.describe(),
            target.mask(&reason(&error))
        ))),
        Err(_) => Err(failure(target, "log in to", "timed out")),
    }
}

/// Create `name` unless it exists.
async fn ensure_folder(target: &Target, session: &mut Imap, name: &str) -> Result<()> {
    let pattern = format!("\"{name}\"");
    let found: Vec<_> = timed(target, "list the folders of", async {
        session.list(Some(""), Some(&pattern)).await?.try_collect::<Vec<_>>().await
    })
    .await?;
    if found.is_empty() {
        timed(target, "create a folder on", session.create(name)).await?;
        eprintln!("bounces fetch: created the folder `{name}`");
    }
    Ok(())
}

/// Each message's size, by UID (a UID missing was expunged by someone else meanwhile).
async fn sizes(target: &Target, session: &mut Imap, uids: &[u32]) -> Result<HashMap<u32, u32>> {
    let set = uid_set(uids);
    let fetches = timed(target, "read sizes from", async {
        session.uid_fetch(&set, "(UID RFC822.SIZE)").await?.try_collect::<Vec<_>>().await
    })
    .await?;
    Ok(fetches.iter().filter_map(|f| Some((f.uid?, f.size.unwrap_or(0)))).collect())
}

/// One message's raw bytes, leaving its `\Seen` flag as it was.
async fn body(target: &Target, session: &mut Imap, uid: u32) -> Result<Option<Vec<u8>>> {
    let fetches = timed(target, "read a message from", async {
        session.uid_fetch(uid.to_string(), "(UID BODY.PEEK[])").await?.try_collect::<Vec<_>>().await
    })
    .await?;
    Ok(fetches.iter().find(|f| f.uid == Some(uid)).and_then(|f| f.body().map(<[u8]>::to_vec)))
}

/// What the server can do to move messages.
#[derive(Debug, Clone, Copy)]
struct Moves {
    r#move: bool,
    uidplus: bool,
}

/// Move exactly `uids` to `folder`: `UID MOVE`, or `UID COPY`, `\Deleted` and `UID EXPUNGE` of
/// those UIDs. Without UIDPLUS the copies are only flagged `\Deleted` (a plain `EXPUNGE` could
/// remove messages someone else flagged); later runs skip them.
async fn move_to(target: &Target, session: &mut Imap, uids: &[u32], folder: &str, moves: Moves) -> Result<usize> {
    if uids.is_empty() {
        return Ok(0);
    }
    let set = uid_set(uids);
    if moves.r#move {
        timed(target, "move messages on", session.uid_mv(&set, folder)).await?;
        return Ok(uids.len());
    }
    timed(target, "copy messages on", session.uid_copy(&set, folder)).await?;
    timed(target, "flag messages on", async {
        session.uid_store(&set, "+FLAGS.SILENT (\\Deleted)").await?.try_collect::<Vec<_>>().await
    })
    .await?;
    if moves.uidplus {
        timed(target, "expunge messages on", async { session.uid_expunge(&set).await?.try_collect::<Vec<_>>().await })
            .await?;
    } else {
        eprintln!(
            "bounces fetch: the server has neither MOVE nor UIDPLUS: {} messages copied to `{folder}` and flagged deleted, not expunged",
            uids.len()
        );
    }
    Ok(uids.len())
}

/// `work` within [`TIMEOUT`], its error said as what we were doing to the server.
async fn timed<T>(
    target: &Target,
    action: &str,
    work: impl Future<Output = async_imap::error::Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(TIMEOUT, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(failure(target, action, reason(&error))),
        Err(_) => Err(failure(target, action, "timed out")),
    }
}

fn failure(target: &Target, action: &str, why: impl AsRef<str>) -> Error {
    Error::sender(format!(
        "failed to {action} the IMAP server at {}: {}; messages not yet moved stay in `{}` for the next run",
        target.describe(),
        target.mask(why.as_ref()),
        target.folder
    ))
}

/// The server's words, without the library's decoration.
fn reason(error: &async_imap::error::Error) -> String {
    use async_imap::error::Error as E;
    match error {
        E::No(text) | E::Bad(text) => text.trim().to_owned(),
        E::ConnectionLost => "the connection was lost".to_owned(),
        E::Io(e) => e.to_string(),
        other => other.to_string(),
    }
}
