//! Recovery: reverts what a dead process left in the journal, before anything else runs.

use crate::config::RollbackPolicy;
use crate::domain::Status;
use crate::engine::Engines;
use crate::engine::events::EventSink;
use crate::safety::journal::JournalEntry;
use crate::safety::rollback::rollback;
use crate::store::records::PhaseEvent;
use crate::store::{Store, StoreError, now_ms};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// What recovery did for one experiment.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RecoveredExperiment {
    /// Experiment id.
    pub id: String,
    /// Steps reverted now.
    pub reverted: usize,
    /// Steps still failing (kept open).
    pub failed: usize,
    /// The status it was left in.
    pub status: Status,
}

/// What recovery did.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct RecoveryReport {
    /// Per experiment.
    pub experiments: Vec<RecoveredExperiment>,
}

impl RecoveryReport {
    /// Steps still open after recovery.
    pub fn failed(&self) -> usize {
        self.experiments.iter().map(|e| e.failed).sum()
    }
}

async fn blocking<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let s = store.clone();
    tokio::task::spawn_blocking(move || f(&s))
        .await
        .map_err(|e| StoreError::Db(format!("store task failed: {e}")))?
}

/// Reverts every open journal entry (LIFO per experiment) except those of `skip` (runs alive in
/// this process), and closes experiments whose process died.
pub async fn recover(
    store: &Store,
    engines: &Engines,
    policy: &RollbackPolicy,
    events: &EventSink,
    skip: &HashSet<String>,
) -> Result<RecoveryReport, StoreError> {
    let open = blocking(store, |s| s.open_journal()).await?;
    let mut by_exp: BTreeMap<String, Vec<JournalEntry>> = BTreeMap::new();
    for e in open {
        if !skip.contains(&e.experiment_id) {
            by_exp.entry(e.experiment_id.clone()).or_default().push(e);
        }
    }
    let mut report = RecoveryReport::default();
    for (id, entries) in by_exp {
        tracing::info!(experiment = %id, steps = entries.len(), "recovering");
        let sum = rollback(store, engines, entries, policy, events).await;
        let idc = id.clone();
        let status = blocking(store, move |s| {
            let mut rec = match s.experiment(&idc) {
                Ok(r) => r,
                Err(StoreError::NotFound(_)) => return Ok(Status::RolledBack),
                Err(e) => return Err(e),
            };
            if !rec.status.is_terminal() {
                rec.status = if sum.failed == 0 { Status::RolledBack } else { Status::Failed };
                rec.finished_at = Some(now_ms());
                if sum.failed > 0 {
                    rec.error = Some(format!(
                        "its process ended mid-run; recovery could not revert {} step(s), still in the journal",
                        sum.failed
                    ));
                } else {
                    rec.abort_reason = Some(format!("its process (pid {}) ended mid-run; recovery reverted every step", rec.pid));
                }
            } else if sum.failed == 0 && rec.status == Status::Failed {
                rec.error = Some(format!("{} (recovery later reverted the remaining steps)", rec.error.unwrap_or_default()));
            }
            s.put_experiment(&rec)?;
            s.append_event(
                &idc,
                &PhaseEvent {
                    at: now_ms(),
                    phase: None,
                    status: rec.status,
                    message: format!("recovery: {} step(s) reverted, {} failed", sum.reverted, sum.failed),
                },
            )?;
            Ok(rec.status)
        })
        .await?;
        report.experiments.push(RecoveredExperiment {
            id,
            reverted: sum.reverted,
            failed: sum.failed,
            status,
        });
    }
    // Runs whose process died before injecting anything.
    let skip2 = skip.clone();
    let done: HashSet<String> = report.experiments.iter().map(|e| e.id.clone()).collect();
    let stale = blocking(store, move |s| {
        let mut out = Vec::new();
        for mut rec in s.experiments()? {
            if rec.status.is_terminal() || skip2.contains(&rec.id) || done.contains(&rec.id) {
                continue;
            }
            rec.status = Status::Aborted;
            rec.finished_at = Some(now_ms());
            rec.abort_reason = Some(format!(
                "its process (pid {}) ended before it finished; nothing was left to revert",
                rec.pid
            ));
            s.put_experiment(&rec)?;
            s.append_event(
                &rec.id,
                &PhaseEvent {
                    at: now_ms(),
                    phase: None,
                    status: Status::Aborted,
                    message: "recovery: nothing to revert".into(),
                },
            )?;
            out.push(RecoveredExperiment {
                id: rec.id,
                reverted: 0,
                failed: 0,
                status: Status::Aborted,
            });
        }
        Ok(out)
    })
    .await?;
    report.experiments.extend(stale);
    Ok(report)
}
