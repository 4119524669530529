//! Steady-state review before injection: pre-existing anomalies around the target (pods not
//! ready, restarts, workloads below their desired count, nodes cordoned or not ready, Services
//! without ready endpoints, faults already active) and in the steady-state probes (failing, or
//! close to their threshold). Pure input → output: [`TargetContext`] is built from a topology
//! snapshot ([`context_from_topology`]); [`offline`] is the deterministic heuristic and
//! [`super::assistant::review`] asks a model for the same structured findings.

use crate::domain::ExperimentDoc;
use crate::store::records::ProbeSample;
use crate::topology::k8s::{K8sTopology, PodInfo};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One pod around the target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PodFacts {
    /// Name.
    pub name: String,
    /// Phase.
    pub phase: String,
    /// Ready condition.
    pub ready: bool,
    /// Container restarts.
    pub restarts: i32,
    /// Node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// ChaosDuck faults already on it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
}

/// The workload owning target pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkloadFacts {
    /// Deployment, StatefulSet, DaemonSet, ReplicaSet.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Desired replicas.
    pub desired: i32,
    /// Ready replicas.
    pub ready: i32,
}

/// A Service selecting target pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceFacts {
    /// Name.
    pub name: String,
    /// Pods it selects.
    pub pods: usize,
    /// Of those, ready.
    pub ready: usize,
}

/// A node hosting target pods (or cordoned anywhere in the cluster).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeFacts {
    /// Name.
    pub name: String,
    /// Zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Not cordoned.
    pub schedulable: bool,
    /// Ready condition.
    pub ready: bool,
    /// Target pods on it.
    pub target_pods: usize,
}

/// What is known around an experiment's target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetContext {
    /// The target namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Whether a topology was available at all.
    pub known: bool,
    /// The target pods.
    pub pods: Vec<PodFacts>,
    /// Their workloads.
    pub workloads: Vec<WorkloadFacts>,
    /// Services selecting them.
    pub services: Vec<ServiceFacts>,
    /// Nodes hosting them, then other cordoned or not-ready nodes.
    pub nodes: Vec<NodeFacts>,
    /// Zones the target pods run in.
    pub zones: Vec<String>,
    /// Whether a PodDisruptionBudget covers the target (`None`: not known from the topology).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdb: Option<bool>,
}

fn facts(p: &PodInfo) -> PodFacts {
    PodFacts {
        name: p.name.clone(),
        phase: p.phase.clone(),
        ready: p.ready,
        restarts: p.restarts,
        node: p.node.clone(),
        faults: p.faults.clone(),
    }
}

/// The context of the target pods `pods` (names, as resolved from the target's selector) in
/// `namespace`, from a topology snapshot.
pub fn context_from_topology(
    topo: &K8sTopology,
    namespace: &str,
    pods: &[String],
) -> TargetContext {
    let want: BTreeSet<&str> = pods.iter().map(String::as_str).collect();
    let mut ctx = TargetContext {
        namespace: Some(namespace.to_string()),
        known: true,
        ..Default::default()
    };
    let Some(ns) = topo.namespaces.iter().find(|n| n.name == namespace) else {
        return ctx;
    };
    let mut ready_of: BTreeMap<&str, bool> = BTreeMap::new();
    for w in &ns.workloads {
        let mine: Vec<&PodInfo> = w
            .pods
            .iter()
            .filter(|p| want.contains(p.name.as_str()))
            .collect();
        for p in &w.pods {
            ready_of.insert(&p.name, p.ready);
        }
        if mine.is_empty() {
            continue;
        }
        ctx.pods.extend(mine.into_iter().map(facts));
        ctx.workloads.push(WorkloadFacts {
            kind: w.kind.clone(),
            name: w.name.clone(),
            desired: w.desired,
            ready: w.ready,
        });
    }
    for p in &ns.bare_pods {
        ready_of.insert(&p.name, p.ready);
        if want.contains(p.name.as_str()) {
            ctx.pods.push(facts(p));
        }
    }
    for s in &ns.services {
        if s.pods.iter().any(|p| want.contains(p.as_str())) {
            ctx.services.push(ServiceFacts {
                name: s.name.clone(),
                pods: s.pods.len(),
                ready: s
                    .pods
                    .iter()
                    .filter(|p| ready_of.get(p.as_str()).copied().unwrap_or(false))
                    .count(),
            });
        }
    }
    let mut on: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &ctx.pods {
        if let Some(n) = &p.node {
            *on.entry(n.as_str()).or_default() += 1;
        }
    }
    let mut zones = BTreeSet::new();
    for n in &topo.nodes {
        let here = on.get(n.name.as_str()).copied().unwrap_or(0);
        if here > 0
            && let Some(z) = &n.zone
        {
            zones.insert(z.clone());
        }
        if here > 0 || !n.schedulable || !n.ready {
            ctx.nodes.push(NodeFacts {
                name: n.name.clone(),
                zone: n.zone.clone(),
                schedulable: n.schedulable,
                ready: n.ready,
                target_pods: here,
            });
        }
    }
    ctx.zones = zones.into_iter().collect();
    ctx
}

