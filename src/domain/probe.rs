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
}

/// A Kubernetes resource condition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct K8sProbe {
    /// Namespace of the resource.
    pub namespace: String,
    /// Kind: Deployment, StatefulSet, DaemonSet, ReplicaSet or Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Count ready pods matching this selector instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Minimum ready replicas / pods; all desired when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready: Option<u32>,
}

/// A PromQL instant query compared with a threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrometheusProbe {
    /// Base URL of the Prometheus HTTP API.
    pub url: String,
    /// The PromQL expression.
    pub query: String,
    /// One of `<`, `<=`, `==`, `!=`, `>=`, `>`.
    pub comparator: String,
    /// The threshold.
    pub threshold: f64,
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
    pub state: String,
}
