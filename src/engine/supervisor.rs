//! The supervisor owns the runs of this process: it starts them, delivers stop reasons to them,
//! and performs the emergency stop (cancel every run, roll everything back, latch).

use super::events::EventSink;
use super::runner::{self, RunContext, RunError, RunOutcome, RunRequest};
use crate::safety::emergency::StopReason;
use crate::safety::recovery::{self, RecoveryReport};
use crate::store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// What an emergency stop did.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StopReport {
    /// Runs that were cancelled.
    pub stopped: Vec<String>,
    /// Journal steps still open after the stop (0 means everything was reverted).
    pub still_open: usize,
    /// Experiments recovery handled beyond the live runs.
    pub recovered: Vec<String>,
}

/// Owner of the runs of this process.
pub struct Supervisor {
    ctx: RunContext,
    runs: Mutex<HashMap<String, watch::Sender<Option<StopReason>>>>,
    active: watch::Sender<usize>,
    control: tokio::sync::Mutex<()>,
}

impl Supervisor {
    /// A supervisor over a run context.
    pub fn new(ctx: RunContext) -> Arc<Self> {
        Arc::new(Supervisor {
            ctx,
            runs: Mutex::new(HashMap::new()),
            active: watch::Sender::new(0),
            control: tokio::sync::Mutex::new(()),
        })
    }

    /// Held while a control request (such as a stop from another shell) is being served and
    /// answered; the process waits for it before exiting so the requester gets its answer.
    pub fn control_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.control
    }

    /// The run context.
    pub fn context(&self) -> &RunContext {
        &self.ctx
    }

    fn runs(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<Option<StopReason>>>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ids of runs alive now.
    pub fn live(&self) -> HashSet<String> {
        self.runs().keys().cloned().collect()
    }

    /// Runs an experiment under supervision, with a fresh id.
    pub async fn run(self: &Arc<Self>, req: RunRequest) -> Result<RunOutcome, RunError> {
        self.run_with_id(runner::new_id(), req).await
    }

    /// Runs an experiment under supervision with a given id.
    pub async fn run_with_id(
        self: &Arc<Self>,
        id: String,
        req: RunRequest,
    ) -> Result<RunOutcome, RunError> {
        let (tx, rx) = watch::channel(None);
        self.runs().insert(id.clone(), tx);
        self.active.send_modify(|n| *n += 1);
        let out = runner::execute(&self.ctx, id.clone(), req, rx).await;
        self.runs().remove(&id);
        self.active.send_modify(|n| *n = n.saturating_sub(1));
        out
    }

    /// Asks every live run to stop for `reason` (each rolls back on its own).
    pub fn stop_all(&self, reason: StopReason) -> Vec<String> {
        let runs = self.runs();
        for tx in runs.values() {
            tx.send_replace(Some(reason.clone()));
        }
        runs.keys().cloned().collect()
    }

    /// Asks one live run to stop for `reason`; false when it is not alive in this process.
    pub fn stop(&self, id: &str, reason: StopReason) -> bool {
        match self.runs().get(id) {
            Some(tx) => {
                tx.send_replace(Some(reason));
                true
            }
            None => false,
        }
    }

    /// Waits until no run is alive.
    pub async fn wait_idle(&self) {
        let mut rx = self.active.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// The emergency stop: latch, cancel every run, wait for their rollbacks, then revert anything
    /// else left open in the journal.
    pub async fn emergency_stop(&self, source: &str) -> Result<StopReport, StoreError> {
        let reason = format!(
            "emergency stop from {source} at {}",
            humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        );
        let s = self.ctx.store.clone();
        let r2 = reason.clone();
        tokio::task::spawn_blocking(move || s.set_emergency_latch(Some(&r2)))
            .await
            .map_err(|e| StoreError::Db(e.to_string()))??;
        let stopped = self.stop_all(StopReason::EmergencyStop(source.to_string()));
        self.wait_idle().await;
        let rep = self.recover().await?;
        let s = self.ctx.store.clone();
        let still_open = tokio::task::spawn_blocking(move || s.open_journal().map(|v| v.len()))
            .await
            .map_err(|e| StoreError::Db(e.to_string()))??;
        Ok(StopReport {
            stopped,
            still_open,
            recovered: rep.experiments.into_iter().map(|e| e.id).collect(),
        })
    }

    /// Recovers open journal entries that no live run owns.
    pub async fn recover(&self) -> Result<RecoveryReport, StoreError> {
        let live = self.live();
        recovery::recover(
            &self.ctx.store,
            &self.ctx.engines,
            &self.ctx.config.rollback,
            &self.ctx.events,
            &live,
        )
        .await
    }

    /// Clears the emergency-stop latch.
    pub async fn reset(&self) -> Result<(), StoreError> {
        let s = self.ctx.store.clone();
        tokio::task::spawn_blocking(move || s.set_emergency_latch(None))
            .await
            .map_err(|e| StoreError::Db(e.to_string()))?
    }

    /// A sink for events (shared with the runs).
    pub fn events(&self) -> &EventSink {
        &self.ctx.events
    }
}
