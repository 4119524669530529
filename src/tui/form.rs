//! The experiment form (`n`): fault kind and parameters with defaults, prefilled from the
//! selected target. It writes an experiment document and checks it with the same validator as a
//! file, mapping each problem back to its field.

use super::tree::TargetHint;
use crate::domain::{ExperimentDoc, FaultKind, parse_experiment};

/// One field of the form.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Key (also how validation errors find it).
    pub key: &'static str,
    /// Label shown.
    pub label: &'static str,
    /// Current text.
    pub value: String,
    /// Allowed values for choice fields (cycled with ←/→); empty for free text.
    pub choices: &'static [&'static str],
    /// What the validator said about it.
    pub error: Option<String>,
}

/// The form's state.
#[derive(Clone, Debug, PartialEq)]
pub struct FormState {
    /// The fault kind.
    pub kind: FaultKind,
    /// Fields, the fault kind first.
    pub fields: Vec<Field>,
    /// The selected field.
    pub sel: usize,
    /// Problems that belong to no field.
    pub errors: Vec<String>,
    /// The target it was opened on.
    pub target: TargetHint,
}

const KIND_NAMES: &[&str] = &[
    "pod_delete",
    "network_latency",
    "network_loss",
    "cpu_stress",
    "memory_stress",
    "network_partition",
    "node_cordon",
    "ec2_stop",
    "rds_failover",
    "route_blackhole",
    "az_outage",
];

fn kind_of(name: &str) -> FaultKind {
    FaultKind::ALL
        .into_iter()
        .find(|k| k.as_str() == name)
        .unwrap_or(FaultKind::PodDelete)
}

fn field(key: &'static str, label: &'static str, value: impl Into<String>) -> Field {
    Field {
        key,
        label,
        value: value.into(),
        choices: &[],
        error: None,
    }
}

fn choice(
    key: &'static str,
    label: &'static str,
    value: &str,
    choices: &'static [&'static str],
) -> Field {
    Field {
        key,
        label,
        value: value.to_string(),
        choices,
        error: None,
    }
}

/// The fault kind that suits a target best.
pub fn kind_for(t: &TargetHint) -> FaultKind {
    match t {
        TargetHint::Node(_) => FaultKind::NodeCordon,
        TargetHint::Instance(_) => FaultKind::Ec2Stop,
        TargetHint::DbCluster(_) | TargetHint::DbInstance(_) => FaultKind::RdsFailover,
        TargetHint::Route { .. } => FaultKind::RouteBlackhole,
        TargetHint::Zone { .. } => FaultKind::AzOutage,
        _ => FaultKind::PodDelete,
    }
}

impl FormState {
    /// A form for a target, with the fault kind that suits it.
    pub fn new(target: TargetHint) -> FormState {
        let kind = kind_for(&target);
        let mut f = FormState {
            kind,
            fields: vec![],
            sel: 0,
            errors: vec![],
            target,
        };
        f.rebuild(&[]);
        f
    }

