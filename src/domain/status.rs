//! Phases of the lifecycle, statuses of an experiment, and verdicts.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The five phases, in order.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Phase {
    /// Probes establish that the system is healthy before anything is touched.
    SteadyState,
    /// The hypothesis is recorded.
    Hypothesis,
    /// The fault is injected, journaled step by step.
    Inject,
    /// The fault is held while probes watch.
    Observe,
    /// Every journaled step is undone, last first, and recovery is verified.
    Rollback,
}

impl Phase {
    /// All phases in order.
    pub const ALL: [Phase; 5] = [
        Phase::SteadyState,
        Phase::Hypothesis,
        Phase::Inject,
        Phase::Observe,
        Phase::Rollback,
    ];

    /// The upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::SteadyState => "STEADY_STATE",
            Phase::Hypothesis => "HYPOTHESIS",
            Phase::Inject => "INJECT",
            Phase::Observe => "OBSERVE",
            Phase::Rollback => "ROLLBACK",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an experiment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Recorded, not started.
    Pending,
    /// In one of the five phases.
    Running,
    /// Ran to the end and rolled back cleanly.
    Completed,
    /// An error ended it (or rollback left steps unreverted); see `error`.
    Failed,
    /// Ended early by a timeout, a stop condition or a signal; rolled back.
    Aborted,
    /// Ended by the emergency stop; rolled back.
    EmergencyStopped,
    /// Its process died; recovery reverted what it left behind.
    RolledBack,
}

impl Status {
    /// Whether the experiment can no longer change.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Status::Pending | Status::Running)
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Aborted => "aborted",
            Status::EmergencyStopped => "emergency_stopped",
            Status::RolledBack => "rolled_back",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the hypothesis held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// Every probe passed where it had to.
    Held,
    /// At least one probe failed where it had to pass.
    Violated,
    /// Not enough evidence: no probes, probes that could not run, or the run ended early.
    Inconclusive,
}

impl fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VerdictKind::Held => "held",
            VerdictKind::Violated => "violated",
            VerdictKind::Inconclusive => "inconclusive",
        })
    }
}

/// The verdict with its reasons.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Verdict {
    /// Held, violated or inconclusive.
    pub kind: VerdictKind,
    /// Why, in words.
    pub reasons: Vec<String>,
    /// Each probe's record.
    #[serde(default)]
    pub probes: Vec<ProbeSummary>,
    /// The resilience score, 0–100, by the documented formula (see [`resilience_score`]); absent
    /// when there is no evidence to compute it from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
}

/// One probe's record in a verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeSummary {
    /// Probe name.
    pub name: String,
    /// Samples that were judged (not counting ones that could not be evaluated).
    pub samples: usize,
    /// Samples that passed.
    pub passed: usize,
    /// passed / samples, 0–1; absent without samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_rate: Option<f64>,
}

/// The resilience score, 0–100, from evidence only:
///
/// `score = 100 × (0.5 × P + 0.3 × E + 0.2 × R)` where
/// - `P` is the mean pass rate of the probes' judged samples (how well the steady state held
///   during the experiment),
/// - `E` is 1 when every end-of-test sample passed after rollback (the system recovered), else 0
///   (with no end-of-test probe, `E = P`),
/// - `R` is the share of journal steps verified reverted (1 when nothing was injected).
///
/// `None` when no probe produced a judged sample: no evidence, no number.
pub fn resilience_score(
    pass_rates: &[f64],
    end_ok: Option<bool>,
    reverted: usize,
    steps: usize,
) -> Option<u8> {
    if pass_rates.is_empty() {
        return None;
    }
    let p = pass_rates.iter().sum::<f64>() / pass_rates.len() as f64;
    let e = match end_ok {
        Some(true) => 1.0,
        Some(false) => 0.0,
        None => p,
    };
    let r = if steps == 0 {
        1.0
    } else {
        reverted as f64 / steps as f64
    };
    Some(
        (100.0 * (0.5 * p + 0.3 * e + 0.2 * r))
            .round()
            .clamp(0.0, 100.0) as u8,
    )
}