/// How serious a finding is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum FindingSeverity {
    /// Worth knowing.
    Info,
    /// Could confound the result; look before running.
    Warning,
    /// The steady state is already broken: running now would measure the wrong thing.
    Critical,
}

impl std::fmt::Display for FindingSeverity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FindingSeverity::Info => "info",
            FindingSeverity::Warning => "warning",
            FindingSeverity::Critical => "critical",
        })
    }
}

/// One pre-existing anomaly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// How serious.
    pub severity: FindingSeverity,
    /// What it is about (`pod shop/x`, `probe latency`, `node a`).
    pub subject: String,
    /// What is wrong and why it matters for this experiment, in one or two sentences.
    pub message: String,
}

/// The review of an experiment's steady state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Review {
    /// Findings, most serious first.
    pub findings: Vec<Finding>,
    /// No critical finding (decided by the program, never by a model).
    pub proceed: bool,
    /// One paragraph for the operator.
    pub summary: String,
}

/// The structured answer asked of a model.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ReviewToolInput {
    /// Pre-existing anomalies, most serious first (at most 20).
    pub findings: Vec<Finding>,
    /// One short paragraph: is the steady state sound enough to inject now?
    pub summary: String,
}

/// Share of a probe's threshold above which it counts as near it.
pub const NEAR_THRESHOLD: f64 = 0.8;

fn push(v: &mut Vec<Finding>, severity: FindingSeverity, subject: String, message: String) {
    v.push(Finding {
        severity,
        subject,
        message,
    });
}

/// The deterministic review.
pub fn offline(doc: &ExperimentDoc, ctx: &TargetContext, samples: &[ProbeSample]) -> Review {
    use FindingSeverity::*;
    let mut f = Vec::new();
    let ns = ctx.namespace.as_deref().unwrap_or("-");
    let kind = doc.spec.fault.kind();
    if ctx.known && ctx.pods.is_empty() && doc.spec.target.namespace().is_some() {
        push(
            &mut f,
            Critical,
            "target".into(),
            format!("no pod in {ns} matches the target; there is nothing to inject into"),
        );
    }
    for p in &ctx.pods {
        let subject = format!("pod {ns}/{}", p.name);
        if !p.faults.is_empty() {
            push(
                &mut f,
                Critical,
                subject.clone(),
                format!(
                    "already carries a ChaosDuck fault ({}); results would mix two experiments",
                    p.faults.join(", ")
                ),
            );
        }
        if !p.ready {
            push(
                &mut f,
                Critical,
                subject.clone(),
                format!(
                    "is not ready (phase {}); the steady state is already broken, so the fault would not be the cause of what you see",
                    p.phase
                ),
            );
        }
        if p.restarts >= 3 {
            push(
                &mut f,
                Warning,
                subject,
                format!(
                    "has restarted {} times; a crash loop or a failing liveness probe would confound the result",
                    p.restarts
                ),
            );
        }
    }
    for w in &ctx.workloads {
        let subject = format!("{} {ns}/{}", w.kind, w.name);
        if w.ready == 0 && w.desired > 0 {
            push(
                &mut f,
                Critical,
                subject,
                format!("has no ready replica (0/{})", w.desired),
            );
        } else if w.ready < w.desired {
            push(
                &mut f,
                Warning,
                subject,
                format!(
                    "is below its desired count ({}/{} ready); it starts the experiment with less headroom",
                    w.ready, w.desired
                ),
            );
        } else if w.desired == 1 && kind.as_str() == "pod_delete" {
            push(&mut f, Warning, subject, "runs a single replica: deleting it takes the service down until the replacement is ready".into());
        }
    }
    for s in &ctx.services {
        let subject = format!("service {ns}/{}", s.name);
        if s.ready == 0 {
            push(
                &mut f,
                Critical,
                subject,
                format!("has no ready endpoint ({} pods selected)", s.pods),
            );
        } else if s.ready < s.pods {
            push(
                &mut f,
                Warning,
                subject,
                format!("has {}/{} ready endpoints", s.ready, s.pods),
            );
        }
    }
    for n in &ctx.nodes {
        let subject = format!("node {}", n.name);
        if !n.ready {
            let sev = if n.target_pods > 0 { Critical } else { Warning };
            push(
                &mut f,
                sev,
                subject.clone(),
                format!("is not ready ({} target pod(s) on it)", n.target_pods),
            );
        }
        if !n.schedulable {
            push(
                &mut f,
                Warning,
                subject,
                "is cordoned: replacement pods have less room to schedule".into(),
            );
        }
    }
    if ctx.pods.len() > 1 {
        let hosts: BTreeSet<&str> = ctx.pods.iter().filter_map(|p| p.node.as_deref()).collect();
        if hosts.len() == 1 {
            push(
                &mut f,
                Info,
                "placement".into(),
                format!(
                    "all {} target pods run on one node ({}); a node failure would take them all",
                    ctx.pods.len(),
                    hosts.iter().next().copied().unwrap_or("-")
                ),
            );
        } else if ctx.zones.len() == 1 {
            push(
                &mut f,
                Info,
                "placement".into(),
                format!("all target pods run in one zone ({})", ctx.zones[0]),
            );
        }
    }
    if doc.spec.probes.is_empty() {
        push(
            &mut f,
            Warning,
            "probes".into(),
            "the experiment defines no probes: there is no steady state to compare against".into(),
        );
    }
    for s in samples {
        let subject = format!("probe {}", s.probe);
        if s.skipped {
            push(
                &mut f,
                Info,
                subject,
                format!(
                    "could not be evaluated here: {}",
                    s.error.as_deref().unwrap_or("unavailable")
                ),
            );
        } else if !s.passed {
            push(
                &mut f,
                Critical,
                subject,
                format!(
                    "already fails before injection ({}); the start-of-test check would stop the run",
                    s.error.as_deref().unwrap_or("failed")
                ),
            );
        } else if let Some(limit) = max_latency_ms(doc, &s.probe)
            && let Some(v) = s.value
            && v >= limit * NEAR_THRESHOLD
        {
            push(
                &mut f,
                Warning,
                subject,
                format!(
                    "passes at {v:.0} ms, {:.0}% of its {limit:.0} ms limit: a little extra latency will fail it",
                    v / limit * 100.0
                ),
            );
        }
    }
    finish(f, None)
}

