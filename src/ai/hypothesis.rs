//! Hypothesis templates per fault kind: a testable sentence from the fault, its target and the
//! topology around it. The offline engine uses them; the AI engines are asked for the same shape.

use super::review::TargetContext;
use crate::domain::{FaultKind, FaultSpec, HumanDuration, Target};

/// What is known around the target (from the topology or the cluster view), all optional.
#[derive(Clone, Debug, Default)]
pub struct Surroundings {
    /// Ready replicas behind the target's selector.
    pub replicas: Option<u32>,
    /// Whether a PodDisruptionBudget covers the target.
    pub pdb: Option<bool>,
    /// Services that call the target.
    pub callers: Vec<String>,
    /// The owning workloads, e.g. `Deployment checkout (3/3 ready)`.
    pub workloads: Vec<String>,
    /// Services selecting the target pods.
    pub services: Vec<String>,
    /// Nodes the target pods run on.
    pub nodes: usize,
    /// Zones the target pods run in.
    pub zones: Vec<String>,
}

impl Surroundings {
    /// What a topology snapshot says around the target.
    pub fn from_context(c: &TargetContext) -> Surroundings {
        let ready: i32 = c.workloads.iter().map(|w| w.ready).sum();
        let hosts: std::collections::BTreeSet<&str> =
            c.pods.iter().filter_map(|p| p.node.as_deref()).collect();
        Surroundings {
            replicas: (!c.workloads.is_empty()).then(|| u32::try_from(ready).unwrap_or(0)),
            pdb: c.pdb,
            callers: Vec::new(),
            workloads: c
                .workloads
                .iter()
                .map(|w| format!("{} {} ({}/{} ready)", w.kind, w.name, w.ready, w.desired))
                .collect(),
            services: c.services.iter().map(|s| s.name.clone()).collect(),
            nodes: hosts.len(),
            zones: c.zones.clone(),
        }
    }

    /// One clause on the spread, e.g. ` spread over 3 nodes in 2 zones`.
    fn spread(&self) -> String {
        match (self.nodes, self.zones.len()) {
            (0, _) => String::new(),
            (1, _) => " (all on one node)".into(),
            (n, 0 | 1) => format!(" (spread over {n} nodes in one zone)"),
            (n, z) => format!(" (spread over {n} nodes in {z} zones)"),
        }
    }
}

/// A hypothesis for a planned experiment, without topology.
pub fn template(
    kind: FaultKind,
    target: &Target,
    fault: &FaultSpec,
    hold: HumanDuration,
) -> String {
    with_surroundings(kind, target, fault, hold, &Surroundings::default())
}

/// A hypothesis that uses what is known around the target.
pub fn with_surroundings(
    kind: FaultKind,
    target: &Target,
    fault: &FaultSpec,
    hold: HumanDuration,
    s: &Surroundings,
) -> String {
    let who = match target {
        Target::Pods(p) => match &p.selector {
            Some(sel) => format!("the {sel} pods in {}", p.namespace),
            None => format!("the named pods in {}", p.namespace),
        },
        other => other.summary(),
    };
    let callers = if !s.callers.is_empty() {
        s.callers.join(", ")
    } else if !s.services.is_empty() {
        format!("clients of Service {}", s.services.join(", "))
    } else {
        "its callers".to_string()
    };
    let replicas = if !s.workloads.is_empty() {
        format!(" of {}{}", s.workloads.join(", "), s.spread())
    } else {
        match s.replicas {
            Some(n) if n > 1 => format!(" ({n} ready replicas)"),
            _ => String::new(),
        }
    };
    match (kind, fault) {
        (FaultKind::PodDelete, _) if s.replicas == Some(1) => format!(
            "When the only pod of {who}{replicas} is deleted, its controller replaces it and it is ready again within 60s; {callers} see errors only until then."
        ),
        (FaultKind::PodDelete, _) => format!(
            "When {who}{replicas} lose pods, their controller replaces them and they are ready again within 60s; {callers} keep answering meanwhile{}.",
            if s.pdb == Some(true) {
                " and the PodDisruptionBudget is respected"
            } else {
                ""
            }
        ),
        (FaultKind::NetworkLatency, FaultSpec::NetworkLatency(l)) => format!(
            "With {} of added latency on {who}{replicas} for {hold}, {callers} stay within their timeouts and error rates stay at the steady-state level; latency recovers as soon as the fault is removed.",
            l.latency
        ),
        (FaultKind::NetworkLoss, FaultSpec::NetworkLoss(l)) => format!(
            "With {}% packet loss on {who}{replicas} for {hold}, retries absorb the loss: {callers} see no more errors than in the steady state.",
            l.percent.get()
        ),
        (FaultKind::CpuStress, FaultSpec::CpuStress(c)) => format!(
            "With {} CPU worker(s) at {}% load in {who}{replicas} for {hold}, requests slow down but keep succeeding, and no pod is restarted by a failing liveness probe.",
            c.workers,
            c.load.get()
        ),
        (FaultKind::MemoryStress, FaultSpec::MemoryStress(m)) => format!(
            "With {} allocated per worker in {who}{replicas} for {hold}, the pods stay within their limits (or are OOM-killed and replaced cleanly) and the service keeps answering.",
            m.size
        ),
        (FaultKind::NetworkPartition, _) => format!(
            "With {who}{replicas} cut off from the network for {hold}, {callers} degrade gracefully (timeouts, fallbacks, circuit breakers) instead of failing, and recover without intervention once the partition is lifted."
        ),
        (FaultKind::NodeCordon, FaultSpec::NodeCordon(n)) => format!(
            "With {who} cordoned{} for {hold}, workloads stay available on the remaining nodes and new pods schedule elsewhere.",
            if n.drain { " and drained" } else { "" }
        ),
        (FaultKind::Ec2Stop, _) => format!(
            "With {who} stopped for {hold}, traffic shifts to the remaining instances behind the load balancer and the service keeps answering; the instances come back healthy after the restart."
        ),
        (FaultKind::RdsFailover, _) => format!(
            "When {who} fails over, clients reconnect to the new writer within 60s and writes resume without data loss."
        ),
        (FaultKind::RouteBlackhole, _) => format!(
            "With traffic to {who} blackholed for {hold}, the affected paths fail fast and the rest of the system stays healthy; routing is restored exactly as before."
        ),
        (FaultKind::AzOutage, _) => format!(
            "With {who} cut off for {hold}, the service keeps serving from the remaining zones within its error budget."
        ),
        _ => format!("The system keeps its steady state while {kind} acts on {who}."),
    }
}
