//! Steady-state probes as written in experiment files. Each probe names one check kind by key
//! (`http`, `tcp`, `cmd`, `k8s`, `prometheus`, `aws`).

use super::duration::HumanDuration;
use super::selector::LabelSelector;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// When a probe runs, as in LitmusChaos.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ProbeMode {
    /// Start of test: before injection. A failure prevents injection.
    #[default]
    Sot,
    /// End of test: after rollback, to verify recovery.
    Eot,
    /// Both SOT and EOT.
    Edge,
    /// Every `interval` from start to end.
    Continuous,
    /// Every `interval` while the fault is active.
    OnChaos,
}

impl fmt::Display for ProbeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeMode::Sot => "sot",
            ProbeMode::Eot => "eot",
            ProbeMode::Edge => "edge",
            ProbeMode::Continuous => "continuous",
            ProbeMode::OnChaos => "onChaos",
        })
    }
}

/// One probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProbeSpec {
    /// A unique name within the experiment.
    pub name: String,
    /// When it runs.
    #[serde(default)]
    pub mode: ProbeMode,
    /// Sampling interval for continuous and onChaos probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<HumanDuration>,
    /// Time limit of one sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
    /// Abort and roll back when the probe fails `failureThreshold` times in a row.
    #[serde(default)]
    pub abort_on_failure: bool,
    /// Consecutive failures that trigger the abort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// An HTTP check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    /// A TCP connect check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpProbe>,
    /// A local command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<CmdProbe>,
    /// A Kubernetes resource condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s: Option<K8sProbe>,
    /// A PromQL query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusProbe>,
    /// An AWS resource state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsProbe>,
}

impl ProbeSpec {
    /// The check kinds this probe names (valid probes name exactly one).
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k = Vec::new();
        if self.http.is_some() {
            k.push("http");
        }
        if self.tcp.is_some() {
            k.push("tcp");
        }
        if self.cmd.is_some() {
            k.push("cmd");
        }
        if self.k8s.is_some() {
            k.push("k8s");
        }
        if self.prometheus.is_some() {
            k.push("prometheus");
        }
        if self.aws.is_some() {
            k.push("aws");
        }
        k
    }

    /// Whether the probe runs before injection.
    pub fn runs_at_start(&self) -> bool {
        matches!(self.mode, ProbeMode::Sot | ProbeMode::Edge)
    }

    /// Whether the probe runs after rollback.
    pub fn runs_at_end(&self) -> bool {
        matches!(self.mode, ProbeMode::Eot | ProbeMode::Edge)
    }
}

/// An HTTP check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpProbe {
    /// The URL, `http://` or `https://`.
    pub url: String,
    /// The method; GET when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Accepted status codes: a value (`200`), a range (`"200-299"`) or a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<StatusMatch>,
    /// Slowest acceptable response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency: Option<HumanDuration>,
    /// The body must contain this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// The body must match this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_regex: Option<String>,
    /// A value in the JSON body, found by JSONPath, must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<JsonCheck>,
    /// Follow redirects (at most 5); off when absent, so a redirect is seen as its status.
    #[serde(default)]
    pub follow_redirects: bool,
}

/// A JSONPath expression and what the values it selects must be (all of them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JsonCheck {
    /// RFC 9535 JSONPath, e.g. `$.status` or `$.checks[*].ok`.
    pub path: String,
    /// Exactly this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<serde_json::Value>,
    /// One of these values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<serde_json::Value>,
    /// A number at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// A number at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Text matching this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

impl JsonCheck {
    /// The tolerance part.
    pub fn expect(&self) -> Tolerance {
        Tolerance {
            equals: self.equals.clone(),
            one_of: self.one_of.clone(),
            min: self.min,
            max: self.max,
            regex: self.regex.clone(),
        }
    }
}

/// What a value must be, in the spirit of Chaos Toolkit tolerances: an exact value, a set, a
/// numeric range, or a regular expression. At least one is required; all given must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tolerance {
    /// Exactly this value.
    pub equals: Option<serde_json::Value>,
    /// One of these values.
    pub one_of: Vec<serde_json::Value>,
    /// A number at least this.
    pub min: Option<f64>,
    /// A number at most this.
    pub max: Option<f64>,
    /// Text matching this regular expression.
    pub regex: Option<String>,
}

impl Tolerance {
    /// Shape problems (no criterion, bad regex, min above max).
    pub fn check(&self) -> Result<(), String> {
        if self.equals.is_none()
            && self.one_of.is_empty()
            && self.min.is_none()
            && self.max.is_none()
            && self.regex.is_none()
        {
            return Err("give at least one of equals, oneOf, min, max, regex".into());
        }
        if let (Some(a), Some(b)) = (self.min, self.max)
            && a > b
        {
            return Err(format!("min {a} is above max {b}"));
        }
        if let Some(r) = &self.regex {
            regex::Regex::new(r).map_err(|e| format!("invalid regex {r:?}: {e}"))?;
        }
        Ok(())
    }