fn max_latency_ms(doc: &ExperimentDoc, probe: &str) -> Option<f64> {
    let p = doc.spec.probes.iter().find(|p| p.name == probe)?;
    let d = p.http.as_ref()?.max_latency?;
    Some(d.get().as_secs_f64() * 1000.0).filter(|v| *v > 0.0)
}

/// Orders the findings and decides `proceed`; `summary` overrides the generated one.
pub fn finish(mut findings: Vec<Finding>, summary: Option<String>) -> Review {
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    let (c, w) = (
        count(FindingSeverity::Critical),
        count(FindingSeverity::Warning),
    );
    let proceed = c == 0;
    let summary = summary.unwrap_or_else(|| match (c, w) {
        (0, 0) => "The steady state looks sound: no pre-existing anomaly around the target.".into(),
        (0, w) => format!("No blocker, but {w} warning(s): read them before injecting."),
        (c, _) => format!("{c} critical finding(s): the steady state is already broken; fix them or the result will not mean what it says."),
    });
    Review {
        findings,
        proceed,
        summary,
    }
}

/// Merges a model's findings with the offline ones: every offline critical finding stays, so a
/// model can add concerns but never talk one away.
pub fn merge(model: ReviewToolInput, offline: &Review) -> Result<Review, String> {
    if model.findings.len() > 20 {
        return Err(format!("{} findings (at most 20)", model.findings.len()));
    }
    let clean = |s: &str, n: usize| super::nl::truncate_chars(&super::redact::redact(s.trim()), n);
    let mut findings: Vec<Finding> = model
        .findings
        .into_iter()
        .filter(|f| !f.message.trim().is_empty())
        .map(|f| Finding {
            severity: f.severity,
            subject: clean(&f.subject, 200),
            message: clean(&f.message, 1000),
        })
        .collect();
    for o in offline
        .findings
        .iter()
        .filter(|f| f.severity == FindingSeverity::Critical)
    {
        if !findings
            .iter()
            .any(|m| m.severity == FindingSeverity::Critical && m.subject == o.subject)
        {
            findings.push(o.clone());
        }
    }
    let summary = clean(&model.summary, 2000);
    Ok(finish(findings, (!summary.is_empty()).then_some(summary)))
}

/// The review as text lines (for the CLI and logs).
pub fn render(r: &Review) -> String {
    let mut s = String::new();
    for f in &r.findings {
        s.push_str(&format!(
            "{:<8} {}: {}\n",
            f.severity.to_string().to_uppercase(),
            f.subject,
            f.message
        ));
    }
    s.push_str(&format!(
        "{} {}\n",
        if r.proceed { "PROCEED" } else { "HOLD" },
        r.summary
    ));
    s
}
