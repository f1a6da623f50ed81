//! The send's journal batches on PostgreSQL, pipelined: each batch of `inflight` marks and
//! outcomes is one transaction, on a connection of its own that the send's runtime drives: one
//! statement when the batch names each row once (a statement is a transaction of its own),
//! else `BEGIN`, its statements and `COMMIT`, all written before any answer is read.
//!
//! Enters: batches of [`Update`]s and the time. Leaves: the withheld keys, as
//! [`State::apply_for`] returns them, or `None` when the batch did not commit.
//!
//! Why: through the synchronous client (`state/pg.rs`) a batch costs three round trips to the
//! server, each a hop to the connection's thread and back, and the send's workers wait for
//! their `inflight` mark before each message goes out, so that latency is the send's. Here
//! the server gets the whole transaction at once and answers it in order, and the next batch
//! can follow before this one's answer is back (tokio-postgres sends a request when its future
//! is first polled, and the server runs them one after the other).
//!
//! A batch commits whole or not at all. Its statement counts the rows it changed; when an
//! update matched no row (a refused status change, or a row another run claimed) it fails on
//! purpose, with a cast that cannot succeed, so the transaction aborts and the `COMMIT`
//! already behind it rolls back. Then, as on any other failure, the caller applies the batch
//! through [`State::apply_for`], which runs it again one row at a time and says why.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use futures_util::future::{MaybeDone, maybe_done};
use jiff::Timestamp;
use postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::bulk::{batch_update, groups, params};
use super::{Update, stamp};
use crate::error::Error;
use crate::state::State;
use crate::state::db::{Conn, DbError};
use crate::state::pg;

/// [`batch_update!`], the updated rows that were withheld (one row of nulls when none was),
/// and an error unless it changed `$13` rows: the cast's input is not constant, so the planner
/// cannot fold it into an error of its own. Only the withheld rows come back: the others
/// would be a row each for the client to read and drop.
const CHECKED: &str = batch_update!(
    "SELECT d.address_key, d.hit,
            CAST(CASE WHEN c.n = $13 THEN '0' ELSE 'refused: ' || c.n || ' of ' || $13 END AS integer)
     FROM (SELECT count(*) AS n FROM done) AS c LEFT JOIN done AS d ON d.hit"
);

/// One request of a pipelined transaction: a statement's rows, or `None` for `BEGIN`/`COMMIT`.
type Request<'a> = Pin<Box<dyn Future<Output = Result<Option<Vec<Row>>, tokio_postgres::Error>> + Send + 'a>>;

/// A connection that applies one run's journal batches, pipelined (see the module's notes);
/// its own task, on the runtime that made it, reads and writes the socket until it is dropped.
pub struct Pipeline {
    client: Client,
    statement: Statement,
    issue: String,
    run: i64,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("issue", &self.issue).field("run", &self.run).finish_non_exhaustive()
    }
}

impl State {
    /// A pipeline for run `run`'s batches of `issue`'s journal, on a new connection to the
    /// store made as this one was (TLS included), once the future is awaited; `None` on
    /// SQLite, whose commits are local and short. Await it on the runtime that will use the
    /// pipeline: its connection runs there.
    pub fn pipeline(
        &self,
        issue: &str,
        run: i64,
    ) -> Option<impl Future<Output = Result<Pipeline, Error>> + Send + 'static> {
        let Conn::Pg(pg) = &self.conn else { return None };
        let (path, shown, issue) = (self.path.clone(), self.shown.clone(), issue.to_owned());
        let (config, with_tls) = pg.made_with();
        Some(async move {
            let fail = |e| crate::state::sql_error("connect to", &path, &shown, e);
            let pg_error = |e: tokio_postgres::Error| fail(DbError::Pg(pg::message(&e)));
            let client = if with_tls {
                let (client, connection) = config.connect(pg::tls().map_err(fail)?).await.map_err(pg_error)?;
                tokio::spawn(connection);
                client
            } else {
                let (client, connection) = config.connect(NoTls).await.map_err(pg_error)?;
                tokio::spawn(connection);
                client
            };
            client.batch_execute(pg::LOCK_TIMEOUT).await.map_err(pg_error)?;
            // The connection runs this one statement, whose plan the arrays' lengths do not
            // change: planned once, not for every batch. Its commits are the journal's batches,
            // which do not wait for the WAL flush (see `write::RELAXED`).
            client
                .batch_execute("SET plan_cache_mode = force_generic_plan; SET synchronous_commit = off")
                .await
                .map_err(pg_error)?;
            let statement = client.prepare(CHECKED).await.map_err(pg_error)?;
            Ok(Pipeline { client, statement, issue, run })
        })
    }
}

