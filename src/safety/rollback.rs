//! LIFO rollback over journal entries: continues past failures, retries each step with capped
//! backoff, and records every step's result durably.

use crate::config::RollbackPolicy;
use crate::engine::events::{EventSink, RunEvent};
use crate::engine::{EngineError, Engines};
use crate::safety::failpoint;
use crate::safety::journal::{JournalEntry, JournalState};
use crate::store::{Store, StoreError, now_ms};

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

/// Reverts `entries` last-first. Entries already reverted are skipped.
pub async fn rollback(
    store: &Store,
    engines: &Engines,
    mut entries: Vec<JournalEntry>,
    policy: &RollbackPolicy,
    events: &EventSink,
) -> RollbackSummary {
    entries.sort_by_key(|e| std::cmp::Reverse(e.seq));
    let mut sum = RollbackSummary::default();
    for mut e in entries {
        if e.state == JournalState::Reverted {
            continue;
        }
        failpoint::hit("before-revert");
        let outcome = revert_with_retries(engines, &mut e, policy, events).await;
        let fault = e.fault.map_or("unknown", |f| f.as_str());
        crate::metrics::metrics().rollback_step(fault, outcome.is_ok());
        e.updated_at = now_ms();
        match outcome {
            Ok(note) => {
                e.state = JournalState::Reverted;
                e.error = None;
                e.note = note;
                sum.reverted += 1;
            }
            Err(err) => {
                e.state = JournalState::Failed;
                e.error = Some(err);
                sum.failed += 1;
            }
        }
        if let Err(se) = persist(store, &e).await {
            // The undo happened (or not) regardless; the next recover re-checks idempotently.
            tracing::error!(error = %se, seq = e.seq, "could not record rollback result");
        }
        failpoint::hit("after-revert");
        events.emit(RunEvent::Journal { entry: Box::new(e) });
    }
    sum
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
