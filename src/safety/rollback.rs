//! LIFO rollback over journal entries: continues past failures, retries each step with capped
//! backoff, and records every step's result durably. Consecutive steps that each touch only
//! their own target (injectors on distinct pods, instances to start) revert together, so an
//! emergency stop over 40 pods takes about as long as a few of them, not forty.

use crate::config::RollbackPolicy;
use crate::engine::events::{EventSink, RunEvent};
use crate::engine::{EngineError, Engines};
use crate::safety::failpoint;
use crate::safety::journal::{JournalEntry, JournalState, UndoRecord};
use crate::store::{Store, StoreError, now_ms};
use futures::StreamExt;
use std::collections::HashSet;

/// Most independent steps reverted at once (each holds an API request or an exec stream).
pub const PARALLEL_REVERTS: usize = 16;

/// How a rollback went.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RollbackSummary {
    /// Steps verified reverted.
    pub reverted: usize,
    /// Steps that failed every attempt (kept open for `recover`).
    pub failed: usize,
}

/// Persists an entry on a blocking thread.
pub async fn persist(store: &Store, e: &JournalEntry) -> Result<(), StoreError> {
    let (s, e) = (store.clone(), e.clone());
    tokio::task::spawn_blocking(move || {
        let t = std::time::Instant::now();
        s.journal_put(&e)?;
        let m = crate::metrics::metrics();
        m.journal_commit(t.elapsed());
        m.set_active_faults(s.open_journal_count()?);
        Ok(())
    })
    .await
    .map_err(|j| StoreError::Db(format!("store task failed: {j}")))?
}

/// Reverts `entries` last-first. Entries already reverted are skipped; runs of independent
/// steps (see `batches`) revert concurrently, up to `PARALLEL_REVERTS` at a time.
pub async fn rollback(
    store: &Store,
    engines: &Engines,
    mut entries: Vec<JournalEntry>,
    policy: &RollbackPolicy,
    events: &EventSink,
) -> RollbackSummary {
    entries.sort_by_key(|e| std::cmp::Reverse(e.seq));
    entries.retain(|e| e.state != JournalState::Reverted);
    let mut sum = RollbackSummary::default();
    for batch in batches(entries) {
        let mut done = futures::stream::iter(
            batch
                .into_iter()
                .map(|e| revert_step(store, engines, e, policy, events)),
        )
        .buffer_unordered(PARALLEL_REVERTS);
        while let Some(reverted) = done.next().await {
            if reverted {
                sum.reverted += 1;
            } else {
                sum.failed += 1;
            }
        }
    }
    sum
}

/// The target a step's undo touches when it touches nothing else, so that it commutes with any
/// other such step on another target; None for steps that must keep their place in the order.
fn independent_target(u: &UndoRecord) -> Option<String> {
    match u {
        // One injector's stop only ends its own process; another injector on the same pod
        // could share the reserved qdisc handle, so the key is the pod.
        UndoRecord::StopInjector { namespace, pod, .. } => Some(format!("pod {namespace}/{pod}")),
        UndoRecord::AwsStartInstance {
            region,
            instance_id,
            ..
        } => Some(format!("instance {region}/{instance_id}")),
        _ => None,
    }
}

/// Splits LIFO-ordered entries into batches that may revert concurrently: a maximal run of
/// consecutive independent steps on distinct targets, or a single step.
pub fn batches(entries: Vec<JournalEntry>) -> Vec<Vec<JournalEntry>> {
    let mut out: Vec<Vec<JournalEntry>> = Vec::new();
    let mut targets: HashSet<String> = HashSet::new();
    let mut open = false;
    for e in entries {
        match independent_target(&e.undo) {
            Some(t) if open && !targets.contains(&t) => {
                targets.insert(t);
                if let Some(b) = out.last_mut() {
                    b.push(e);
                }
            }
            Some(t) => {
                targets = HashSet::from([t]);
                open = true;
                out.push(vec![e]);
            }
            None => {
                open = false;
                out.push(vec![e]);
            }
        }
    }
    out
}

/// Reverts one step and records the result; true when it was verified reverted.
async fn revert_step(
    store: &Store,
    engines: &Engines,
    mut e: JournalEntry,
    policy: &RollbackPolicy,
    events: &EventSink,
) -> bool {
    failpoint::hit("before-revert");
    let outcome = revert_with_retries(engines, &mut e, policy, events).await;
    let fault = e.fault.map_or("unknown", |f| f.as_str());
    crate::metrics::metrics().rollback_step(fault, outcome.is_ok());
    e.updated_at = now_ms();
    let reverted = outcome.is_ok();
    match outcome {
        Ok(note) => {
            e.state = JournalState::Reverted;
            e.error = None;
            e.note = note;
        }
        Err(err) => {
            e.state = JournalState::Failed;
            e.error = Some(err);
        }
    }
    if let Err(se) = persist(store, &e).await {
        // The undo happened (or not) regardless; the next recover re-checks idempotently.
        tracing::error!(error = %se, seq = e.seq, "could not record rollback result");
    }
    failpoint::hit("after-revert");
    events.emit(RunEvent::Journal { entry: Box::new(e) });
    reverted
}