impl Pipeline {
    /// Apply `updates` in one transaction, as [`State::apply_for`] does for this run; `None`
    /// when it did not commit (refused, or the database failed): the caller must apply them
    /// through [`State::apply_for`], which says why.
    pub async fn apply(&self, updates: &[Update], at: Timestamp) -> Option<Vec<String>> {
        let at = stamp(at);
        let batches: Vec<_> = groups(updates)
            .map(|group| {
                (params(&self.issue, group, &at, Some(self.run)), i64::try_from(group.len()).unwrap_or(i64::MAX))
            })
            .collect();
        let statements = batches.iter().map(|(params, expected)| {
            let mut refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
            refs.push(expected);
            async move { self.client.query(&self.statement, &refs).await.map(Some) }
        });
        // One statement is a transaction of its own; several are wrapped in one.
        let wrap = batches.len() > 1;
        let mut requests: Vec<Request<'_>> = Vec::with_capacity(batches.len() + 2);
        if wrap {
            requests.push(Box::pin(async { self.client.batch_execute("BEGIN").await.map(|()| None) }));
        }
        requests.extend(statements.map(|s| Box::pin(s) as Pin<Box<_>>));
        if wrap {
            requests.push(Box::pin(async { self.client.batch_execute("COMMIT").await.map(|()| None) }));
        }
        let answers = in_order(requests).await;
        let mut withheld = Vec::new();
        for answer in answers {
            for row in answer.ok()?.unwrap_or_default() {
                if row.try_get::<_, Option<bool>>(1).ok()?.unwrap_or(false) {
                    withheld.push(row.try_get(0).ok()?);
                }
            }
        }
        Some(withheld)
    }
}

/// Await `futures` together, polling each in the order given every time (so each one's
/// request goes out in that order, on their first poll), and return their outputs in order.
async fn in_order<F: Future + Unpin>(futures: Vec<F>) -> Vec<F::Output> {
    let mut all: Vec<MaybeDone<F>> = futures.into_iter().map(maybe_done).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for future in &mut all {
            done &= Pin::new(&mut *future).poll(cx).is_ready();
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    all.into_iter().filter_map(|mut f| Pin::new(&mut f).take_output()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::journal::{Delivery, DeliveryStatus as S};
    use crate::state::testing::{Fresh, at, key, recipients, update};
    use crate::state::{Reason, Scope};

    const ISSUE: &str = "w/a";
    const RUN: i64 = 7;

    /// A PostgreSQL store with `n` pending recipients claimed by [`RUN`], and a pipeline.
    fn setup(n: usize) -> (Fresh, State, tokio::runtime::Runtime, Pipeline) {
        let t = Fresh::postgres();
        let mut state = t.open();
        state.add_recipients(ISSUE, recipients(n), at()).unwrap();
        assert_eq!(state.claim(ISSUE, RUN, i64::MIN, n).unwrap().len(), n);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let pipeline = runtime.block_on(state.pipeline(ISSUE, RUN).unwrap()).unwrap();
        (t, state, runtime, pipeline)
    }

    fn statuses(state: &State) -> Vec<(String, S, u32)> {
        let rows: Vec<Delivery> = state.deliveries(ISSUE, &[]).unwrap();
        rows.into_iter().map(|d| (d.address_key, d.status, d.attempts)).collect()
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn a_batch_commits_its_marks_and_withholds_a_suppressed_recipient() {
        let (_t, state, runtime, pipeline) = setup(3);
        state.suppress(&key(2), &Scope::List("main".to_owned()), Reason::Manual, "test", at()).unwrap();
        // The same row twice (in flight, then sent) goes in two statements of one transaction.
        let batch = [update(0, S::Inflight), update(1, S::Inflight), update(2, S::Inflight), update(0, S::Sent)];
        let withheld = runtime.block_on(pipeline.apply(&batch, at()));
        assert_eq!(withheld, Some(vec![key(2)]));
        assert_eq!(statuses(&state), [(key(0), S::Sent, 1), (key(1), S::Inflight, 1), (key(2), S::Suppressed, 0)]);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn a_refused_update_rolls_back_its_whole_batch_and_leaves_the_next_one_alone() {
        let (_t, state, runtime, pipeline) = setup(3);
        // `pending` cannot become `sent`: the first batch is refused whole; the second, on its
        // way behind it on the same connection, commits.
        let refused = [update(0, S::Inflight), update(1, S::Sent)];
        let fine = [update(2, S::Inflight)];
        let (first, second) =
            runtime.block_on(async { tokio::join!(pipeline.apply(&refused, at()), pipeline.apply(&fine, at())) });
        assert_eq!(first, None);
        assert_eq!(second, Some(Vec::new()));
        assert_eq!(statuses(&state), [(key(0), S::Pending, 0), (key(1), S::Pending, 0), (key(2), S::Inflight, 1)]);
        // And the connection goes on working.
        assert_eq!(runtime.block_on(pipeline.apply(&[update(0, S::Inflight)], at())), Some(Vec::new()));
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn a_row_another_run_claimed_is_not_marked_in_flight() {
        let (_t, state, runtime, _) = setup(2);
        let other = runtime.block_on(state.pipeline(ISSUE, RUN + 1).unwrap()).unwrap();
        assert_eq!(runtime.block_on(other.apply(&[update(0, S::Inflight)], at())), None);
        assert_eq!(statuses(&state), [(key(0), S::Pending, 0), (key(1), S::Pending, 0)]);
    }

    #[test]
    fn futures_are_first_polled_in_the_order_given() {
        let order = std::sync::Mutex::new(Vec::new());
        let order = &order;
        let futures: Vec<Pin<Box<dyn Future<Output = usize>>>> = (0..40_usize)
            .map(|i| {
                Box::pin(async move {
                    order.lock().unwrap().push(i);
                    tokio::task::yield_now().await;
                    i * 2
                }) as Pin<Box<_>>
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let out = runtime.block_on(in_order(futures));
        assert_eq!(*order.lock().unwrap(), (0..40).collect::<Vec<usize>>());
        assert_eq!(out, (0..40).map(|i| i * 2).collect::<Vec<_>>());
    }
}
