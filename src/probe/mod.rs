//! Steady-state probes: one-shot (SOT, EOT, Edge) and periodic (Continuous, OnChaos) sampling,
//! with stop conditions. `http`, `tcp`, `cmd` and `prometheus` are evaluated here; `k8s` and
//! `aws` need their clients and are reported as not evaluated (an inconclusive verdict) until a
//! client is configured.

pub mod aws;
pub mod cmd;
pub mod http;
pub mod k8s;
pub mod prometheus;
pub mod tcp;

use crate::domain::{Phase, ProbeMode, ProbeSpec};
use crate::store::now_ms;
use crate::store::records::ProbeSample;
use std::time::Duration;

/// Default time limit of one sample.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The result of one evaluation before it becomes a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Passed?
    pub passed: bool,
    /// Measured value.
    pub value: Option<f64>,
    /// Why not.
    pub error: Option<String>,
    /// Could not be evaluated at all.
    pub skipped: bool,
}

impl Outcome {
    /// A failure with a reason.
    pub fn fail(value: Option<f64>, error: impl Into<String>) -> Self {
        Outcome {
            passed: false,
            value,
            error: Some(error.into()),
            skipped: false,
        }
    }
}

/// Evaluates a probe once.
pub async fn evaluate(spec: &ProbeSpec) -> Outcome {
    let timeout = spec.timeout.map_or(DEFAULT_TIMEOUT, |t| t.get());
    if let Some(c) = &spec.cmd {
        return cmd::evaluate(c, timeout).await;
    }
    if let Some(t) = &spec.tcp {
        return tcp::evaluate(t, timeout).await;
    }
    if let Some(h) = &spec.http {
        return http::evaluate(h, timeout).await;
    }
    if let Some(p) = &spec.prometheus {
        return prometheus::evaluate(p, timeout).await;
    }
    if let Some(k) = &spec.k8s {
        return k8s::evaluate(k, timeout).await;
    }
    if let Some(a) = &spec.aws {
        return aws::evaluate(a, timeout).await;
    }
    let kind = spec.kinds().first().copied().unwrap_or("unknown");
    Outcome {
        passed: false,
        value: None,
        error: Some(format!(
            "{kind} probes are not evaluated by this build yet (cmd and tcp are)"
        )),
        skipped: true,
    }
}

/// Evaluates a probe once and stamps the sample.
pub async fn sample(spec: &ProbeSpec, phase: Phase) -> ProbeSample {
    let o = evaluate(spec).await;
    ProbeSample {
        probe: spec.name.clone(),
        kind: spec
            .kinds()
            .first()
            .copied()
            .unwrap_or("unknown")
            .to_string(),
        mode: spec.mode,
        phase,
        at: now_ms(),
        passed: o.passed,
        value: o.value,
        error: o.error,
        skipped: o.skipped,
    }
}

/// Whether a probe samples periodically in this mode.
pub fn is_periodic(m: ProbeMode) -> bool {
    matches!(m, ProbeMode::Continuous | ProbeMode::OnChaos)
}
