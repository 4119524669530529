//! Suggestions (experiments worth running next, each a valid document) and the resilience trend
//! per namespace, both from the stored experiments.

use crate::domain::fault::{CpuStress, NetworkLatency, NetworkLoss, PodDelete};
use crate::domain::target::PodTarget;
use crate::domain::{
    API_VERSION, Amount, ExperimentDoc, ExperimentSpec, FaultKind, FaultSpec, HumanDuration,
    LabelSelector, Metadata, SafetySpec, Target,
};
use crate::store::records::ExperimentRecord;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One point of the trend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrendPoint {
    /// Experiment id.
    pub id: String,
    /// When it finished (unix ms).
    pub at: i64,
    /// Fault kind.
    pub fault: FaultKind,
    /// Its score.
    pub score: u8,
}

/// The trend of one namespace (or AWS, for AWS faults).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trend {
    /// Namespace, or `aws`.
    pub scope: String,
    /// Scored experiments, oldest first; one per experiment (re-analysis adds nothing).
    pub points: Vec<TrendPoint>,
    /// Mean score.
    pub mean: Option<f64>,
    /// Mean of the newer half minus the mean of the older half.
    pub change: Option<f64>,
}

/// The trend per scope, from stored experiments that have a score.
pub fn trends(recs: &[ExperimentRecord], namespace: Option<&str>) -> Vec<Trend> {
    let mut by: BTreeMap<String, Vec<TrendPoint>> = BTreeMap::new();
    for r in recs {
        let scope = r
            .doc
            .spec
            .target
            .namespace()
            .map(str::to_string)
            .unwrap_or_else(|| {
                if r.fault.is_kubernetes() {
                    "cluster".into()
                } else {
                    "aws".into()
                }
            });
        if namespace.is_some_and(|n| n != scope) {
            continue;
        }
        if let Some(score) = r.verdict.as_ref().and_then(|v| v.score) {
            by.entry(scope).or_default().push(TrendPoint {
                id: r.id.clone(),
                at: r.finished_at.unwrap_or(r.created_at),
                fault: r.fault,
                score,
            });
        }
    }
    by.into_iter()
        .map(|(scope, mut points)| {
            points.sort_by_key(|p| p.at);
            let mean = |ps: &[TrendPoint]| {
                (!ps.is_empty())
                    .then(|| ps.iter().map(|p| f64::from(p.score)).sum::<f64>() / ps.len() as f64)
            };
            let half = points.len() / 2;
            let change = if points.len() >= 2 {
                match (mean(&points[..half]), mean(&points[half..])) {
                    (Some(a), Some(b)) => Some(b - a),
                    _ => None,
                }
            } else {
                None
            };
            Trend {
                scope,
                mean: mean(&points),
                change,
                points,
            }
        })
        .collect()
}

/// A suggested experiment with why.
#[derive(Clone, Debug, Serialize)]
pub struct Suggestion {
    /// Why it is worth running.
    pub why: String,
    /// The document (vetted by the caller).
    pub doc: ExperimentDoc,
}

/// Offline suggestions for a namespace: fault kinds not yet tried on the selectors seen in past
/// experiments, weakest (lowest score) first; a starter set when nothing was run yet.
pub fn offline(recs: &[ExperimentRecord], namespace: Option<&str>) -> Vec<Suggestion> {
    let mut tried: BTreeMap<(String, String), BTreeSet<FaultKind>> = BTreeMap::new();
    let mut weakest: BTreeMap<(String, String), u8> = BTreeMap::new();
    for r in recs {
        if let Target::Pods(p) = &r.doc.spec.target {
            if namespace.is_some_and(|n| n != p.namespace) {
                continue;
            }
            let Some(sel) = &p.selector else { continue };
            let key = (p.namespace.clone(), sel.to_string());
            tried.entry(key.clone()).or_default().insert(r.fault);
            if let Some(s) = r.verdict.as_ref().and_then(|v| v.score) {
                let w = weakest.entry(key).or_insert(s);
                *w = (*w).min(s);
            }
        }
    }
    let mut keys: Vec<(String, String)> = tried.keys().cloned().collect();
    keys.sort_by_key(|k| weakest.get(k).copied().unwrap_or(101));
    let mut out = Vec::new();
    for (ns, sel) in keys {
        let done = &tried[&(ns.clone(), sel.clone())];
        for kind in [
            FaultKind::PodDelete,
            FaultKind::NetworkLatency,
            FaultKind::NetworkLoss,
            FaultKind::CpuStress,
        ] {
            if done.contains(&kind) {
                continue;
            }
            if let Some(doc) = starter(kind, &ns, &sel) {
                out.push(Suggestion {
                    why: format!(
                        "{sel} in {ns} was tested with {} but never with {kind}{}",
                        done.iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        weakest
                            .get(&(ns.clone(), sel.clone()))
                            .map(|s| format!("; its lowest score so far is {s}"))
                            .unwrap_or_default()
                    ),
                    doc,
                });
            }
        }
    }
    if out.is_empty() {
        let ns = namespace.unwrap_or("default");
        for kind in [FaultKind::PodDelete, FaultKind::NetworkLatency] {
            if let Some(doc) = starter(kind, ns, "app=CHANGE-ME") {
                out.push(Suggestion {
                    why: format!("no experiment in {ns} yet; {kind} is the usual first test (replace app=CHANGE-ME with your service's label)"),
                    doc,
                });
            }
        }
    }
    out.truncate(5);
    out
}

fn starter(kind: FaultKind, ns: &str, sel: &str) -> Option<ExperimentDoc> {
    let selector = LabelSelector::parse(&sel.to_lowercase()).ok()?;
    let fault = match kind {
        FaultKind::PodDelete => FaultSpec::PodDelete(PodDelete::default()),
        FaultKind::NetworkLatency => FaultSpec::NetworkLatency(NetworkLatency {
            latency: HumanDuration::new(std::time::Duration::from_millis(200)),
            jitter: None,
            correlation: None,
            interface: None,
            destination_cidr: None,
            ports: Vec::new(),
            injection: Default::default(),
            container: None,
        }),
        FaultKind::NetworkLoss => FaultSpec::NetworkLoss(NetworkLoss {
            percent: crate::domain::Percent(10.0),
            correlation: None,
            interface: None,
            destination_cidr: None,
            ports: Vec::new(),
            injection: Default::default(),
            container: None,
        }),
        FaultKind::CpuStress => FaultSpec::CpuStress(CpuStress {
            workers: 1,
            load: crate::domain::Percent(80.0),
            injection: Default::default(),
            container: None,
        }),
        _ => return None,
    };
    let target = Target::Pods(PodTarget {
        namespace: ns.to_string(),
        selector: Some(selector.clone()),
        names: Vec::new(),
        count: Some(Amount::Count(1)),
        container: None,
    });
    let duration = HumanDuration::from_secs(60);
    let app: String = selector
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = format!(
        "{}-{}",
        app.trim_matches('-'),
        kind.as_str().replace('_', "-")
    );
    let name: String = name
        .chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string();
    Some(ExperimentDoc {
        api_version: API_VERSION.into(),
        kind: "Experiment".into(),
        metadata: Metadata {
            name,
            labels: BTreeMap::from([("chaosduck.io/generated-by".into(), "ai-offline".into())]),
            description: None,
        },
        spec: ExperimentSpec {
            hypothesis: Some(super::hypothesis::template(kind, &target, &fault, duration)),
            fault,
            target,
            duration,
            safety: SafetySpec::default(),
            probes: Vec::new(),
            ai: None,
        },
    })
}
