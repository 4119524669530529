//! The evidence of a finished experiment, read from the store and condensed: which probes failed
//! when, recovery times from the journal notes, how rollback ended, and the score's inputs.
//! Both the offline engine and the prompts for the AI engines read this and nothing else.

use crate::domain::{ExperimentDoc, FaultKind, Phase, ProbeMode, Status, VerdictKind};
use crate::safety::journal::{JournalEntry, JournalState};
use crate::store::records::{Analysis, ExperimentRecord, PhaseEvent, ProbeSample};
use crate::store::{Store, StoreError};
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// Most timeline entries kept (first and last halves when longer).
const MAX_TIMELINE: usize = 60;

/// One probe's record over the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeEvidence {
    /// Probe name.
    pub name: String,
    /// http, tcp, cmd, ...
    pub kind: String,
    /// Judged samples.
    pub samples: usize,
    /// Passed samples.
    pub passed: usize,
    /// Samples that could not be evaluated here.
    pub skipped: usize,
    /// Phases in which it failed.
    pub failed_in: Vec<Phase>,
    /// Seconds after the start of the first failure.
    pub first_failure_s: Option<f64>,
    /// Seconds after the start of the last failure.
    pub last_failure_s: Option<f64>,
    /// Whether it passed again after its last failure (recovered within the run).
    pub recovered: Option<bool>,
    /// The last error message (truncated, redacted).
    pub last_error: Option<String>,
    /// Mean measured value of passing samples (latency in ms, ...), when there is one.
    pub mean_value: Option<f64>,
}

/// One journal step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepEvidence {
    /// Order.
    pub seq: u32,
    /// What it did.
    pub summary: String,
    /// intent, applied, reverted, failed.
    pub state: String,
    /// Undo attempts.
    pub attempts: u32,
    /// Undo error.
    pub error: Option<String>,
    /// What the verified undo observed.
    pub note: Option<String>,
    /// Recovery time read from the note ("recovered in 4.2s").
    pub recovery_s: Option<f64>,
}

/// The score's inputs, recomputed from the evidence to explain the stored number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScoreInputs {
    /// Mean probe pass rate (P).
    pub p: f64,
    /// End-of-test recovery (E): 1, 0, or P when there is no end-of-test probe.
    pub e: f64,
    /// Whether E came from end-of-test probes.
    pub e_measured: bool,
    /// Share of journal steps verified reverted (R).
    pub r: f64,
}

/// Everything an analysis may use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// Experiment id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Fault kind.
    pub fault: FaultKind,
    /// One-line target.
    pub target: String,
    /// Namespace, for Kubernetes faults.
    pub namespace: Option<String>,
    /// How long the fault was to be held, in seconds.
    pub duration_s: f64,
    /// Final status.
    pub status: Status,
    /// Verdict, if any.
    pub verdict: Option<VerdictKind>,
    /// The verdict's reasons.
    pub verdict_reasons: Vec<String>,
    /// The stored resilience score (documented formula), if any.
    pub score: Option<u8>,
    /// Its inputs, recomputed.
    pub score_inputs: Option<ScoreInputs>,
    /// The hypothesis text.
    pub hypothesis: Option<String>,
    /// Why it stopped early.
    pub abort_reason: Option<String>,
    /// The error, for failed runs.
    pub error: Option<String>,
    /// Seconds from start to finish.
    pub elapsed_s: Option<f64>,
    /// Per probe.
    pub probes: Vec<ProbeEvidence>,
    /// Journal steps.
    pub steps: Vec<StepEvidence>,
    /// Steps verified reverted.
    pub reverted: usize,
    /// Steps whose undo failed or never ran.
    pub open_steps: usize,
    /// Recovery times from the journal notes, in seconds.
    pub recovery_s: Vec<f64>,
    /// The phase timeline: (seconds after start, message), bounded.
    pub timeline: Vec<(f64, String)>,
}

static RECOVERED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:recovered|ready|back|restored)\s+(?:again\s+)?(?:in|after)\s+([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m)\b")
        .unwrap_or_else(|e| panic!("built-in regex: {e}"))
});