    /// Rebuilds the fields for the current kind, keeping values of fields both kinds share.
    fn rebuild(&mut self, keep: &[Field]) {
        let (ns, selector, wl) = match &self.target {
            TargetHint::Workload {
                ns, selector, name, ..
            } => (
                ns.clone(),
                if selector.is_empty() {
                    format!("app={name}")
                } else {
                    selector.clone()
                },
                Some(name.clone()),
            ),
            TargetHint::Pod { ns, .. } => (ns.clone(), String::new(), None),
            TargetHint::Namespace(ns) => (ns.clone(), String::new(), None),
            _ => ("default".into(), String::new(), None),
        };
        let base = wl.clone().unwrap_or_else(|| "target".into());
        let mut v = vec![
            choice("fault", "fault", self.kind.as_str(), KIND_NAMES),
            field(
                "name",
                "name",
                format!("{base}-{}", self.kind.as_str().replace('_', "-")),
            ),
        ];
        match self.kind {
            FaultKind::NodeCordon => {
                let sel = match &self.target {
                    TargetHint::Node(n) => format!("kubernetes.io/hostname={n}"),
                    _ => String::new(),
                };
                v.push(field("selector", "node selector", sel));
                v.push(choice(
                    "drain",
                    "drain (evict pods)",
                    "false",
                    &["false", "true"],
                ));
                v.push(field("blast_radius", "blast radius", "1"));
            }
            FaultKind::Ec2Stop => {
                let id = match &self.target {
                    TargetHint::Instance(i) => i.clone(),
                    _ => String::new(),
                };
                v.push(field("instance", "instance id", id));
            }
            FaultKind::RdsFailover => {
                let id = match &self.target {
                    TargetHint::DbCluster(i) => i.clone(),
                    _ => String::new(),
                };
                v.push(field("cluster", "DB cluster id", id));
                v.push(choice(
                    "fail_back",
                    "fail back after",
                    "true",
                    &["true", "false"],
                ));
            }
            FaultKind::RouteBlackhole => {
                let (t, c) = match &self.target {
                    TargetHint::Route { table, cidr } => (table.clone(), cidr.clone()),
                    _ => (String::new(), "0.0.0.0/0".into()),
                };
                v.push(field("route_table", "route table", t));
                v.push(field("cidr", "destination CIDR", c));
            }
            FaultKind::AzOutage => {
                let (vpc, z) = match &self.target {
                    TargetHint::Zone { vpc, zone } => (vpc.clone(), zone.clone()),
                    _ => (String::new(), String::new()),
                };
                v.push(field("vpc", "VPC", vpc));
                v.push(field("zone", "availability zone", z));
                v.push(field("blast_radius", "blast radius", "34%"));
            }
            _ => {
                let sel = match &self.target {
                    TargetHint::Pod { name, .. } => String::new() + name,
                    _ => selector.clone(),
                };
                v.push(field("namespace", "namespace", ns.clone()));
                if matches!(self.target, TargetHint::Pod { .. }) {
                    v.push(field("pod_name", "pod name", sel));
                } else {
                    v.push(field("selector", "pod selector", sel));
                }
                v.push(field("count", "pods (count or %)", "1"));
                v.push(field("blast_radius", "blast radius", "50%"));
                match self.kind {
                    FaultKind::PodDelete => v.push(field("grace_period", "grace period", "0s")),
                    FaultKind::NetworkLatency => {
                        v.push(field("latency", "latency", "200ms"));
                        v.push(field("jitter", "jitter", "0ms"));
                    }
                    FaultKind::NetworkLoss => v.push(field("percent", "loss %", "10")),
                    FaultKind::CpuStress => {
                        v.push(field("workers", "workers", "1"));
                        v.push(field("load", "load %", "80"));
                    }
                    FaultKind::MemoryStress => v.push(field("size", "memory", "256Mi")),
                    FaultKind::NetworkPartition => v.push(choice(
                        "direction",
                        "direction",
                        "both",
                        &["both", "ingress", "egress"],
                    )),
                    _ => {}
                }
                let probe = if wl.is_some() { "ready" } else { "none" };
                v.push(choice("probe", "probe", probe, &["ready", "none"]));
            }
        }
        v.push(field(
            "duration",
            "duration",
            if self.kind == FaultKind::PodDelete {
                "30s"
            } else {
                "1m"
            },
        ));
        v.push(field("hypothesis", "hypothesis", ""));
        for f in &mut v {
            if f.key == "fault" || f.key == "name" {
                continue;
            }
            if let Some(old) = keep.iter().find(|o| o.key == f.key) {
                f.value = old.value.clone();
            }
        }
        self.fields = v;
        self.sel = self.sel.min(self.fields.len() - 1);
    }

