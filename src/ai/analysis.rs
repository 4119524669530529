//! The analysis of a finished experiment: severity, likely cause, confidence, findings and
//! prioritised recommendations. The offline engine derives it from the evidence by rules; the AI
//! engines return the same structure through a tool schema. The resilience score is never part
//! of it: the number is the stored one, computed by the documented formula.

use super::evidence::Evidence;
use crate::domain::{FaultKind, Phase, Status, VerdictKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// How bad the finding is (SEV1 worst).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum Severity {
    /// Faults left in place, or the system did not recover.
    #[serde(rename = "SEV1")]
    Sev1,
    /// The hypothesis was violated and users would have noticed.
    #[serde(rename = "SEV2")]
    Sev2,
    /// Degradation that recovered by itself.
    #[serde(rename = "SEV3")]
    Sev3,
    /// Nothing to fix; the hypothesis held or there was too little evidence.
    #[serde(rename = "SEV4")]
    Sev4,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Sev1 => "SEV1",
            Severity::Sev2 => "SEV2",
            Severity::Sev3 => "SEV3",
            Severity::Sev4 => "SEV4",
        })
    }
}

/// Priority of a recommendation.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Do it first.
    High,
    /// Worth doing.
    Medium,
    /// Nice to have.
    Low,
}

/// One recommendation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recommendation {
    /// How urgent.
    pub priority: Priority,
    /// What to do, in a few words.
    pub action: String,
    /// Why and how, in a sentence or two.
    pub detail: String,
}

/// An analysis, as the AI tool returns it and as the offline engine makes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisBody {
    /// SEV1 (worst) to SEV4.
    pub severity: Severity,
    /// The most likely cause of what was observed, in one or two sentences.
    pub likely_cause: String,
    /// Confidence in the cause, from 0 to 1.
    pub confidence: f64,
    /// What the evidence shows, one fact per item.
    pub findings: Vec<String>,
    /// What to do next, most important first.
    pub recommendations: Vec<Recommendation>,
}

impl AnalysisBody {
    /// Checks ranges and sizes of a model's answer; an error names the field.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.confidence) || !self.confidence.is_finite() {
            return Err(format!("confidence {} is outside 0..1", self.confidence));
        }
        if self.likely_cause.trim().is_empty() {
            return Err("likely_cause is empty".into());
        }
        if self.likely_cause.len() > 4000
            || self.findings.len() > 50
            || self.recommendations.len() > 30
        {
            return Err("the analysis is larger than allowed".into());
        }
        Ok(())
    }
}