/// Recovery time in seconds from a journal note such as "recovered in 4.2s".
pub fn recovery_from_note(note: &str) -> Option<f64> {
    let c = RECOVERED.captures(note)?;
    let v: f64 = c.get(1)?.as_str().parse().ok()?;
    Some(match c.get(2)?.as_str() {
        "ms" => v / 1000.0,
        "m" => v * 60.0,
        _ => v,
    })
}

/// Loads the evidence of one experiment (`id` may be a unique prefix).
pub fn load(store: &Store, id: &str) -> Result<(Evidence, Vec<Analysis>), StoreError> {
    let id = store.resolve_id(id)?;
    let rec = store.experiment(&id)?;
    let events = store.events(&id)?;
    let journal = store.journal(&id)?;
    let samples = store.samples(&id)?;
    let analyses = store.analyses(&id)?;
    Ok((build(&rec, &events, &journal, &samples), analyses))
}

/// Condenses a record and its data.
pub fn build(
    rec: &ExperimentRecord,
    events: &[PhaseEvent],
    journal: &[JournalEntry],
    samples: &[ProbeSample],
) -> Evidence {
    let start = rec
        .started_at
        .or_else(|| events.first().map(|e| e.at))
        .unwrap_or(rec.created_at);
    let rel = |at: i64| (at - start) as f64 / 1000.0;
    let probes = probe_evidence(&rec.doc, samples, &rel);
    let steps: Vec<StepEvidence> = journal
        .iter()
        .map(|e| StepEvidence {
            seq: e.seq,
            summary: super::redact::redact(&e.summary),
            state: e.state.to_string(),
            attempts: e.attempts,
            error: e.error.as_deref().map(super::redact::redact),
            note: e.note.as_deref().map(super::redact::redact),
            recovery_s: e.note.as_deref().and_then(recovery_from_note),
        })
        .collect();
    let reverted = journal
        .iter()
        .filter(|e| e.state == JournalState::Reverted)
        .count();
    let recovery_s: Vec<f64> = steps.iter().filter_map(|s| s.recovery_s).collect();
    let mut timeline: Vec<(f64, String)> = events
        .iter()
        .map(|e| (rel(e.at), super::redact::redact(&e.message)))
        .collect();
    if timeline.len() > MAX_TIMELINE {
        let tail = timeline.split_off(timeline.len() - MAX_TIMELINE / 2);
        timeline.truncate(MAX_TIMELINE / 2);
        timeline.push((f64::NAN, "… (entries left out) …".into()));
        timeline.extend(tail);
    }
    let score_inputs = score_inputs(rec, samples, reverted, journal.len());
    Evidence {
        id: rec.id.clone(),
        name: rec.name.clone(),
        fault: rec.fault,
        target: rec.target.clone(),
        namespace: rec.doc.spec.target.namespace().map(str::to_string),
        duration_s: rec.doc.spec.duration.get().as_secs_f64(),
        status: rec.status,
        verdict: rec.verdict.as_ref().map(|v| v.kind),
        verdict_reasons: rec
            .verdict
            .as_ref()
            .map(|v| v.reasons.iter().map(|r| super::redact::redact(r)).collect())
            .unwrap_or_default(),
        score: rec.verdict.as_ref().and_then(|v| v.score),
        score_inputs,
        hypothesis: rec.doc.spec.hypothesis.clone(),
        abort_reason: rec.abort_reason.as_deref().map(super::redact::redact),
        error: rec.error.as_deref().map(super::redact::redact),
        elapsed_s: rec.finished_at.map(|f| rel(f).max(0.0)),
        probes,
        open_steps: journal.len() - reverted,
        steps,
        reverted,
        recovery_s,
        timeline,
    }
}