    /// The value of a field.
    pub fn get(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|f| f.key == key)
            .map_or("", |f| f.value.as_str())
    }

    /// Moves the selection.
    pub fn move_sel(&mut self, down: bool) {
        let n = self.fields.len();
        self.sel = if down {
            (self.sel + 1) % n
        } else {
            (self.sel + n - 1) % n
        };
    }

    /// Cycles a choice field (the fault kind rebuilds the form).
    pub fn cycle(&mut self, forward: bool) {
        let f = &mut self.fields[self.sel];
        if f.choices.is_empty() {
            return;
        }
        let i = f.choices.iter().position(|c| *c == f.value).unwrap_or(0);
        let n = f.choices.len();
        let next = if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        };
        f.value = f.choices[next].to_string();
        if f.key == "fault" {
            self.kind = kind_of(&f.value);
            let keep = self.fields.clone();
            self.rebuild(&keep);
        }
    }

    /// Types a character into a text field.
    pub fn type_char(&mut self, c: char) {
        let f = &mut self.fields[self.sel];
        if f.choices.is_empty() && f.value.len() < 256 {
            f.value.push(c);
            f.error = None;
        } else if !f.choices.is_empty() {
            self.cycle(true);
        }
    }

    /// Deletes the last character of a text field.
    pub fn backspace(&mut self) {
        let f = &mut self.fields[self.sel];
        if f.choices.is_empty() {
            f.value.pop();
            f.error = None;
        }
    }

    /// The document as YAML (what the validator reads and the editor shows).
    pub fn to_yaml(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        let num = |s: &str| {
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
                s.to_string()
            } else {
                q(s)
            }
        };
        let g = |k: &str| self.get(k);
        let mut y = format!(
            "apiVersion: chaosduck.io/v1\nkind: Experiment\nmetadata:\n  name: {}\nspec:\n  fault:\n    type: {}\n",
            q(g("name")),
            self.kind.as_str()
        );
        match self.kind {
            FaultKind::PodDelete => {
                y.push_str(&format!("    gracePeriod: {}\n", q(g("grace_period"))))
            }
            FaultKind::NetworkLatency => y.push_str(&format!(
                "    latency: {}\n    jitter: {}\n",
                q(g("latency")),
                q(g("jitter"))
            )),
            FaultKind::NetworkLoss => y.push_str(&format!("    percent: {}\n", num(g("percent")))),
            FaultKind::CpuStress => y.push_str(&format!(
                "    workers: {}\n    load: {}\n",
                num(g("workers")),
                num(g("load"))
            )),
            FaultKind::MemoryStress => y.push_str(&format!("    size: {}\n", q(g("size")))),
            FaultKind::NetworkPartition => {
                y.push_str(&format!("    direction: {}\n", q(g("direction"))))
            }
            FaultKind::NodeCordon => y.push_str(&format!("    drain: {}\n", g("drain"))),
            FaultKind::RdsFailover => y.push_str(&format!("    failBack: {}\n", g("fail_back"))),
            _ => {}
        }
        y.push_str("  target:\n");
        match self.kind {
            FaultKind::NodeCordon => y.push_str(&format!(
                "    nodes:\n      selector: {}\n",
                q(g("selector"))
            )),
            FaultKind::Ec2Stop => y.push_str(&format!(
                "    instances:\n      ids: [{}]\n",
                q(g("instance"))
            )),
            FaultKind::RdsFailover => {
                y.push_str(&format!("    dbCluster:\n      id: {}\n", q(g("cluster"))))
            }
            FaultKind::RouteBlackhole => y.push_str(&format!(
                "    route:\n      routeTable: {}\n      destinationCidr: {}\n",
                q(g("route_table")),
                q(g("cidr"))
            )),
            FaultKind::AzOutage => y.push_str(&format!(
                "    availabilityZone:\n      vpc: {}\n      zone: {}\n",
                q(g("vpc")),
                q(g("zone"))
            )),
            _ => {
                y.push_str(&format!(
                    "    pods:\n      namespace: {}\n",
                    q(g("namespace"))
                ));
                if self.fields.iter().any(|f| f.key == "pod_name") {
                    y.push_str(&format!("      names: [{}]\n", q(g("pod_name"))));
                } else {
                    y.push_str(&format!("      selector: {}\n", q(g("selector"))));
                }
                y.push_str(&format!("      count: {}\n", num(g("count"))));
            }
        }
        y.push_str(&format!("  duration: {}\n", q(g("duration"))));
        if !g("hypothesis").trim().is_empty() {
            y.push_str(&format!("  hypothesis: {}\n", q(g("hypothesis"))));
        }
        if self.fields.iter().any(|f| f.key == "blast_radius") && !g("blast_radius").is_empty() {
            y.push_str(&format!(
                "  safety:\n    blastRadius: {}\n",
                num(g("blast_radius"))
            ));
        }
        if g("probe") == "ready"
            && let TargetHint::Workload { ns, kind, name, .. } = &self.target
        {
            y.push_str(&format!(
                "  probes:\n    - name: {}\n      mode: continuous\n      interval: 1s\n      k8s:\n        namespace: {}\n        kind: {}\n        name: {}\n        minReady: 1\n",
                q(&format!("{name}-ready")),
                q(ns),
                q(kind),
                q(name)
            ));
        }
        y
    }

    /// Validates; on failure the problems are attached to their fields and their count returned.
    pub fn validate(&mut self) -> Result<ExperimentDoc, usize> {
        for f in &mut self.fields {
            f.error = None;
        }
        self.errors.clear();
        match parse_experiment("form", &self.to_yaml()) {
            Ok(doc) => Ok(doc),
            Err(ds) => {
                let n = ds.len();
                for d in ds {
                    let key = field_for_path(&d.path);
                    match self.fields.iter_mut().find(|f| Some(f.key) == key) {
                        Some(f) if f.error.is_none() => f.error = Some(d.message.clone()),
                        Some(_) => {}
                        None => self.errors.push(format!("{}: {}", d.path, d.message)),
                    }
                }
                if let Some(i) = self.fields.iter().position(|f| f.error.is_some()) {
                    self.sel = i;
                }
                Err(n)
            }
        }
    }
}

