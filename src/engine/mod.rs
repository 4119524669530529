//! Fault engines and the runner. Each backend plans, applies and reverts; the runner is the only
//! caller, and it journals every step.

pub mod aws;
pub mod events;
pub mod k8s;
pub mod lifecycle;
pub mod plan;
pub mod runner;
pub mod supervisor;
pub mod testworld;

use crate::domain::{ExperimentDoc, FaultKind};
use crate::safety::journal::UndoRecord;
use async_trait::async_trait;
use plan::{Plan, PlannedStep};
use std::sync::Arc;

/// Engine failures, each saying what to do next.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// No backend can run this fault here.
    #[error("no engine for {kind} here: {hint}")]
    NoBackend {
        /// The fault kind.
        kind: FaultKind,
        /// What to configure.
        hint: String,
    },
    /// No backend can replay this undo record.
    #[error(
        "no engine can undo `{0}`; start chaosduck with the engine that made it (the same --world, kube context or AWS profile)"
    )]
    NoUndoBackend(String),
    /// The plan could not be made (nothing matched, target missing, ...).
    #[error("{0}")]
    Plan(String),
    /// A mutation failed.
    #[error("{0}")]
    Apply(String),
    /// An undo failed (it will be retried).
    #[error("{0}")]
    Revert(String),
}

/// What a verified undo observed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RevertOutcome {
    /// e.g. "recovered in 4.2s"; None when there is nothing to say.
    pub note: Option<String>,
}

/// Inputs to planning that do not come from the document.
#[derive(Debug, Clone)]
pub struct PlanContext {
    /// The experiment id (used to name artefacts).
    pub experiment_id: String,
}

/// One fault backend (Kubernetes, AWS, the test world).
#[async_trait]
pub trait FaultBackend: Send + Sync {
    /// A short name for plans and messages.
    fn name(&self) -> &'static str;
    /// Whether it runs this fault kind.
    fn handles(&self, kind: FaultKind) -> bool;
    /// Whether it can replay this undo record.
    fn handles_undo(&self, undo: &UndoRecord) -> bool;
    /// Resolves targets and lists mutations with their inverses. Mutates nothing.
    async fn plan(&self, doc: &ExperimentDoc, ctx: &PlanContext) -> Result<Plan, EngineError>;
    /// Performs one mutation. Called only after its intent is durable.
    async fn apply(&self, step: &PlannedStep) -> Result<(), EngineError>;
    /// Which system this backend acts on (e.g. `kubernetes https://10.0.0.1:6443`), written into
    /// each journal entry so recovery never replays an undo against another cluster or account.
    fn scope(&self) -> Option<String> {
        None
    }
    /// Records the moment of the mutation in its undo record, just before the intent is written
    /// (e.g. to measure recovery time from it). Most backends need nothing here.
    fn stamp(&self, _undo: &mut UndoRecord, _now_ms: i64) {}
    /// Undoes one mutation and verifies the target is back. Idempotent: safe to call twice,
    /// after a crash, or when the mutation never happened.
    async fn revert(&self, undo: &UndoRecord) -> Result<RevertOutcome, EngineError>;
}

/// The backends available to this process.
#[derive(Clone, Default)]
pub struct Engines {
    backends: Vec<Arc<dyn FaultBackend>>,
}

impl Engines {
    /// Adds a backend; earlier ones win.
    pub fn with(mut self, b: Arc<dyn FaultBackend>) -> Self {
        self.backends.push(b);
        self
    }

    /// The backend for a fault kind.
    pub fn for_fault(&self, kind: FaultKind) -> Result<Arc<dyn FaultBackend>, EngineError> {
        self.backends.iter().find(|b| b.handles(kind)).cloned().ok_or_else(|| EngineError::NoBackend {
            kind,
            hint: if kind.is_kubernetes() {
                "the Kubernetes fault engine is not part of this build yet; try the file-backed test world with --world DIR (see README)".into()
            } else {
                "the AWS engine is not configured: pass --profile or --region, set AWS_PROFILE, AWS_REGION or AWS_ENDPOINT_URL, or create ~/.aws/config".into()
            },
        })
    }

    /// The backend for an undo record.
    pub fn for_undo(&self, undo: &UndoRecord) -> Result<Arc<dyn FaultBackend>, EngineError> {
        self.backends
            .iter()
            .find(|b| b.handles_undo(undo))
            .cloned()
            .ok_or_else(|| EngineError::NoUndoBackend(undo.summary()))
    }
}
