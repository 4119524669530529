//! The experiment document: `apiVersion`, `kind: Experiment`, `metadata`, `spec`.

use super::amount::Amount;
use super::duration::HumanDuration;
use super::fault::{FaultKind, FaultSpec, InjectionMode};
use super::probe::{ProbeMode, ProbeSpec};
use super::target::Target;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// The one document version this build reads.
pub const API_VERSION: &str = "chaosduck.io/v1";

/// A whole experiment file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "ChaosDuck experiment")]
pub struct ExperimentDoc {
    /// Always `chaosduck.io/v1`.
    pub api_version: String,
    /// Always `Experiment`.
    pub kind: String,
    /// Name and labels.
    pub metadata: Metadata,
    /// What to do.
    pub spec: ExperimentSpec,
}

/// Name, labels and description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// A DNS-label-like name: lower-case letters, digits and '-'.
    pub name: String,
    /// Free labels for filtering.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// What the experiment is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The experiment itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExperimentSpec {
    /// The fault and its parameters.
    pub fault: FaultSpec,
    /// What the fault acts on.
    pub target: Target,
    /// How long the fault is held (the OBSERVE phase); the injector expires on its own after it.
    pub duration: HumanDuration,
    /// Guardrails for this experiment.
    #[serde(default)]
    pub safety: SafetySpec,
    /// What you expect to stay true while the fault is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hypothesis: Option<String>,
    /// Steady-state probes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeSpec>,
    /// AI assistance for this experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai: Option<AiSpec>,
}

/// Per-experiment safety settings; the config file sets the limits they must stay within.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SafetySpec {
    /// Hard limit for the whole run; rollback starts when it passes. 120s when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
    /// Most targets affected, as a count or a percentage of the eligible set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast_radius: Option<Amount>,
    /// Typed confirmation for a protected namespace: must equal the target namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_namespace: Option<String>,
}

/// Which AI engine to use and what for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AiSpec {
    /// Analyse the finished run.
    #[serde(default = "yes")]
    pub analyze: bool,
    /// Review the steady state before injection.
    #[serde(default)]
    pub review_steady_state: bool,
    /// `anthropic`, `openai` or `offline`; the config file's provider when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<AiProvider>,
    /// Model name override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// AI providers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AiProvider {
    /// The Anthropic Messages API.
    Anthropic,
    /// An OpenAI-compatible chat-completions endpoint.
    Openai,
    /// The deterministic offline engine.
    Offline,
}

fn yes() -> bool {
    true
}

/// A problem found by semantic validation: a dotted field path and advice.
pub type FieldProblem = (String, String);

impl ExperimentDoc {
    /// The fault kind.
    pub fn fault_kind(&self) -> FaultKind {
        self.spec.fault.kind()
    }