/// The form field a document path belongs to.
fn field_for_path(path: &str) -> Option<&'static str> {
    const MAP: &[(&str, &str)] = &[
        ("metadata.name", "name"),
        ("spec.fault.gracePeriod", "grace_period"),
        ("spec.fault.latency", "latency"),
        ("spec.fault.jitter", "jitter"),
        ("spec.fault.percent", "percent"),
        ("spec.fault.workers", "workers"),
        ("spec.fault.load", "load"),
        ("spec.fault.size", "size"),
        ("spec.fault.direction", "direction"),
        ("spec.target.pods.namespace", "namespace"),
        ("spec.target.pods.selector", "selector"),
        ("spec.target.pods.names", "pod_name"),
        ("spec.target.pods.count", "count"),
        ("spec.target.nodes", "selector"),
        ("spec.target.instances", "instance"),
        ("spec.target.dbCluster", "cluster"),
        ("spec.target.route.routeTable", "route_table"),
        ("spec.target.route.destinationCidr", "cidr"),
        ("spec.target.availabilityZone.vpc", "vpc"),
        ("spec.target.availabilityZone.zone", "zone"),
        ("spec.duration", "duration"),
        ("spec.safety.blastRadius", "blast_radius"),
        ("spec.hypothesis", "hypothesis"),
    ];
    MAP.iter()
        .find(|(p, _)| path.starts_with(p))
        .map(|(_, k)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload() -> TargetHint {
        TargetHint::Workload {
            ns: "shop".into(),
            kind: "Deployment".into(),
            name: "checkout".into(),
            selector: "app=checkout".into(),
        }
    }

    #[test]
    fn every_fault_kind_makes_a_valid_document_from_its_defaults() {
        let targets = [
            workload(),
            TargetHint::Node("node-a".into()),
            TargetHint::Instance("i-0abc".into()),
            TargetHint::DbCluster("shop-orders".into()),
            TargetHint::Route {
                table: "rtb-1".into(),
                cidr: "0.0.0.0/0".into(),
            },
            TargetHint::Zone {
                vpc: "vpc-1".into(),
                zone: "us-east-1a".into(),
            },
        ];
        for t in targets {
            let mut f = FormState::new(t.clone());
            // Cycle through every kind from this target and validate the kinds that fit it.
            for _ in 0..KIND_NAMES.len() {
                let fits = kind_for(&t) == f.kind
                    || (matches!(t, TargetHint::Workload { .. })
                        && f.kind.is_kubernetes()
                        && f.kind != FaultKind::NodeCordon);
                if fits {
                    let doc = f.validate().unwrap_or_else(|_| {
                        panic!(
                            "{:?}: {:?} {:?}\n{}",
                            f.kind,
                            f.fields,
                            f.errors,
                            f.to_yaml()
                        )
                    });
                    assert_eq!(doc.fault_kind(), f.kind);
                }
                f.sel = 0;
                f.cycle(true);
            }
        }
    }

    #[test]
    fn a_workload_target_gets_a_continuous_ready_probe() {
        let mut f = FormState::new(workload());
        let doc = f.validate().unwrap();
        assert_eq!(doc.spec.probes.len(), 1);
        assert_eq!(doc.spec.probes[0].name, "checkout-ready");
        assert!(f.to_yaml().contains("selector: \"app=checkout\""));
    }

    #[test]
    fn a_bad_value_is_reported_on_its_field() {
        let mut f = FormState::new(workload());
        let i = f.fields.iter().position(|x| x.key == "duration").unwrap();
        f.sel = i;
        for _ in 0..3 {
            f.backspace();
        }
        for c in "soon".chars() {
            f.type_char(c);
        }
        assert!(f.validate().is_err());
        assert!(f.fields[i].error.is_some(), "{:?} {:?}", f.fields, f.errors);
        assert_eq!(f.sel, i);
    }

    #[test]
    fn changing_the_kind_keeps_shared_fields() {
        let mut f = FormState::new(workload());
        let i = f.fields.iter().position(|x| x.key == "count").unwrap();
        f.sel = i;
        f.backspace();
        f.type_char('2');
        f.sel = 0;
        f.cycle(true);
        assert_eq!(f.kind, FaultKind::NetworkLatency);
        assert_eq!(f.get("count"), "2");
        assert_eq!(f.get("latency"), "200ms");
    }
}