/// The offline engine's analysis: rules over the evidence.
pub fn offline(ev: &Evidence) -> AnalysisBody {
    let mut findings = Vec::new();
    let mut recs = Vec::new();
    let failing = ev.failing_probes();
    let not_recovered: Vec<&str> = failing
        .iter()
        .filter(|p| p.recovered == Some(false))
        .map(|p| p.name.as_str())
        .collect();
    let during_chaos = failing.iter().any(|p| {
        p.failed_in
            .iter()
            .any(|ph| matches!(ph, Phase::Inject | Phase::Observe))
    });
    let before = failing
        .iter()
        .any(|p| p.failed_in.contains(&Phase::SteadyState));
    let after = failing
        .iter()
        .any(|p| p.failed_in.contains(&Phase::Rollback));

    // Findings, from the data.
    for p in &ev.probes {
        if p.samples == 0 && p.skipped > 0 {
            findings.push(format!(
                "probe {} could not be evaluated here ({} sample(s) skipped){}",
                p.name,
                p.skipped,
                p.last_error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        } else if p.passed < p.samples {
            let phases: Vec<&str> = p.failed_in.iter().map(|ph| ph.as_str()).collect();
            findings.push(format!(
                "probe {} failed {} of {} samples, in {}{}{}",
                p.name,
                p.samples - p.passed,
                p.samples,
                phases.join(", "),
                match (p.first_failure_s, p.last_failure_s) {
                    (Some(a), Some(b)) if (b - a).abs() > 0.05 =>
                        format!(" (from {a:.1}s to {b:.1}s after the start)"),
                    (Some(a), _) => format!(" (at {a:.1}s after the start)"),
                    _ => String::new(),
                },
                match p.recovered {
                    Some(true) => "; it passed again afterwards",
                    Some(false) => "; it never passed again",
                    None => "",
                }
            ));
        } else if p.samples > 0 {
            findings.push(format!(
                "probe {} passed all {} samples{}",
                p.name,
                p.samples,
                p.mean_value
                    .map(|v| format!(" (mean value {v:.1})"))
                    .unwrap_or_default()
            ));
        }
    }
    if ev.probes.is_empty() {
        findings.push("the experiment had no probes, so nothing measured the steady state".into());
    }
    for r in &ev.recovery_s {
        findings.push(format!(
            "a target recovered {r:.1}s after the fault was removed"
        ));
    }
    if !ev.steps.is_empty() {
        findings.push(format!(
            "rollback: {} of {} journal step(s) verified reverted{}",
            ev.reverted,
            ev.steps.len(),
            if ev.open_steps > 0 {
                format!(", {} still open", ev.open_steps)
            } else {
                String::new()
            }
        ));
    } else {
        findings.push("nothing was injected (the journal is empty)".into());
    }
    if let Some(a) = &ev.abort_reason {
        findings.push(format!("stopped early: {a}"));
    }
    if let Some(e) = &ev.error {
        findings.push(format!("error: {e}"));
    }

    // Severity and cause, by rule, worst first.
    let kind_word = fault_effect(ev.fault);
    let (severity, cause, mut confidence): (Severity, String, f64) = if ev.open_steps > 0
        && ev.status.is_terminal()
        && !ev.steps.is_empty()
    {
        recs.push(rec(Priority::High, "Finish the rollback", "Run `chaosduck recover` and check the open journal entries in `chaosduck show`; the fault may still be active."));
        (
            Severity::Sev1,
            format!(
                "{} journal step(s) could not be reverted, so the fault may still be in place.",
                ev.open_steps
            ),
            0.9,
        )
    } else if !not_recovered.is_empty() && after {
        recs.push(rec(Priority::High, "Investigate the missing recovery", &format!("{} still failed after rollback: the system did not return to its steady state on its own. Look for state the fault left behind (stuck connections, caches, leader election).", not_recovered.join(", "))));
        (
            Severity::Sev1,
            format!(
                "The system did not recover after {kind_word} was removed: {} kept failing after rollback.",
                not_recovered.join(", ")
            ),
            0.75,
        )
    } else if ev.status == Status::Failed {
        (
            Severity::Sev2,
            format!(
                "The run failed before it could be judged{}.",
                ev.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
            0.6,
        )
    } else if before {
        recs.push(rec(Priority::High, "Fix the steady state first", "A probe failed before anything was injected; the system was not healthy, so the experiment proves nothing about the fault."));
        (
            Severity::Sev3,
            "The steady state did not hold before injection; the fault is not the cause.".into(),
            0.7,
        )
    } else if ev.verdict == Some(VerdictKind::Violated) && during_chaos {
        (
            Severity::Sev2,
            format!(
                "{} broke the hypothesis: {} failed while the fault was active and recovered afterwards, which points at missing redundancy or timeouts/retries that do not absorb it.",
                capitalise(&kind_word),
                failing
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            0.7,
        )
    } else if ev.verdict == Some(VerdictKind::Violated) {
        (Severity::Sev3, "A probe failed, but not clearly while the fault was active; it may be flaky or unrelated.".into(), 0.45)
    } else if matches!(
        ev.status,
        Status::Aborted | Status::EmergencyStopped | Status::RolledBack
    ) {
        (
            Severity::Sev3,
            format!(
                "The run ended early ({}) and was rolled back; the hypothesis was not fully tested.",
                ev.abort_reason
                    .clone()
                    .unwrap_or_else(|| ev.status.to_string())
            ),
            0.5,
        )
    } else if ev.verdict == Some(VerdictKind::Held) {
        (
            Severity::Sev4,
            format!(
                "The system absorbed {kind_word}: every probe held while the fault was active."
            ),
            0.8,
        )
    } else {
        (
            Severity::Sev4,
            "Too little evidence to judge: probes were missing or could not be evaluated.".into(),
            0.3,
        )
    };

    // Less evidence, less confidence.
    let judged: usize = ev.probes.iter().map(|p| p.samples).sum();
    if judged == 0 {
        confidence = confidence.min(0.3);
    } else if judged < 5 {
        confidence *= 0.8;
    }
    if ev.probes.iter().any(|p| p.skipped > 0) {
        confidence *= 0.9;
    }

    if ev.probes.is_empty() || judged == 0 {
        recs.push(rec(Priority::High, "Add probes", "Add an http probe on the user-facing path (mode: continuous, interval: 2s) and an edge probe for readiness, so the verdict and score have evidence."));
    }
    recs.extend(fault_recommendations(ev, severity));
    if ev.recovery_s.iter().any(|r| *r > 60.0) {
        recs.push(rec(Priority::Medium, "Shorten recovery", "Recovery took over a minute: check readiness probe delays, image pull times and startup work."));
    }
    recs.sort_by_key(|r| r.priority);
    recs.dedup_by(|a, b| a.action == b.action);
    AnalysisBody {
        severity,
        likely_cause: cause,
        confidence: (confidence * 100.0).round() / 100.0,
        findings,
        recommendations: recs,
    }
}

fn rec(priority: Priority, action: &str, detail: &str) -> Recommendation {
    Recommendation {
        priority,
        action: action.into(),
        detail: detail.into(),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn fault_effect(k: FaultKind) -> String {
    match k {
        FaultKind::PodDelete => "losing pods",
        FaultKind::NetworkLatency => "added network latency",
        FaultKind::NetworkLoss => "packet loss",
        FaultKind::CpuStress => "CPU pressure",
        FaultKind::MemoryStress => "memory pressure",
        FaultKind::NetworkPartition => "a network partition",
        FaultKind::NodeCordon => "losing node capacity",
        FaultKind::Ec2Stop => "stopped instances",
        FaultKind::RdsFailover => "a database failover",
        FaultKind::RouteBlackhole => "a blackholed route",
        FaultKind::AzOutage => "a zone outage",
    }
    .into()
}

fn fault_recommendations(ev: &Evidence, sev: Severity) -> Vec<Recommendation> {
    let broke = sev <= Severity::Sev2;
    let p = if broke { Priority::High } else { Priority::Low };
    let m = if broke {
        Priority::Medium
    } else {
        Priority::Low
    };
    match ev.fault {
        FaultKind::PodDelete => vec![
            rec(
                p,
                "Run more replicas",
                "Keep at least 2 ready replicas and a PodDisruptionBudget so one lost pod never takes the service down.",
            ),
            rec(
                m,
                "Tune readiness",
                "A readiness probe that turns ready only when the pod can serve keeps traffic off pods that are still starting.",
            ),
        ],
        FaultKind::NetworkLatency => vec![
            rec(
                p,
                "Set client timeouts below the SLO",
                "Callers should time out and retry (with a budget) before users notice; check every client of the slowed service.",
            ),
            rec(
                m,
                "Add a circuit breaker",
                "Fail fast to a fallback when the dependency is slow, instead of queueing requests.",
            ),
        ],
        FaultKind::NetworkLoss => vec![rec(
            p,
            "Retry idempotent calls",
            "Retries with jittered backoff absorb packet loss; make sure the calls are idempotent.",
        )],
        FaultKind::CpuStress => vec![
            rec(
                p,
                "Right-size CPU requests and limits",
                "Throttling under load slows every request; check requests, limits and the HorizontalPodAutoscaler's CPU target.",
            ),
            rec(
                m,
                "Check liveness probes under load",
                "A liveness probe that times out under CPU pressure restarts healthy pods; give it headroom.",
            ),
        ],
        FaultKind::MemoryStress => vec![rec(
            p,
            "Set memory limits with headroom",
            "OOM kills under pressure mean the limit is too tight for peaks; set limits from measured peaks.",
        )],
        FaultKind::NetworkPartition => vec![rec(
            p,
            "Degrade gracefully",
            "Callers need timeouts and fallbacks for an unreachable dependency; a partition should not cascade.",
        )],
        FaultKind::NodeCordon => vec![rec(
            p,
            "Keep spare node capacity",
            "Cordoning a node must leave room to schedule its workloads elsewhere; spread replicas with topology spread constraints.",
        )],
        FaultKind::Ec2Stop => vec![rec(
            p,
            "Spread instances behind a load balancer",
            "Use an Auto Scaling group across zones with health checks so a stopped instance is replaced and skipped.",
        )],
        FaultKind::RdsFailover => vec![rec(
            p,
            "Reconnect on failover",
            "Clients should use the cluster endpoint, short DNS TTLs and retry on connection errors during the switch.",
        )],
        FaultKind::RouteBlackhole => vec![rec(
            p,
            "Add a redundant path",
            "A single route is a single point of failure; add a second NAT gateway or endpoint per zone.",
        )],
        FaultKind::AzOutage => vec![rec(
            p,
            "Run in at least three zones with spare capacity",
            "Each zone's loss must leave enough capacity in the others; check load balancer zone settings.",
        )],
    }
}

/// Renders an analysis as a Markdown section, naming the engine and explaining the score.
pub fn markdown(ev: &Evidence, body: &AnalysisBody, engine: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Analysis ({engine})\n");
    let _ = writeln!(s, "- severity: **{}**", body.severity);
    let _ = writeln!(s, "- likely cause: {}", body.likely_cause);
    let _ = writeln!(s, "- confidence: {:.0}%", body.confidence * 100.0);
    let _ = writeln!(s, "\n{}\n", ev.score_explanation());
    if !body.findings.is_empty() {
        let _ = writeln!(s, "### Findings\n");
        for f in &body.findings {
            let _ = writeln!(s, "- {f}");
        }
        let _ = writeln!(s);
    }
    if !body.recommendations.is_empty() {
        let _ = writeln!(s, "### Recommendations\n");
        for r in &body.recommendations {
            let _ = writeln!(
                s,
                "- **{}** {}: {}",
                match r.priority {
                    Priority::High => "high",
                    Priority::Medium => "medium",
                    Priority::Low => "low",
                },
                r.action,
                r.detail
            );
        }
    }
    s
}