    /// Every semantic problem (after the shape has been read), each with its field path.
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut p: Vec<FieldProblem> = Vec::new();
        let mut add = |path: &str, msg: String| p.push((path.to_string(), msg));
        if self.api_version != API_VERSION {
            add(
                "apiVersion",
                format!(
                    "unsupported apiVersion {:?}; this build reads {API_VERSION:?}",
                    self.api_version
                ),
            );
        }
        if self.kind != "Experiment" {
            add(
                "kind",
                format!("kind must be \"Experiment\", not {:?}", self.kind),
            );
        }
        if let Err(e) = check_name(&self.metadata.name) {
            add("metadata.name", e);
        }
        let spec = &self.spec;
        let kind = spec.fault.kind();
        let accepted = kind.accepted_targets();
        if !accepted.contains(&spec.target.kind()) {
            let names: Vec<&str> = accepted.iter().map(|k| k.as_str()).collect();
            add(
                "spec.target",
                format!(
                    "fault {kind} acts on {}, but the target is `{}`; write `target: {{{}: ...}}`",
                    names.join(" or "),
                    spec.target.kind(),
                    names[0]
                ),
            );
        }
        if spec.duration.get().is_zero() {
            add(
                "spec.duration",
                "duration must be longer than 0s, e.g. 30s".into(),
            );
        }
        if let Some(t) = spec.safety.timeout {
            if t.get().is_zero() {
                add(
                    "spec.safety.timeout",
                    "timeout must be longer than 0s, e.g. 120s".into(),
                );
            } else if t.get() <= spec.duration.get() {
                add(
                    "spec.safety.timeout",
                    format!(
                        "timeout {t} must be longer than the fault duration {} so rollback has time to run",
                        spec.duration
                    ),
                );
            }
        }
        if let Some(b) = spec.safety.blast_radius
            && b.is_zero()
        {
            add(
                "spec.safety.blastRadius",
                "a blast radius of 0 allows no target at all; use a count such as 1 or a percentage such as 10%".into(),
            );
        }
        self.target_problems(&mut add);
        self.fault_problems(&mut add);
        self.probe_problems(&mut add);
        p
    }

    fn target_problems(&self, add: &mut impl FnMut(&str, String)) {
        let count_zero = |c: Option<Amount>| c.is_some_and(Amount::is_zero);
        match &self.spec.target {
            Target::Pods(t) => {
                if let Err(e) = check_name(&t.namespace) {
                    add("spec.target.pods.namespace", e);
                }
                let empty_sel = t.selector.as_ref().is_none_or(|s| s.is_empty());
                if empty_sel && t.names.is_empty() {
                    add(
                        "spec.target.pods",
                        "the target selects every pod in the namespace; give a `selector` such as app=checkout or a list of `names`".into(),
                    );
                }
                if count_zero(t.count) {
                    add(
                        "spec.target.pods.count",
                        "count 0 selects nothing; use at least 1 or 1%".into(),
                    );
                }
            }
            Target::Nodes(t) => {
                if t.selector.as_ref().is_none_or(|s| s.is_empty()) && t.names.is_empty() {
                    add(
                        "spec.target.nodes",
                        "the target selects every node; give a `selector` such as topology.kubernetes.io/zone=zone-a or `names`".into(),
                    );
                }
                if count_zero(t.count) {
                    add(
                        "spec.target.nodes.count",
                        "count 0 selects nothing; use at least 1 or 1%".into(),
                    );
                }
            }
            Target::Instances(t) => {
                if t.ids.is_empty() && t.tags.is_empty() {
                    add(
                        "spec.target.instances",
                        "no instances selected; give `ids` (i-...) or `tags`".into(),
                    );
                }
                for (i, id) in t.ids.iter().enumerate() {
                    if !id.starts_with("i-") {
                        add(
                            &format!("spec.target.instances.ids[{i}]"),
                            format!("{id:?} is not an EC2 instance id (i-...)"),
                        );
                    }
                }
                if count_zero(t.count) {
                    add(
                        "spec.target.instances.count",
                        "count 0 selects nothing; use at least 1 or 1%".into(),
                    );
                }
            }
            Target::DbCluster(t) if t.id.trim().is_empty() => {
                add(
                    "spec.target.dbCluster.id",
                    "the DB cluster identifier is empty".into(),
                );
            }
            Target::DbInstance(t) if t.id.trim().is_empty() => {
                add(
                    "spec.target.dbInstance.id",
                    "the DB instance identifier is empty".into(),
                );
            }
            Target::Route(t) => {
                if !t.route_table.starts_with("rtb-") {
                    add(
                        "spec.target.route.routeTable",
                        format!("{:?} is not a route table id (rtb-...)", t.route_table),
                    );
                }
                if let Err(e) = check_cidr(&t.destination_cidr) {
                    add("spec.target.route.destinationCidr", e);
                }
            }
            Target::AvailabilityZone(t) => {
                if !t.vpc.starts_with("vpc-") {
                    add(
                        "spec.target.availabilityZone.vpc",
                        format!("{:?} is not a VPC id (vpc-...)", t.vpc),
                    );
                }
                if t.zone.trim().is_empty() {
                    add(
                        "spec.target.availabilityZone.zone",
                        "the availability zone is empty".into(),
                    );
                }
            }
            _ => {}
        }
    }

    fn fault_problems(&self, add: &mut impl FnMut(&str, String)) {
        if let Some((mode, container)) = self.spec.fault.injection() {
            if mode == InjectionMode::Exec && self.spec.target.namespace().is_none() {
                add(
                    "spec.fault.injection",
                    "exec injection needs a pods target".into(),
                );
            }
            if let Some(c) = container {
                if mode != InjectionMode::Exec {
                    add(
                        "spec.fault.container",
                        "container only applies to injection: exec (the ephemeral injector is its own container)".into(),
                    );
                }
                if !is_dns_label(c) {
                    add(
                        "spec.fault.container",
                        format!(
                            "{c:?} is not a container name (lower-case letters, digits and '-', at most 63)"
                        ),
                    );
                }
            }
        }
        match &self.spec.fault {
            FaultSpec::NetworkLatency(f) => {
                if f.latency.get().is_zero() {
                    add(
                        "spec.fault.latency",
                        "latency must be more than 0ms, e.g. 200ms".into(),
                    );
                }
                if let Some(j) = f.jitter
                    && j.get() > f.latency.get()
                {
                    add(
                        "spec.fault.jitter",
                        format!("jitter {j} is larger than the latency {}", f.latency),
                    );
                }
                if let Some(c) = &f.destination_cidr
                    && let Err(e) = check_cidr(c)
                {
                    add("spec.fault.destinationCidr", e);
                }
            }
            FaultSpec::NetworkLoss(f) => {
                if f.percent.get() <= 0.0 {
                    add(
                        "spec.fault.percent",
                        "loss must be more than 0%, e.g. 10".into(),
                    );
                }
                if let Some(c) = &f.destination_cidr
                    && let Err(e) = check_cidr(c)
                {
                    add("spec.fault.destinationCidr", e);
                }
            }
            FaultSpec::CpuStress(f) => {
                if f.workers == 0 || f.workers > 256 {
                    add(
                        "spec.fault.workers",
                        format!("workers must be between 1 and 256, not {}", f.workers),
                    );
                }
                if f.load.get() <= 0.0 {
                    add("spec.fault.load", "load must be more than 0%".into());
                }
            }
            FaultSpec::MemoryStress(f) => {
                if f.size.0 == 0 {
                    add(
                        "spec.fault.size",
                        "size must be more than 0, e.g. 256Mi".into(),
                    );
                }
                if f.workers == 0 || f.workers > 64 {
                    add(
                        "spec.fault.workers",
                        format!("workers must be between 1 and 64, not {}", f.workers),
                    );
                }
            }
            _ => {}
        }
    }

    fn probe_problems(&self, add: &mut impl FnMut(&str, String)) {
        let mut seen = HashSet::new();
        for (i, p) in self.spec.probes.iter().enumerate() {
            let at = format!("spec.probes[{i}]");
            if p.name.trim().is_empty() {
                add(&format!("{at}.name"), "the probe needs a name".into());
            } else if !seen.insert(p.name.clone()) {
                add(
                    &format!("{at}.name"),
                    format!("probe name {:?} is used twice", p.name),
                );
            }
            let kinds = p.kinds();
            match kinds.len() {
                0 => add(
                    &at,
                    "the probe names no check; add one of http, tcp, cmd, k8s, prometheus, aws"
                        .into(),
                ),
                1 => {}
                _ => add(
                    &at,
                    format!(
                        "the probe names {} checks ({}); use one per probe",
                        kinds.len(),
                        kinds.join(", ")
                    ),
                ),
            }
            let periodic = matches!(p.mode, ProbeMode::Continuous | ProbeMode::OnChaos);
            if periodic && p.interval.is_none() {
                add(
                    &format!("{at}.interval"),
                    format!("a {} probe needs an interval, e.g. 2s", p.mode),
                );
            }
            if let Some(iv) = p.interval
                && iv.get().is_zero()
            {
                add(
                    &format!("{at}.interval"),
                    "interval must be longer than 0s".into(),
                );
            }
            if p.abort_on_failure && !periodic {
                add(
                    &format!("{at}.abortOnFailure"),
                    "abortOnFailure applies to continuous and onChaos probes; an SOT failure always prevents injection".into(),
                );
            }
            if p.failure_threshold == Some(0) {
                add(
                    &format!("{at}.failureThreshold"),
                    "failureThreshold must be at least 1".into(),
                );
            }
            if let Some(h) = &p.http {
                if !(h.url.starts_with("http://") || h.url.starts_with("https://")) {
                    add(
                        &format!("{at}.http.url"),
                        format!("{:?} is not an http:// or https:// URL", h.url),
                    );
                }
                if let Some(s) = &h.expect_status
                    && let Err(e) = s.check()
                {
                    add(&format!("{at}.http.expectStatus"), e);
                }
                if let Some(m) = &h.method
                    && !["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
                        .contains(&m.to_ascii_uppercase().as_str())
                {
                    add(
                        &format!("{at}.http.method"),
                        format!("unknown HTTP method {m:?}"),
                    );
                }
                if let Some(r) = &h.body_regex
                    && let Err(e) = regex::Regex::new(r)
                {
                    add(
                        &format!("{at}.http.bodyRegex"),
                        format!("invalid regex {r:?}: {e}"),
                    );
                }
                if let Some(j) = &h.json {
                    if let Err(e) = serde_json_path::JsonPath::parse(&j.path) {
                        add(
                            &format!("{at}.http.json.path"),
                            format!("invalid JSONPath {:?}: {e}", j.path),
                        );
                    }
                    if let Err(e) = j.expect().check() {
                        add(&format!("{at}.http.json"), e);
                    }
                }
            }
            if let Some(c) = &p.cmd {
                if c.argv.is_empty() || c.argv[0].trim().is_empty() {
                    add(
                        &format!("{at}.cmd.argv"),
                        "argv needs at least the program to run".into(),
                    );
                }
                if c.shell && c.argv.len() != 1 {
                    add(
                        &format!("{at}.cmd.argv"),
                        "with shell: true, argv holds exactly one command line".into(),
                    );
                }
                if let Some(r) = &c.stdout_regex
                    && let Err(e) = regex::Regex::new(r)
                {
                    add(
                        &format!("{at}.cmd.stdoutRegex"),
                        format!("invalid regex {r:?}: {e}"),
                    );
                }
            }
            if let Some(pr) = &p.prometheus
                && !(pr.url.starts_with("http://") || pr.url.starts_with("https://"))
            {
                add(
                    &format!("{at}.prometheus.url"),
                    format!("{:?} is not an http:// or https:// URL", pr.url),
                );
            }
            if let Some(pr) = &p.prometheus
                && pr.password_env.is_some() != pr.username.is_some()
            {
                add(
                    &format!("{at}.prometheus"),
                    "basic auth needs both username and passwordEnv".into(),
                );
            }
            if let Some(pr) = &p.prometheus
                && !["<", "<=", "==", "!=", ">=", ">"].contains(&pr.comparator.as_str())
            {
                add(
                    &format!("{at}.prometheus.comparator"),
                    format!(
                        "unknown comparator {:?}; use <, <=, ==, !=, >= or >",
                        pr.comparator
                    ),
                );
            }
            if let Some(k) = &p.k8s {
                let named = k.name.is_some();
                if named == k.selector.is_some() {
                    add(
                        &format!("{at}.k8s"),
                        "give a resource `kind` and `name`, or a pod `selector`, not both".into(),
                    );
                }
                if named {
                    match k.kind.as_deref() {
                        None => add(
                            &format!("{at}.k8s.kind"),
                            "a named resource needs its kind".into(),
                        ),
                        Some(kind) if !crate::domain::probe::K8S_PROBE_KINDS.contains(&kind) => {
                            add(
                                &format!("{at}.k8s.kind"),
                                format!(
                                    "unsupported kind {kind:?}; use one of {}",
                                    crate::domain::probe::K8S_PROBE_KINDS.join(", ")
                                ),
                            )
                        }
                        Some(_) => {}
                    }
                }
                if k.kind.as_deref() != Some("Node") && k.namespace.is_none() {
                    add(
                        &format!("{at}.k8s.namespace"),
                        "the namespace is required".into(),
                    );
                }
                if let Some(c) = &k.condition
                    && !["True", "False", "Unknown"].contains(&c.status.as_str())
                {
                    add(
                        &format!("{at}.k8s.condition.status"),
                        format!("{:?} must be True, False or Unknown", c.status),
                    );
                }
            }
            if let Some(a) = &p.aws
                && a.instance.is_none() == a.db_cluster.is_none()
            {
                add(
                    &format!("{at}.aws"),
                    "give exactly one of `instance` or `dbCluster`".into(),
                );
            }
            if let Some(a) = &p.aws {
                if a.state.is_none() && a.writer.is_none() {
                    add(
                        &format!("{at}.aws"),
                        "say what to check: `state` (e.g. running, available) or `writer`".into(),
                    );
                }
                if a.writer.is_some() && a.db_cluster.is_none() {
                    add(
                        &format!("{at}.aws.writer"),
                        "`writer` applies to a `dbCluster`".into(),
                    );
                }
            }
        }
    }
}

fn check_name(n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && n.len() <= 63
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !n.starts_with('-')
        && !n.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{n:?} is not a valid name: use lower-case letters, digits and '-', at most 63 characters"
        ))
    }
}

fn check_cidr(c: &str) -> Result<(), String> {
    let bad = || format!("{c:?} is not an IPv4 CIDR such as 10.0.0.0/16");
    let (ip, len) = c.split_once('/').ok_or_else(bad)?;
    ip.parse::<std::net::Ipv4Addr>().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    Ok(())
}

/// The default hard timeout when the file sets none.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl ExperimentSpec {
    /// The hard timeout in force: the file's, or 120 s, stretched to the fault duration plus a
    /// minute when the fault is held longer than that.
    pub fn effective_timeout(&self) -> std::time::Duration {
        self.safety.timeout.map(|t| t.get()).unwrap_or_else(|| {
            DEFAULT_TIMEOUT.max(self.duration.get() + std::time::Duration::from_secs(60))
        })
    }
}

/// A DNS-1123 label, the shape of a container name.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}
