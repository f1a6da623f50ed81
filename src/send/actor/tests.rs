//! The journal task on both backends: on PostgreSQL its updates go through the pipeline, and
//! a batch the pipeline could not commit is applied again on the store's connection.

use super::*;
use crate::state::journal::DeliveryStatus as S;
use crate::state::testing::{Fresh, at, both, key, recipients, update};
use crate::state::{Reason, Scope};

const ISSUE: &str = "w/a";
const RUN: i64 = 7;

both!(
    updates_commit_a_refusal_says_why_and_the_task_gives_the_store_back,
    a_run_of_a_few_recipients_commits_its_updates_without_a_pipeline,
);

/// Eight workers' marks at once, one withheld (unsubscribed after its page was read), then a
/// refused batch: its error names the row and why, and nothing of that batch is committed
/// (row 1 stays in flight), while the batches before it are.
fn updates_commit_a_refusal_says_why_and_the_task_gives_the_store_back(t: &Fresh) {
    let mut state = t.open();
    state.add_recipients(ISSUE, recipients(9), at()).unwrap();
    assert_eq!(state.claim(ISSUE, RUN, i64::MIN, 9).unwrap().len(), 9);
    state.suppress(&key(3), &Scope::All, Reason::Manual, "test", at()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let state = runtime.block_on(async {
        let run = Run { issue: ISSUE.to_owned(), id: RUN, locked: false, pipelined: true };
        let (journal, task) = start_run(state, run, Clock::fixed(at()), "state.db".into());
        let marks = (0..8).map(|i| {
            let journal = journal.clone();
            async move { journal.apply(vec![update(i, S::Inflight)]).await.unwrap() }
        });
        let withheld: Vec<Vec<String>> = futures_util::future::join_all(marks).await;
        assert!(withheld.iter().any(|w| w.contains(&key(3))), "{withheld:?}");
        journal.apply(vec![update(0, S::Sent)]).await.unwrap();
        // `pending` cannot become `sent`.
        let refused = journal.apply(vec![update(1, S::Sent), update(8, S::Sent)]).await.unwrap_err().to_string();
        assert!(refused.contains(&format!("`{}` `sent`", key(8))), "{refused}");
        assert!(refused.contains("a `pending` recipient cannot become `sent`"), "{refused}");
        drop(journal);
        task.await.unwrap()
    });
    let rows: Vec<(String, S)> =
        state.deliveries(ISSUE, &[]).unwrap().into_iter().map(|d| (d.address_key, d.status)).collect();
    let expected: Vec<(String, S)> = (0..9)
        .map(|i| {
            let status = match i {
                0 => S::Sent,
                3 => S::Suppressed,
                8 => S::Pending,
                _ => S::Inflight,
            };
            (key(i), status)
        })
        .collect();
    assert_eq!(rows, expected);
}

/// A run of a few recipients (a welcome, a catch-up) opens no pipeline on PostgreSQL: its marks
/// go through the store's own connection, off the workers' thread, and commit all the same,
/// a suppressed address withheld and another run's claim refused as with a pipeline.
fn a_run_of_a_few_recipients_commits_its_updates_without_a_pipeline(t: &Fresh) {
    assert!(!pipelines(PIPELINE_FROM - 1) && pipelines(PIPELINE_FROM));
    let mut state = t.open();
    state.add_recipients(ISSUE, recipients(3), at()).unwrap();
    let ours = state.claim(ISSUE, RUN, i64::MIN, 2).unwrap();
    assert_eq!(ours.len(), 2);
    assert_eq!(state.claim(ISSUE, RUN + 1, ours[1].seq, 1).unwrap().len(), 1);
    state.suppress(&key(1), &Scope::All, Reason::Manual, "test", at()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let state = runtime.block_on(async {
        let run = Run { issue: ISSUE.to_owned(), id: RUN, locked: false, pipelined: false };
        let (journal, task) = start_run(state, run, Clock::fixed(at()), "state.db".into());
        assert!(journal.updates.is_none());
        let withheld = journal.apply(vec![update(0, S::Inflight), update(1, S::Inflight)]).await.unwrap();
        assert_eq!(withheld, vec![key(1)]);
        journal.apply(vec![update(0, S::Sent)]).await.unwrap();
        let refused = journal.apply(vec![update(2, S::Inflight)]).await.unwrap_err().to_string();
        assert!(refused.contains("another sender"), "{refused}");
        drop(journal);
        task.await.unwrap()
    });
    let rows: Vec<(String, S)> =
        state.deliveries(ISSUE, &[]).unwrap().into_iter().map(|d| (d.address_key, d.status)).collect();
    assert_eq!(rows, vec![(key(0), S::Sent), (key(1), S::Suppressed), (key(2), S::Pending)]);
}
