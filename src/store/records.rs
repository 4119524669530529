//! What the store keeps, as serde types.

use crate::domain::{ExperimentDoc, FaultKind, Phase, ProbeMode, Status, Verdict};
use crate::engine::plan::Plan;
use serde::{Deserialize, Serialize};

/// An experiment as stored: its document, where it stands, and its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRecord {
    /// Time-ordered unique id (UUIDv7).
    pub id: String,
    /// `metadata.name` of the document.
    pub name: String,
    /// The fault kind.
    pub fault: FaultKind,
    /// One-line target description.
    pub target: String,
    /// The whole document as run.
    pub doc: ExperimentDoc,
    /// The file it came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where it stands.
    pub status: Status,
    /// The current (or last) phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The verdict, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// What went wrong, for failed runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it was stopped early, for aborted and emergency-stopped runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_reason: Option<String>,
    /// The plan that was (or would be) executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// When it was recorded (unix ms).
    pub created_at: i64,
    /// When STEADY_STATE began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// When it reached a terminal status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// The process that ran it.
    pub pid: u32,
}

/// One entry of the phase timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseEvent {
    /// When (unix ms).
    pub at: i64,
    /// The phase entered, if this event enters one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The status at that moment.
    pub status: Status,
    /// What happened, in words.
    pub message: String,
}

/// One probe sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeSample {
    /// The probe name.
    pub probe: String,
    /// The probe type (http, tcp, cmd, k8s, prometheus, aws).
    #[serde(default)]
    pub kind: String,
    /// The mode it ran in.
    pub mode: ProbeMode,
    /// The phase during which it ran.
    pub phase: Phase,
    /// When (unix ms).
    pub at: i64,
    /// Whether it passed.
    pub passed: bool,
    /// The measured value (latency in ms, exit code, ...), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Why it failed or could not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The probe could not be evaluated here at all (its kind is unavailable).
    #[serde(default)]
    pub skipped: bool,
}

/// An analysis of an experiment (AI or offline engine).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// When (unix ms).
    pub at: i64,
    /// Which engine wrote it.
    pub engine: String,
    /// The text.
    pub text: String,
}