fn probe_evidence(
    doc: &ExperimentDoc,
    samples: &[ProbeSample],
    rel: &dyn Fn(i64) -> f64,
) -> Vec<ProbeEvidence> {
    let mut names: Vec<String> = doc.spec.probes.iter().map(|p| p.name.clone()).collect();
    for s in samples {
        if !names.contains(&s.probe) {
            names.push(s.probe.clone());
        }
    }
    names
        .into_iter()
        .map(|name| {
            let mine: Vec<&ProbeSample> = samples.iter().filter(|s| s.probe == name).collect();
            let judged: Vec<&&ProbeSample> = mine.iter().filter(|s| !s.skipped).collect();
            let failed: Vec<&&&ProbeSample> = judged.iter().filter(|s| !s.passed).collect();
            let mut failed_in: Vec<Phase> = failed.iter().map(|s| s.phase).collect();
            failed_in.sort();
            failed_in.dedup();
            let last_fail_at = failed.iter().map(|s| s.at).max();
            let recovered = last_fail_at.map(|t| judged.iter().any(|s| s.passed && s.at > t));
            let values: Vec<f64> = judged
                .iter()
                .filter(|s| s.passed)
                .filter_map(|s| s.value)
                .filter(|v| v.is_finite())
                .collect();
            ProbeEvidence {
                kind: mine.first().map(|s| s.kind.clone()).unwrap_or_else(|| {
                    doc.spec
                        .probes
                        .iter()
                        .find(|p| p.name == name)
                        .and_then(|p| p.kinds().first().map(|k| k.to_string()))
                        .unwrap_or_default()
                }),
                samples: judged.len(),
                passed: judged.len() - failed.len(),
                skipped: mine.len() - judged.len(),
                failed_in,
                first_failure_s: failed.iter().map(|s| s.at).min().map(rel),
                last_failure_s: last_fail_at.map(rel),
                recovered,
                last_error: mine
                    .iter()
                    .rev()
                    .find_map(|s| s.error.as_deref())
                    .map(|e| super::nl::truncate_chars(&super::redact::redact(e), 200)),
                mean_value: (!values.is_empty())
                    .then(|| values.iter().sum::<f64>() / values.len() as f64),
                name,
            }
        })
        .collect()
}

fn score_inputs(
    rec: &ExperimentRecord,
    samples: &[ProbeSample],
    reverted: usize,
    steps: usize,
) -> Option<ScoreInputs> {
    let v = rec.verdict.as_ref()?;
    let rates: Vec<f64> = v.probes.iter().filter_map(|p| p.pass_rate).collect();
    if rates.is_empty() {
        return None;
    }
    let p = rates.iter().sum::<f64>() / rates.len() as f64;
    let end_probes: Vec<&str> = rec
        .doc
        .spec
        .probes
        .iter()
        .filter(|p| matches!(p.mode, ProbeMode::Eot | ProbeMode::Edge))
        .map(|p| p.name.as_str())
        .collect();
    let mut end_ok: Option<bool> = None;
    for s in samples.iter().filter(|s| {
        !s.skipped && s.phase == Phase::Rollback && end_probes.contains(&s.probe.as_str())
    }) {
        end_ok = Some(end_ok.unwrap_or(true) && s.passed);
    }
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
    Some(ScoreInputs {
        p,
        e,
        e_measured: end_ok.is_some(),
        r,
    })
}

impl Evidence {
    /// How the stored score follows from the documented formula, in one paragraph. The number
    /// is the stored one; the explanation never changes it.
    pub fn score_explanation(&self) -> String {
        match (self.score, &self.score_inputs) {
            (None, _) => "No resilience score: no probe produced a judged sample, and without evidence there is no number. Add probes (an http check of the user-facing path is the most telling).".into(),
            (Some(s), Some(i)) => format!(
                "Resilience score {s}/100 by the documented formula 100 × (0.5 × P + 0.3 × E + 0.2 × R): probes passed {:.0}% of their samples (P = {:.2}), {} (E = {:.2}), and {} of {} journal steps were verified reverted (R = {:.2}).",
                i.p * 100.0,
                i.p,
                if i.e_measured {
                    if i.e >= 1.0 { "every end-of-test check passed after rollback" } else { "an end-of-test check failed after rollback" }
                } else {
                    "no end-of-test probe ran, so E takes P's value"
                },
                i.e,
                self.reverted,
                self.steps.len(),
                i.r
            ),
            (Some(s), None) => format!("Resilience score {s}/100 by the documented formula 100 × (0.5 × P + 0.3 × E + 0.2 × R)."),
        }
    }

    /// Probes that failed at least once.
    pub fn failing_probes(&self) -> Vec<&ProbeEvidence> {
        self.probes
            .iter()
            .filter(|p| p.passed < p.samples)
            .collect()
    }
}
