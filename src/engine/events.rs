//! Typed events from runs to whoever watches (the CLI printer, the dashboard).

use crate::domain::{Phase, Status, Verdict};
use crate::engine::plan::Plan;
use crate::safety::journal::JournalEntry;
use crate::store::records::ProbeSample;
use tokio::sync::mpsc;

/// Something that happened in a run.
#[derive(Clone, Debug)]
pub enum RunEvent {
    /// The plan is ready (before guardrails).
    Planned {
        /// Experiment id.
        id: String,
        /// The plan.
        plan: Box<Plan>,
    },
    /// A phase began.
    PhaseChanged {
        /// Experiment id.
        id: String,
        /// The phase.
        phase: Phase,
        /// When (unix ms).
        at: i64,
    },
    /// A journal entry changed (intent, applied, reverted, failed).
    Journal {
        /// The entry after the change.
        entry: Box<JournalEntry>,
    },
    /// A probe produced a sample.
    ProbeSample {
        /// Experiment id.
        id: String,
        /// The sample.
        sample: ProbeSample,
    },
    /// A rollback attempt failed and will be retried.
    RollbackRetry {
        /// Experiment id.
        id: String,
        /// Journal sequence number.
        seq: u32,
        /// Attempts so far.
        attempts: u32,
        /// The error.
        error: String,
    },
    /// A note worth showing.
    Message {
        /// Experiment id.
        id: String,
        /// The text.
        text: String,
    },
    /// The run ended.
    Finished {
        /// Experiment id.
        id: String,
        /// Final status.
        status: Status,
        /// Verdict.
        verdict: Option<Verdict>,
    },
}

/// A bounded, never-blocking sender: a slow watcher loses events (they are all in the store)
/// instead of slowing a rollback.
#[derive(Clone, Debug)]
pub struct EventSink(Option<mpsc::Sender<RunEvent>>);

impl EventSink {
    /// A sink and its receiver with room for `cap` events.
    pub fn channel(cap: usize) -> (Self, mpsc::Receiver<RunEvent>) {
        let (tx, rx) = mpsc::channel(cap);
        (EventSink(Some(tx)), rx)
    }

    /// A sink that drops everything.
    pub fn none() -> Self {
        EventSink(None)
    }

    /// Sends without waiting.
    pub fn emit(&self, ev: RunEvent) {
        if let Some(tx) = &self.0
            && tx.try_send(ev).is_err()
        {
            tracing::debug!("event dropped: watcher is slow or gone");
        }
    }
}
