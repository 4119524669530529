//! Why a run stops early.

use crate::domain::Status;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A reason to stop a run before its end; every one leads to rollback.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum StopReason {
    /// The emergency stop (key, `chaosduck stop`, or the API), with its source.
    EmergencyStop(String),
    /// The hard timeout passed.
    Timeout(String),
    /// SIGINT, SIGTERM or SIGHUP.
    Signal(String),
    /// A probe with `abortOnFailure` crossed its threshold.
    ProbeFailed(String),
    /// The operator's terminal went away.
    OperatorLost,
    /// The operator asked to roll this run back now (the dashboard's rollback key).
    Operator(String),
}

impl StopReason {
    /// The status a run stopped for this reason ends in.
    pub fn status(&self) -> Status {
        match self {
            StopReason::EmergencyStop(_) => Status::EmergencyStopped,
            _ => Status::Aborted,
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::EmergencyStop(s) => write!(f, "emergency stop ({s})"),
            StopReason::Timeout(t) => write!(f, "hard timeout of {t} passed"),
            StopReason::Signal(s) => write!(f, "{s} received"),
            StopReason::ProbeFailed(p) => write!(f, "probe {p} crossed its failure threshold"),
            StopReason::OperatorLost => f.write_str("the operator's terminal went away"),
            StopReason::Operator(s) => write!(f, "rollback requested ({s})"),
        }
    }
}