/// An in-process sandbox (`sandbox pid N`) ends with its process, and every fault in it too.
fn vanished_sandbox(scope: &str) -> Option<String> {
    let pid: i32 = scope.strip_prefix("sandbox pid ")?.parse().ok()?;
    // SAFETY: kill with signal 0 only checks whether the process exists.
    let alive = pid == std::process::id() as i32 || unsafe { libc::kill(pid, 0) } == 0;
    (!alive).then(|| {
        format!(
            "the in-process sandbox of pid {pid} ended with its process, and this fault with it"
        )
    })
}

async fn revert_with_retries(
    engines: &Engines,
    e: &mut JournalEntry,
    policy: &RollbackPolicy,
    events: &EventSink,
) -> Result<Option<String>, String> {
    let backend = match engines.for_undo(&e.undo) {
        Ok(b) => b,
        Err(err) => {
            e.attempts += 1;
            return Err(err.to_string());
        }
    };
    if let Some(scope) = &e.scope
        && backend.scope().as_ref() != Some(scope)
    {
        if let Some(note) = vanished_sandbox(scope) {
            return Ok(Some(note));
        }
        e.attempts += 1;
        return Err(format!(
            "this step was made in {scope}, but ChaosDuck is connected to {}; connect to it (--kubeconfig/--context) and run `chaosduck recover`",
            backend.scope().unwrap_or_else(|| "nothing".into())
        ));
    }
    let mut failures = 0;
    loop {
        e.attempts += 1;
        tracing::info!(experiment = %e.experiment_id, seq = e.seq, attempt = e.attempts, "revert call");
        match backend.revert(&e.undo).await {
            Ok(o) => return Ok(o.note),
            Err(err) => {
                failures += 1;
                let msg = err.to_string();
                tracing::warn!(experiment = %e.experiment_id, seq = e.seq, attempt = e.attempts, error = %msg, "undo failed");
                if failures >= policy.max_attempts || matches!(err, EngineError::NoUndoBackend(_)) {
                    return Err(format!(
                        "{msg} (after {} attempts; kept in the journal for `chaosduck recover`)",
                        e.attempts
                    ));
                }
                events.emit(RunEvent::RollbackRetry {
                    id: e.experiment_id.clone(),
                    seq: e.seq,
                    attempts: e.attempts,
                    error: msg,
                });
                tokio::time::sleep(policy.backoff(failures)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::{Action, PlannedStep, TargetRef};

    fn entry(seq: u32, undo: UndoRecord) -> JournalEntry {
        let step = PlannedStep {
            target: TargetRef {
                kind: "pod".into(),
                name: format!("t{seq}"),
                labels: Default::default(),
            },
            action: Action::TestWorldMark {
                world: "w".into(),
                marker: format!("m{seq}"),
                content: String::new(),
            },
            undo,
            summary: String::new(),
        };
        JournalEntry::intent("exp", None, seq, &step, 0, None)
    }

    fn injector(seq: u32, pod: &str) -> JournalEntry {
        entry(
            seq,
            UndoRecord::StopInjector {
                namespace: "ns".into(),
                pod: pod.into(),
                container: format!("chaosduck-x-{seq}"),
            },
        )
    }

    fn seqs(b: &[Vec<JournalEntry>]) -> Vec<Vec<u32>> {
        b.iter()
            .map(|v| v.iter().map(|e| e.seq).collect())
            .collect()
    }

    #[test]
    fn injectors_on_distinct_pods_revert_together_in_one_batch() {
        let lifo: Vec<_> = (1..=40)
            .rev()
            .map(|i| injector(i, &format!("p{i}")))
            .collect();
        let b = batches(lifo);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].len(), 40);
        assert_eq!(b[0][0].seq, 40, "the batch keeps the last-first order");
    }

    #[test]
    fn a_second_injector_on_the_same_pod_starts_a_new_batch() {
        let lifo = vec![injector(3, "a"), injector(2, "b"), injector(1, "a")];
        assert_eq!(seqs(&batches(lifo)), vec![vec![3, 2], vec![1]]);
    }

    #[test]
    fn ordered_steps_stay_alone_and_in_place() {
        let unmark = |seq| {
            entry(
                seq,
                UndoRecord::TestWorldUnmark {
                    world: "w".into(),
                    marker: format!("m{seq}"),
                },
            )
        };
        let start = |seq, id: &str| {
            entry(
                seq,
                UndoRecord::AwsStartInstance {
                    region: "r".into(),
                    instance_id: id.into(),
                    experiment: "exp".into(),
                },
            )
        };
        let lifo = vec![
            start(6, "i-1"),
            start(5, "i-2"),
            unmark(4),
            unmark(3),
            injector(2, "a"),
            injector(1, "b"),
        ];
        assert_eq!(
            seqs(&batches(lifo)),
            vec![vec![6, 5], vec![4], vec![3], vec![2, 1]]
        );
    }
}