    /// Whether a value satisfies every criterion given; `Err` says why not.
    pub fn accepts(&self, v: &serde_json::Value) -> Result<(), String> {
        if let Some(e) = &self.equals
            && !loose_eq(e, v)
        {
            return Err(format!("{v} is not {e}"));
        }
        if !self.one_of.is_empty() && !self.one_of.iter().any(|e| loose_eq(e, v)) {
            let set: Vec<String> = self.one_of.iter().map(ToString::to_string).collect();
            return Err(format!("{v} is not one of {}", set.join(", ")));
        }
        if self.min.is_some() || self.max.is_some() {
            let n = as_number(v).ok_or_else(|| format!("{v} is not a number"))?;
            if let Some(m) = self.min
                && n < m
            {
                return Err(format!("{n} is below {m}"));
            }
            if let Some(m) = self.max
                && n > m
            {
                return Err(format!("{n} is above {m}"));
            }
        }
        if let Some(r) = &self.regex {
            let re = regex::Regex::new(r).map_err(|e| e.to_string())?;
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !re.is_match(&text) {
                return Err(format!("{text:?} does not match /{r}/"));
            }
        }
        Ok(())
    }
}

fn as_number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Equality that lets `"1"` match `1` and `1.0`, since YAML and JSON spell numbers differently.
fn loose_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    if a == b {
        return true;
    }
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => false,
    }
}

/// Accepted HTTP status codes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusMatch {
    /// One code.
    Code(u16),
    /// A list of codes.
    Set(Vec<u16>),
    /// A range written `"200-299"`.
    Range(String),
}

impl StatusMatch {
    /// Checks the shape and returns a predicate description error if malformed.
    pub fn check(&self) -> Result<(), String> {
        match self {
            StatusMatch::Code(c) if !(100..=599).contains(c) => {
                Err(format!("status {c} is not an HTTP status code (100–599)"))
            }
            StatusMatch::Set(v) if v.is_empty() => Err("the status list is empty".into()),
            StatusMatch::Set(v) => v.iter().try_for_each(|c| StatusMatch::Code(*c).check()),
            StatusMatch::Range(r) => self::parse_range(r).map(|_| ()),
            StatusMatch::Code(_) => Ok(()),
        }
    }

    /// Whether a status code is accepted.
    pub fn accepts(&self, code: u16) -> bool {
        match self {
            StatusMatch::Code(c) => *c == code,
            StatusMatch::Set(v) => v.contains(&code),
            StatusMatch::Range(r) => parse_range(r).is_ok_and(|(a, b)| (a..=b).contains(&code)),
        }
    }
}

fn parse_range(r: &str) -> Result<(u16, u16), String> {
    let bad = || format!("status range {r:?} must look like \"200-299\"");
    let (a, b) = r.split_once('-').ok_or_else(bad)?;
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if a > b || a < 100 || b > 599 {
        return Err(bad());
    }
    Ok((a, b))
}

/// A TCP connect check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpProbe {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// A local program run as an argv list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CmdProbe {
    /// The program and its arguments; no shell is involved unless `shell: true`.
    pub argv: Vec<String>,
    /// Run `argv[0]` with `sh -c` (explicit opt-in).
    #[serde(default)]
    pub shell: bool,
    /// Extra environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Required exit code; 0 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_exit_code: Option<i32>,
    /// Stdout must contain this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_contains: Option<String>,
    /// Stdout must match this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_regex: Option<String>,
}

/// A Kubernetes resource condition, read through the kube client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct K8sProbe {
    /// Namespace of the resource (not used for nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Kind: Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod or Node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Count the ready pods matching this selector instead of naming a resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Minimum ready replicas (workloads) or ready pods (selector); all desired when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready: Option<u32>,
    /// Required pod phase, e.g. `Running`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Required condition on the object, e.g. `{type: Ready, status: "True"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<ConditionCheck>,
}

/// A status condition that must be present with a given status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConditionCheck {
    /// Condition type, e.g. `Ready` or `Available`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Required status: `True`, `False` or `Unknown`.
    pub status: String,
}

/// The kinds a k8s probe can read.
pub const K8S_PROBE_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Pod",
    "Node",
];

/// A PromQL instant query compared with a threshold; every series of a vector must pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrometheusProbe {
    /// Base URL of the Prometheus HTTP API, e.g. `http://prometheus:9090`.
    pub url: String,
    /// The PromQL expression.
    pub query: String,
    /// One of `<`, `<=`, `==`, `!=`, `>=`, `>`.
    pub comparator: String,
    /// The threshold.
    pub threshold: f64,
    /// Environment variable holding a bearer token (tokens never go in experiment files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_env: Option<String>,
    /// Basic auth user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Environment variable holding the basic auth password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// Pass when the query returns no series at all (fails by default).
    #[serde(default)]
    pub allow_empty: bool,
}

impl PrometheusProbe {
    /// Applies the comparator.
    pub fn compare(&self, v: f64) -> bool {
        match self.comparator.as_str() {
            "<" => v < self.threshold,
            "<=" => v <= self.threshold,
            "==" => v == self.threshold,
            "!=" => v != self.threshold,
            ">=" => v >= self.threshold,
            ">" => v > self.threshold,
            _ => false,
        }
    }
}

/// An AWS resource state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsProbe {
    /// An EC2 instance that must be in `state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// An RDS cluster that must be in `state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster: Option<String>,
    /// The expected state, e.g. `running` or `available`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The instance that must be the cluster's writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
}
