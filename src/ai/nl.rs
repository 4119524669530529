//! The offline natural-language parser: English and Korean requests for every fault kind,
//! turned into an experiment document with the parameters it could read. Deterministic; no
//! network. What it assumed is said in the explanation; what it could not read is said in the
//! error, with everything it did understand.

use crate::domain::fault::{
    AzOutage, CpuStress, Direction, Ec2Stop, MemoryStress, NetworkLatency, NetworkLoss,
    NetworkPartition, NodeCordon, PodDelete, RdsFailover, RouteBlackhole,
};
use crate::domain::target::{
    AzTarget, DbClusterTarget, DbInstanceTarget, InstanceTarget, NodeTarget, PodTarget, RouteTarget,
};
use crate::domain::{
    API_VERSION, Amount, ByteSize, ExperimentDoc, ExperimentSpec, FaultKind, FaultSpec,
    HumanDuration, LabelSelector, Metadata, Percent, SafetySpec, Target,
};
use regex::Regex;
use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

/// What the parser made of a request.
#[derive(Clone, Debug, PartialEq)]
pub struct NlParse {
    /// The experiment (not yet vetted: the caller runs it through [`super::vet`]).
    pub doc: ExperimentDoc,
    /// What was read from the text, one item a line ("fault: network_latency", ...).
    pub understood: Vec<String>,
    /// Defaults the parser chose where the text said nothing.
    pub assumptions: Vec<String>,
}

/// Why no experiment could be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct NlUnclear {
    /// What is missing and how to say it.
    pub message: String,
    /// What was understood.
    pub understood: Vec<String>,
}

fn re(s: &str) -> Regex {
    // Only ever called on the literals below; a typo is caught by the unit tests.
    Regex::new(s).unwrap_or_else(|e| panic!("bad built-in regex {s:?}: {e}"))
}

macro_rules! rx {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| re($pat));
    };
}

rx!(
    DUR,
    r"(?:^|[^a-z0-9.\-])(\d+(?:\.\d+)?)\s*(milliseconds?|millis|msecs?|ms|밀리초|seconds?|secs?|s|초|minutes?|mins?|m|분|hours?|hrs?|h|시간)(?:[^a-z0-9]|$)"
);
rx!(
    WORD_DUR,
    r"\b(?:for|during|over)\s+(?:a|an|one|half an|half a)\s+(second|minute|hour)\b"
);
rx!(PCT, r"(\d+(?:\.\d+)?)\s*(?:%|percent|퍼센트|프로)");
rx!(
    SELECTOR_EQ,
    r"([a-z0-9][a-z0-9./_-]*)\s*(==|!=|=)\s*([a-z0-9][a-z0-9._-]*)"
);
rx!(
    SELECTOR_IN,
    r"([a-z0-9][a-z0-9./_-]*)\s+(in|notin)\s*\(([^)]*)\)"
);
rx!(
    NS1,
    r"(?:\bnamespace|\bns\b|네임스페이스)\s*[=:]?\s*([a-z0-9][a-z0-9-]*)"
);
rx!(
    NS2,
    r"\b([a-z0-9][a-z0-9-]*)(?:\s*namespace|\s+ns\b|\s*네임스페이스)"
);
rx!(NS3, r"(?:^|\s)-n\s+([a-z0-9][a-z0-9-]*)");
rx!(NS_KUBE, r"\b(kube-[a-z-]+)\b");
rx!(
    NS_IN,
    r"\b(?:in|from|within)\s+(?:the\s+)?([a-z][a-z0-9-]*)(?:\s+(?:for|during|over|and|then|with)\b|\s*[.,;]?\s*$)"
);
rx!(
    APP_BEFORE,
    r"([a-z0-9][a-z0-9-]*)\s*(?:pods?|파드|포드|팟|service|서비스|deployment|디플로이먼트|app\b|앱|containers?|컨테이너|workload|replicas?)"
);
rx!(
    APP_AFTER,
    r"(?:pods?|파드|service|서비스|deployment|app|앱)\s+(?:of|for|from|named|called)?\s*(?:the\s+)?([a-z0-9][a-z0-9-]*)"
);
rx!(
    NUM_NOUN,
    r"(?:^|[^a-z0-9.\-])(\d+)\s*(?:개|대)?\s*(?:의\s*)?(?:[a-z0-9-]+\s+)?(?:pods?|nodes?|instances?|replicas?|파드|포드|노드|인스턴스|개|대)"
);
rx!(
    NOUN_NUM,
    r"(?:pods?|nodes?|instances?|파드|포드|노드|인스턴스)\s*(\d+)\s*(?:개|대)"
);
rx!(INSTANCE_ID, r"\bi-[0-9a-f]{8,17}\b");
rx!(
    TAG,
    r"tag(?:ged|s)?\s*(?:with\s+)?([a-z0-9:_.-]+)\s*[=:]\s*([a-z0-9:_.-]+)"
);
rx!(REGION, r"\b([a-z]{2}(?:-gov)?-[a-z]+-\d)\b");
rx!(ZONE, r"\b([a-z]{2}-[a-z]+-\d[a-z])\b");
rx!(VPC, r"\bvpc-[0-9a-f]{4,17}\b");
rx!(RTB, r"\brtb-[0-9a-f]{4,17}\b");
rx!(CIDR, r"\b(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/\d{1,2})\b");
rx!(
    CLUSTER1,
    r"(?:cluster|클러스터)\s+(?:named\s+|called\s+)?([a-z][a-z0-9-]*)"
);
rx!(
    CLUSTER2,
    r"([a-z][a-z0-9-]*)\s*(?:db\s+)?(?:cluster|클러스터)"
);
rx!(
    DBINST1,
    r"(?:db|rds|database)\s+instance\s+(?:named\s+|called\s+)?([a-z][a-z0-9-]*)"
);
rx!(
    DBINST2,
    r"([a-z][a-z0-9-]*)\s*(?:db\s*)?(?:instance|인스턴스)"
);
rx!(
    FAILOVER_TO,
    r"(?:\bto|\bonto|promot(?:e|ing))\s+(?:the\s+)?(?:instance\s+|replica\s+)?([a-z][a-z0-9-]*)|([a-z][a-z0-9-]*)\s*(?:으로|로)\s"
);
rx!(
    NODE_NAME,
    r"(?:nodes?|노드)\s+(?:named\s+|called\s+)?([a-z0-9][a-z0-9.-]*\d[a-z0-9.-]*)"
);
rx!(
    NODE_NAME2,
    r"([a-z0-9][a-z0-9.-]*\d[a-z0-9.-]*)\s*(?:node|노드)"
);
rx!(
    WORKERS,
    r"(\d+)\s*(?:cores?|cpus?|vcpus?|workers?|threads?|코어|워커|개의\s*코어)"
);
rx!(WORKERS_KO, r"(?:코어|워커|cores?|workers?)\s*(\d+)\s*개?");
rx!(
    SIZE,
    r"(\d+(?:\.\d+)?)\s*(gib|gi|gb|g|mib|mi|mb|kib|ki|kb|기가바이트|기가|메가바이트|메가)(?:[^a-z0-9]|$)"
);
rx!(
    JITTER,
    r"(?:jitter|지터|±|\+/-|\+-)\s*(?:of\s+)?(\d+)\s*ms|(\d+)\s*ms\s*(?:of\s+)?(?:jitter|지터)"
);
rx!(
    PORT,
    r"(?:ports?|포트)\s*(\d{1,5}(?:\s*(?:,|and)\s*\d{1,5})*)"
);
rx!(
    GRACE,
    r"grace(?:\s*period)?\s*(?:of\s+)?(\d+)\s*(s|seconds?|초)"
);
rx!(
    POD_NAMED,
    r"(?:pod|파드)\s+(?:named|called|이름이?)\s+([a-z0-9][a-z0-9.-]*)"
);

const STOP_NAMES: &[&str] = &[
    "the",
    "a",
    "an",
    "all",
    "every",
    "each",
    "any",
    "some",
    "random",
    "randomly",
    "one",
    "two",
    "three",
    "four",
    "five",
    "few",
    "several",
    "of",
    "my",
    "our",
    "its",
    "their",
    "those",
    "these",
    "running",
    "kill",
    "delete",
    "terminate",
    "to",
    "in",
    "on",
    "from",
    "for",
    "single",
    "half",
    "more",
    "k8s",
    "kubernetes",
    "and",
    "with",
    "stress",
    "cpu",
    "memory",
    "ram",
    "add",
    "network",
    "latency",
    "loss",
    "packet",
    "pod",
    "pods",
    "random-pod",
    "ready",
    "healthy",
    "aurora",
    "rds",
    "database",
    "mysql",
    "postgres",
    "postgresql",
    "the-db",
    "ec2",
    "instance",
    "instances",
    "node",
    "nodes",
    "namespace",
    "ns",
    "cluster",
    "failover",
    "fail",
    "over",
    "writer",
    "primary",
    "reader",
    "force",
    "that",
    "this",
    "app",
    "service",
    "deployment",
    "이",
    "그",
    "모든",
    "전체",
    "랜덤",
    "하나",
    "개",
    "drain",
    "cordon",
    "zone",
    "az",
    "vpc",
    "route",
    "table",
    "is",
    "are",
    "be",
    "at",
    "by",
    "then",
    "also",
    "load",
    "percent",
    "lose",
    "drop",
    "egress",
    "ingress",
    "both",
    "partition",
    "isolate",
    "inject",
    "slow",
    "delay",
    "jitter",
    "s",
    "m",
    "ms",
    "h",
    "min",
    "mins",
    "sec",
    "secs",
];

fn is_stop(w: &str) -> bool {
    STOP_NAMES.contains(&w) || w.chars().all(|c| c.is_ascii_digit())
}

/// Keywords per fault kind; the first kind in [`PRIORITY`] with a hit wins.
fn kind_hits(t: &str) -> Vec<FaultKind> {
    let has = |ws: &[&str]| ws.iter().any(|w| t.contains(w));
    let mut v = Vec::new();
    if RTB.is_match(t)
        || has(&[
            "route table",
            "blackhole",
            "black hole",
            "black-hole",
            "라우트",
            "라우팅",
            "블랙홀",
        ])
    {
        v.push(FaultKind::RouteBlackhole);
    }
    if has(&[
        "availability zone",
        "az outage",
        "zone outage",
        "zone failure",
        "az failure",
        "가용 영역",
        "가용영역",
        "az 장애",
        "존 장애",
    ]) || (ZONE.is_match(t)
        && has(&[
            "outage", "down", "fail", "offline", "lose", "장애", "다운", "끊", "cut",
        ]))
        || (t.contains(" az ") && VPC.is_match(t))
    {
        v.push(FaultKind::AzOutage);
    }
    if has(&[
        "failover",
        "fail over",
        "fail-over",
        "rds",
        "aurora",
        "db cluster",
        "database cluster",
        "db instance",
        "페일오버",
        "장애 조치",
        "장애조치",
        "데이터베이스",
        "db 클러스터",
    ]) {
        v.push(FaultKind::RdsFailover);
    }
    if INSTANCE_ID.is_match(t) || has(&["ec2", "인스턴스", "instance"]) {
        v.push(FaultKind::Ec2Stop);
    }
    if has(&[
        "cordon",
        "drain",
        "코던",
        "드레인",
        "unschedulable",
        "스케줄 불가",
        "node outage",
        "노드 장애",
    ]) {
        v.push(FaultKind::NodeCordon);
    }
    if has(&[
        "partition",
        "isolate",
        "cut off",
        "cut the network",
        "network split",
        "split brain",
        "격리",
        "파티션",
        "네트워크 분리",
        "네트워크를 끊",
        "네트워크 차단",
        "트래픽 차단",
        "block all traffic",
        "block traffic",
    ]) {
        v.push(FaultKind::NetworkPartition);
    }
    if has(&[
        "packet loss",
        "loss",
        "drop packets",
        "drop ",
        "lose ",
        "손실",
        "유실",
        "드롭",
    ]) {
        v.push(FaultKind::NetworkLoss);
    }
    if has(&[
        "latency",
        "delay",
        "slow down",
        "slow the",
        "lag",
        "지연",
        "레이턴시",
        "느리",
        "딜레이",
    ]) {
        v.push(FaultKind::NetworkLatency);
    }
    if has(&["cpu", "processor", "씨피유", "프로세서"]) {
        v.push(FaultKind::CpuStress);
    }
    if has(&["memory", " ram", "oom", "메모리", "mem "]) {
        v.push(FaultKind::MemoryStress);
    }
    if has(&[
        "kill",
        "delete",
        "terminate",
        "destroy",
        "evict",
        "죽이",
        "죽여",
        "삭제",
        "종료",
        "제거",
        "킬",
        "없애",
    ]) {
        v.push(FaultKind::PodDelete);
    }
    v
}

const PRIORITY: [FaultKind; 11] = [
    FaultKind::RouteBlackhole,
    FaultKind::AzOutage,
    FaultKind::RdsFailover,
    FaultKind::NodeCordon,
    FaultKind::Ec2Stop,
    FaultKind::NetworkPartition,
    FaultKind::NetworkLoss,
    FaultKind::NetworkLatency,
    FaultKind::CpuStress,
    FaultKind::MemoryStress,
    FaultKind::PodDelete,
];

#[derive(Clone, Debug)]
struct DurTok {
    start: usize,
    end: usize,
    d: Duration,
    millis_unit: bool,
}

fn durations(t: &str) -> Vec<DurTok> {
    let mut v = Vec::new();
    for c in DUR.captures_iter(t) {
        let (Some(n), Some(u)) = (c.get(1), c.get(2)) else {
            continue;
        };
        let Ok(x) = n.as_str().parse::<f64>() else {
            continue;
        };
        if !x.is_finite() || x <= 0.0 || x > 1e7 {
            continue;
        }
        let unit = u.as_str();
        let (secs, ms) = match unit {
            "ms" | "msec" | "msecs" | "millis" | "millisecond" | "milliseconds" | "밀리초" => {
                (x / 1000.0, true)
            }
            "s" | "sec" | "secs" | "second" | "seconds" | "초" => (x, false),
            "m" | "min" | "mins" | "minute" | "minutes" | "분" => (x * 60.0, false),
            _ => (x * 3600.0, false),
        };
        v.push(DurTok {
            start: n.start(),
            end: u.end(),
            d: Duration::from_millis((secs * 1000.0).round() as u64),
            millis_unit: ms,
        });
    }
    for c in WORD_DUR.captures_iter(t) {
        let (Some(all), Some(u)) = (c.get(0), c.get(1)) else {
            continue;
        };
        let half = all.as_str().contains("half");
        let base = match u.as_str() {
            "second" => 1,
            "minute" => 60,
            _ => 3600,
        };
        let ms = if half { base * 500 } else { base * 1000 };
        v.push(DurTok {
            start: all.start() + 4,
            end: all.end(),
            d: Duration::from_millis(ms),
            millis_unit: false,
        });
    }
    v.sort_by_key(|d| d.start);
    v
}

/// Whether the duration token reads as "how long" (for 2m, 2분 동안, during 30s).
fn is_hold(t: &str, d: &DurTok) -> bool {
    let before = &t[..d.start];
    let after = &t[d.end.min(t.len())..];
    let b = before.trim_end();
    b.ends_with("for")
        || b.ends_with("during")
        || b.ends_with("over")
        || b.ends_with("lasting")
        || b.ends_with("hold")
        || b.ends_with("keep")
        || after.trim_start().starts_with("동안")
        || after.starts_with('간')
        || after.trim_start().starts_with("long")
        || after.trim_start().starts_with("간 ")
}

fn fmt_dur(d: Duration) -> HumanDuration {
    HumanDuration::new(d)
}

fn word_count(t: &str) -> Option<u64> {
    const WORDS: &[(&str, u64)] = &[
        ("a single ", 1),
        ("single ", 1),
        ("one ", 1),
        ("a random ", 1),
        ("random pod", 1),
        ("a pod", 1),
        ("a node", 1),
        ("an instance", 1),
        ("one of", 1),
        ("two ", 2),
        ("a couple of", 2),
        ("three ", 3),
        ("four ", 4),
        ("five ", 5),
        ("하나", 1),
        ("한 개", 1),
        ("한개", 1),
        ("한 대", 1),
        ("한대", 1),
        ("1개", 1),
        ("두 개", 2),
        ("두개", 2),
        ("두 대", 2),
        ("둘", 2),
        ("세 개", 3),
        ("세개", 3),
        ("셋", 3),
        ("네 개", 4),
        ("다섯 개", 5),
    ];
    WORDS
        .iter()
        .filter_map(|(w, n)| t.find(w).map(|i| (i, *n)))
        .min_by_key(|(i, _)| *i)
        .map(|(_, n)| n)
}

fn says_all(t: &str) -> bool {
    [
        "all ", "every ", "each ", "모든", "전부", "전체", "싹 다", "다 죽", "entire", "whole",
    ]
    .iter()
    .any(|w| t.contains(w))
}

fn name_ok(n: &str) -> bool {
    !is_stop(n) && n.len() <= 63 && !n.starts_with('-') && !n.ends_with('-')
}

/// Parses a request; see the module docs.
pub fn parse_request(text: &str) -> Result<NlParse, NlUnclear> {
    let raw = text.trim();
    let lower = format!(" {} ", raw.to_lowercase().replace(['\n', '\t'], " "));
    let t = lower.as_str();
    let mut understood: Vec<String> = Vec::new();
    let mut assumptions: Vec<String> = Vec::new();

    let hits = kind_hits(t);
    let kind = PRIORITY.iter().copied().find(|k| hits.contains(k));

    // Values that do not depend on the fault kind.
    let durs = durations(t);
    let pcts: Vec<(usize, usize, f64)> = PCT
        .captures_iter(t)
        .filter_map(|c| {
            let m = c.get(0)?;
            let v: f64 = c.get(1)?.as_str().parse().ok()?;
            Some((m.start(), m.end(), v))
        })
        .collect();
    let namespace = find_namespace(t);
    if let Some(ns) = &namespace {
        understood.push(format!("namespace: {ns}"));
    }
    // A zone such as us-east-1a does not match: the region regex ends on a word boundary.
    let region = REGION
        .captures(t)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string());

    let Some(kind) = kind else {
        if !durs.is_empty() {
            understood.push(format!("duration: {}", fmt_dur(durs[durs.len() - 1].d)));
        }
        let sel = find_selector(t, false);
        if let Some(s) = &sel {
            understood.push(format!("selector: {s}"));
        }
        return Err(unclear(
            "which fault to inject; say e.g. \"kill one pod\", \"add 200ms latency\", \"10% packet loss\", \"stress the CPU\", \"fill 512Mi of memory\", \"partition\", \"cordon a node\", \"stop instance i-...\", \"fail over cluster NAME\", \"blackhole route rtb-...\" or \"take zone us-east-1a down in vpc-...\"",
            understood,
        ));
    };
    understood.insert(0, format!("fault: {kind}"));
    let others: Vec<&str> = hits
        .iter()
        .filter(|k| **k != kind)
        .map(|k| k.as_str())
        .collect();
    // "kill" and "instance" are common words in other requests; only name real alternatives.
    let others: Vec<&str> = others
        .into_iter()
        .filter(|o| !["pod_delete", "ec2_stop", "rds_failover"].contains(o))
        .collect();
    if !others.is_empty() {
        assumptions.push(format!(
            "one experiment holds one fault; made {kind} (the text also mentions {})",
            others.join(", ")
        ));
    }

    // The hold duration, and for latency the delay.
    let mut latency: Option<Duration> = None;
    let mut jitter: Option<Duration> = None;
    if let Some(c) = JITTER.captures(t) {
        let v = c
            .get(1)
            .or_else(|| c.get(2))
            .and_then(|m| m.as_str().parse::<u64>().ok());
        jitter = v.map(Duration::from_millis);
    }
    let jitter_span = JITTER.find(t).map(|m| (m.start(), m.end()));
    let durs: Vec<DurTok> = durs
        .into_iter()
        .filter(|d| jitter_span.is_none_or(|(s, e)| d.end <= s || d.start >= e))
        .collect();
    let mut hold: Option<Duration> = durs.iter().find(|d| is_hold(t, d)).map(|d| d.d);
    if kind == FaultKind::NetworkLatency {
        latency = durs
            .iter()
            .find(|d| d.millis_unit && !is_hold(t, d))
            .or_else(|| durs.iter().find(|d| !is_hold(t, d) && hold.is_some()))
            .map(|d| d.d);
        if hold.is_none() {
            hold = durs
                .iter()
                .find(|d| Some(d.d) != latency && !d.millis_unit)
                .map(|d| d.d);
        }
    } else if hold.is_none() {
        hold = durs.iter().find(|d| !d.millis_unit).map(|d| d.d);
    }
    let duration = match hold {
        Some(d) if !d.is_zero() => {
            understood.push(format!("duration: {}", fmt_dur(d)));
            fmt_dur(d)
        }
        _ => {
            let d = default_duration(kind);
            assumptions.push(format!("no duration given; holding the fault for {d}"));
            d
        }
    };

    // Count / share.
    let share_pct = pcts
        .iter()
        .find(|(_, e, _)| is_share_of_targets(&t[*e..]))
        .map(|(_, _, v)| *v);
    let all = says_all(t);
    let count: Option<Amount> = if let Some(p) =
        share_pct.or_else(|| (t.contains("half of") || t.contains("절반")).then_some(50.0))
    {
        Some(Amount::Percent(p.clamp(0.0, 100.0)))
    } else if let Some(n) = NUM_NOUN
        .captures(t)
        .or_else(|| NOUN_NUM.captures(t))
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse::<u64>().ok())
    {
        Some(Amount::Count(n))
    } else if all {
        None
    } else {
        word_count(t).map(Amount::Count)
    };
    match (&count, all) {
        (Some(c), _) => understood.push(format!("count: {c}")),
        (None, true) => understood.push("count: all matching".into()),
        _ => {}
    }

    let name = format!("{}-{}", kind.as_str().replace('_', "-"), short_hash(raw));
    let mut safety = SafetySpec::default();

    let (fault, target) = match kind {
        FaultKind::PodDelete
        | FaultKind::NetworkLatency
        | FaultKind::NetworkLoss
        | FaultKind::CpuStress
        | FaultKind::MemoryStress
        | FaultKind::NetworkPartition => {
            let selector = find_selector(t, true);
            let names: Vec<String> = POD_NAMED
                .captures_iter(t)
                .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
                .filter(|n| name_ok(n))
                .collect();
            if let Some(s) = &selector {
                understood.push(format!("selector: {s}"));
            }
            if !names.is_empty() {
                understood.push(format!("pods: {}", names.join(", ")));
            }
            if selector.is_none() && names.is_empty() && !all {
                return Err(unclear(
                    "which pods; name them by app (\"checkout pods\"), a label selector (app=checkout) or by name (\"pod named web-0\")",
                    understood,
                ));
            }
            let ns = match namespace.clone() {
                Some(n) => n,
                None => {
                    assumptions.push("no namespace given; assumed `default`".into());
                    "default".into()
                }
            };
            let count = match (count, kind, all) {
                (Some(c), _, _) => Some(c),
                (None, FaultKind::PodDelete, false) => {
                    assumptions.push("no count given; deleting 1 matching pod".into());
                    Some(Amount::Count(1))
                }
                _ => None,
            };
            let target = Target::Pods(PodTarget {
                namespace: ns,
                selector,
                names,
                count,
                container: None,
            });
            let fault = pod_fault(
                kind,
                t,
                &pcts,
                latency,
                jitter,
                &mut understood,
                &mut assumptions,
            );
            (fault, target)
        }
        FaultKind::NodeCordon => {
            let mut names: Vec<String> = NODE_NAME
                .captures_iter(t)
                .chain(NODE_NAME2.captures_iter(t))
                .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
                .filter(|n| name_ok(n) && !ZONE.is_match(n) && !REGION.is_match(n))
                .collect();
            names.dedup();
            let mut selector = find_selector(t, false);
            if selector.is_none()
                && let Some(z) = ZONE.captures(t).and_then(|c| c.get(1))
            {
                selector =
                    LabelSelector::parse(&format!("topology.kubernetes.io/zone={}", z.as_str()))
                        .ok();
            }
            if selector.is_none() && names.is_empty() && !all {
                selector = LabelSelector::parse("!node-role.kubernetes.io/control-plane").ok();
                assumptions.push(
                    "no node named; choosing among nodes without the control-plane role".into(),
                );
            }
            if let Some(s) = &selector {
                understood.push(format!("node selector: {s}"));
            }
            if !names.is_empty() {
                understood.push(format!("nodes: {}", names.join(", ")));
            }
            let drain = ["drain", "드레인", "비우", "evict"]
                .iter()
                .any(|w| t.contains(w));
            if drain {
                understood.push("drain: yes".into());
            }
            let count = match count {
                Some(c) => Some(c),
                None if names.is_empty() && !all => {
                    assumptions.push("no count given; cordoning 1 node".into());
                    Some(Amount::Count(1))
                }
                None => None,
            };
            let grace = GRACE
                .captures(t)
                .and_then(|c| c.get(1))
                .and_then(|m| m.as_str().parse::<u64>().ok())
                .map(HumanDuration::from_secs);
            (
                FaultSpec::NodeCordon(NodeCordon {
                    drain,
                    grace_period: grace,
                }),
                Target::Nodes(NodeTarget {
                    selector,
                    names,
                    count,
                }),
            )
        }
        FaultKind::Ec2Stop => {
            let ids: Vec<String> = INSTANCE_ID
                .find_iter(t)
                .map(|m| m.as_str().to_string())
                .collect();
            let mut tags: BTreeMap<String, String> = TAG
                .captures_iter(&format!(" {} ", raw))
                .filter_map(|c| {
                    Some((
                        c.get(1)?.as_str().to_string(),
                        c.get(2)?.as_str().to_string(),
                    ))
                })
                .collect();
            if tags.is_empty() && ids.is_empty() {
                for c in SELECTOR_EQ.captures_iter(raw) {
                    if let (Some(k), Some(op), Some(v)) = (c.get(1), c.get(2), c.get(3))
                        && op.as_str() != "!="
                    {
                        tags.insert(k.as_str().to_string(), v.as_str().to_string());
                    }
                }
            }
            if ids.is_empty() && tags.is_empty() {
                return Err(unclear(
                    "which EC2 instances; give instance ids (i-0123456789abcdef0) or a tag (tagged env=staging)",
                    understood,
                ));
            }
            if !ids.is_empty() {
                understood.push(format!("instances: {}", ids.join(", ")));
            }
            for (k, v) in &tags {
                understood.push(format!("tag: {k}={v}"));
            }
            if let Some(r) = &region {
                understood.push(format!("region: {r}"));
            }
            let force = ["force", "강제", "hard stop"].iter().any(|w| t.contains(w));
            if force {
                understood.push("force: yes".into());
            }
            let count = match count {
                Some(c) => Some(c),
                None if ids.is_empty() && !all => {
                    assumptions.push("no count given; stopping 1 matching instance".into());
                    Some(Amount::Count(1))
                }
                None => None,
            };
            let asg = ["auto scaling", "autoscaling", "asg", "오토스케일링"]
                .iter()
                .any(|w| t.contains(w));
            (
                FaultSpec::Ec2Stop(Ec2Stop {
                    force,
                    allow_auto_scaling: asg,
                }),
                Target::Instances(InstanceTarget {
                    ids,
                    tags,
                    region: region.clone(),
                    count,
                }),
            )
        }
        FaultKind::RdsFailover => {
            let inst = DBINST1
                .captures(t)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_string())
                .filter(|n| name_ok(n));
            let cluster = CLUSTER1
                .captures_iter(t)
                .chain(CLUSTER2.captures_iter(t))
                .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
                .find(|n| name_ok(n));
            let inst = inst.or_else(|| {
                if cluster.is_some() {
                    return None;
                }
                DBINST2
                    .captures_iter(t)
                    .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
                    .find(|n| name_ok(n))
            });
            let target_instance = FAILOVER_TO
                .captures_iter(t)
                .filter_map(|c| {
                    c.get(1)
                        .or_else(|| c.get(2))
                        .map(|m| m.as_str().to_string())
                })
                .find(|n| name_ok(n) && Some(n) != cluster.as_ref());
            let fail_back = [
                "fail back",
                "failback",
                "and back",
                "then back",
                "원복",
                "되돌",
                "다시 원래",
            ]
            .iter()
            .any(|w| t.contains(w));
            let target = match (cluster, inst) {
                (Some(c), _) => {
                    understood.push(format!("db cluster: {c}"));
                    Target::DbCluster(DbClusterTarget {
                        id: c,
                        region: region.clone(),
                    })
                }
                (None, Some(i)) => {
                    understood.push(format!("db instance: {i}"));
                    Target::DbInstance(DbInstanceTarget {
                        id: i,
                        region: region.clone(),
                    })
                }
                (None, None) => {
                    return Err(unclear(
                        "which database; name the cluster (\"cluster orders-db\") or the instance (\"db instance orders-1\")",
                        understood,
                    ));
                }
            };
            let target_instance = match &target {
                Target::DbCluster(_) => target_instance,
                _ => None,
            };
            if let Some(ti) = &target_instance {
                understood.push(format!("promote: {ti}"));
            }
            if fail_back {
                understood.push("fail back: yes".into());
            }
            (
                FaultSpec::RdsFailover(RdsFailover {
                    target_instance,
                    fail_back,
                }),
                target,
            )
        }
        FaultKind::RouteBlackhole => {
            let Some(rtb) = RTB.find(t).map(|m| m.as_str().to_string()) else {
                return Err(unclear(
                    "which route table; give its id (rtb-0123abcd) and the destination CIDR (0.0.0.0/0)",
                    understood,
                ));
            };
            understood.push(format!("route table: {rtb}"));
            let cidr = match CIDR.captures(t).and_then(|c| c.get(1)) {
                Some(c) => {
                    understood.push(format!("destination: {}", c.as_str()));
                    c.as_str().to_string()
                }
                None => {
                    assumptions.push(
                        "no destination CIDR given; using the default route 0.0.0.0/0".into(),
                    );
                    "0.0.0.0/0".into()
                }
            };
            (
                FaultSpec::RouteBlackhole(RouteBlackhole {}),
                Target::Route(RouteTarget {
                    route_table: rtb,
                    destination_cidr: cidr,
                    region: region.clone(),
                }),
            )
        }
        FaultKind::AzOutage => {
            let zone = ZONE
                .captures(t)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_string());
            let vpc = VPC.find(t).map(|m| m.as_str().to_string());
            if let Some(z) = &zone {
                understood.push(format!("zone: {z}"));
            }
            if let Some(v) = &vpc {
                understood.push(format!("vpc: {v}"));
            }
            let (Some(zone), Some(vpc)) = (zone, vpc) else {
                return Err(unclear(
                    "the zone and the VPC; say e.g. \"take us-east-1a down in vpc-0a1b2c3d\"",
                    understood,
                ));
            };
            // One zone of a typical three: cap what a single experiment may cut.
            safety.blast_radius = Some(Amount::Percent(34.0));
            let region = region.or_else(|| Some(zone[..zone.len() - 1].to_string()));
            (
                FaultSpec::AzOutage(AzOutage {}),
                Target::AvailabilityZone(AzTarget { vpc, zone, region }),
            )
        }
    };

    let hypothesis = super::hypothesis::template(kind, &target, &fault, duration);
    let doc = ExperimentDoc {
        api_version: API_VERSION.into(),
        kind: "Experiment".into(),
        metadata: Metadata {
            name,
            labels: BTreeMap::from([("chaosduck.io/generated-by".into(), "ai-offline".into())]),
            description: Some(truncate_chars(&super::redact::redact(raw), 300)),
        },
        spec: ExperimentSpec {
            fault,
            target,
            duration,
            safety,
            hypothesis: Some(hypothesis),
            probes: Vec::new(),
            ai: None,
        },
    };
    Ok(NlParse {
        doc,
        understood,
        assumptions,
    })
}

#[allow(clippy::too_many_arguments)]
fn pod_fault(
    kind: FaultKind,
    t: &str,
    pcts: &[(usize, usize, f64)],
    latency: Option<Duration>,
    jitter: Option<Duration>,
    understood: &mut Vec<String>,
    assumptions: &mut Vec<String>,
) -> FaultSpec {
    let ports: Vec<u16> = PORT
        .captures(t)
        .and_then(|c| c.get(1))
        .map(|m| {
            m.as_str()
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|p| p.parse::<u16>().ok())
                .filter(|p| *p > 0)
                .collect()
        })
        .unwrap_or_default();
    let cidr = CIDR
        .captures(t)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string());
    if !ports.is_empty() {
        understood.push(format!(
            "ports: {}",
            ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(c) = &cidr {
        understood.push(format!("destination: {c}"));
    }
    // A percentage that is not "N% of the pods".
    let value_pct = pcts
        .iter()
        .find(|(_, e, _)| !is_share_of_targets(&t[*e..]))
        .map(|(_, _, v)| *v);
    match kind {
        FaultKind::PodDelete => {
            let force = [
                "force",
                "immediately",
                "강제",
                "즉시",
                "grace period 0",
                "no grace",
            ]
            .iter()
            .any(|w| t.contains(w));
            let grace = GRACE
                .captures(t)
                .and_then(|c| c.get(1))
                .and_then(|m| m.as_str().parse::<u64>().ok())
                .map(HumanDuration::from_secs)
                .or(force.then(|| HumanDuration::from_secs(0)));
            if let Some(g) = grace {
                understood.push(format!("grace period: {g}"));
            }
            FaultSpec::PodDelete(PodDelete {
                grace_period: grace,
            })
        }
        FaultKind::NetworkLatency => {
            let l = match latency {
                Some(l) => {
                    understood.push(format!("latency: {}", fmt_dur(l)));
                    l
                }
                None => {
                    assumptions.push("no delay given; adding 100ms".into());
                    Duration::from_millis(100)
                }
            };
            if let Some(j) = jitter {
                understood.push(format!("jitter: {}", fmt_dur(j)));
            }
            FaultSpec::NetworkLatency(NetworkLatency {
                latency: fmt_dur(l),
                jitter: jitter.map(fmt_dur),
                correlation: None,
                interface: None,
                destination_cidr: cidr,
                ports,
                injection: Default::default(),
                container: None,
            })
        }
        FaultKind::NetworkLoss => {
            let p = match value_pct {
                Some(p) => {
                    understood.push(format!("loss: {p}%"));
                    p
                }
                None => {
                    assumptions.push("no loss rate given; dropping 10% of packets".into());
                    10.0
                }
            };
            FaultSpec::NetworkLoss(NetworkLoss {
                percent: Percent(p.clamp(0.0, 100.0)),
                correlation: None,
                interface: None,
                destination_cidr: cidr,
                ports,
                injection: Default::default(),
                container: None,
            })
        }
        FaultKind::CpuStress => {
            let workers = WORKERS
                .captures(t)
                .or_else(|| WORKERS_KO.captures(t))
                .and_then(|c| c.get(1))
                .and_then(|m| m.as_str().parse::<u32>().ok());
            if let Some(w) = workers {
                understood.push(format!("workers: {w}"));
            }
            let load = value_pct.unwrap_or(100.0).clamp(1.0, 100.0);
            if value_pct.is_some() {
                understood.push(format!("load: {load}%"));
            }
            FaultSpec::CpuStress(CpuStress {
                workers: workers.unwrap_or(1),
                load: Percent(load),
                injection: Default::default(),
                container: None,
            })
        }
        FaultKind::MemoryStress => {
            let size = SIZE.captures(t).and_then(|c| {
                let n: f64 = c.get(1)?.as_str().parse().ok()?;
                let unit = c.get(2)?.as_str();
                let mib = match unit {
                    "gib" | "gi" | "gb" | "g" | "기가" | "기가바이트" => n * 1024.0,
                    "kib" | "ki" | "kb" => n / 1024.0,
                    _ => n,
                };
                let mib = mib.round() as u64;
                (mib > 0).then_some(ByteSize(mib << 20))
            });
            let size = match size {
                Some(s) => {
                    understood.push(format!("size: {s}"));
                    s
                }
                None => {
                    assumptions.push("no size given; allocating 256Mi".into());
                    ByteSize(256 << 20)
                }
            };
            let workers = WORKERS
                .captures(t)
                .and_then(|c| c.get(1))
                .and_then(|m| m.as_str().parse::<u32>().ok())
                .filter(|w| (1..=64).contains(w));
            FaultSpec::MemoryStress(MemoryStress {
                size,
                workers: workers.unwrap_or(1),
                injection: Default::default(),
                container: None,
            })
        }
        _ => {
            let ingress = [
                "ingress",
                "inbound",
                "incoming",
                "인바운드",
                "들어오는",
                "수신",
            ]
            .iter()
            .any(|w| t.contains(w));
            let egress = [
                "egress",
                "outbound",
                "outgoing",
                "아웃바운드",
                "나가는",
                "송신",
            ]
            .iter()
            .any(|w| t.contains(w));
            let direction = match (ingress, egress) {
                (true, false) => Direction::Ingress,
                (false, true) => Direction::Egress,
                _ => Direction::Both,
            };
            understood.push(format!("direction: {direction:?}").to_lowercase());
            FaultSpec::NetworkPartition(NetworkPartition { direction })
        }
    }
}

/// Whether a percentage is followed by "of the pods" ("25% of the cart pods", "절반의"), as
/// opposed to "of packets" or a load.
fn is_share_of_targets(after_pct: &str) -> bool {
    let after = after_pct.trim_start();
    let of_traffic = [
        "of packets",
        "of traffic",
        "of the packets",
        "of the traffic",
        "of requests",
        "of cpu",
    ]
    .iter()
    .any(|w| after.starts_with(w));
    (after.starts_with("of ") && !of_traffic) || after.starts_with('의')
}

fn default_duration(kind: FaultKind) -> HumanDuration {
    match kind {
        FaultKind::PodDelete => HumanDuration::from_secs(60),
        FaultKind::RdsFailover | FaultKind::Ec2Stop => HumanDuration::from_secs(300),
        FaultKind::AzOutage | FaultKind::NodeCordon => HumanDuration::from_secs(300),
        _ => HumanDuration::from_secs(60),
    }
}

fn find_namespace(t: &str) -> Option<String> {
    for r in [&*NS2, &*NS1, &*NS3] {
        for c in r.captures_iter(t) {
            if let Some(m) = c.get(1)
                && name_ok(m.as_str())
                && m.as_str() != "namespace"
            {
                return Some(m.as_str().to_string());
            }
        }
    }
    if let Some(k) = NS_KUBE.captures(t).and_then(|c| c.get(1)) {
        return Some(k.as_str().to_string());
    }
    // "... in shop" at the end of a clause: a namespace, unless it is a region or a zone.
    NS_IN
        .captures_iter(t)
        .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
        .find(|n| {
            name_ok(n)
                && !REGION.is_match(n)
                && !ZONE.is_match(n)
                && !n.starts_with("vpc-")
                && !n.starts_with("rtb-")
        })
}

/// A label selector: written explicitly (app=web, tier in (a,b)), or read from "checkout pods",
/// "nginx 파드", "pods of the cart service".
fn find_selector(t: &str, from_words: bool) -> Option<LabelSelector> {
    let mut clauses: Vec<String> = Vec::new();
    for c in SELECTOR_IN.captures_iter(t) {
        if let (Some(k), Some(op), Some(vs)) = (c.get(1), c.get(2), c.get(3)) {
            clauses.push(format!(
                "{} {} ({})",
                k.as_str(),
                op.as_str(),
                vs.as_str().replace(' ', "")
            ));
        }
    }
    for c in SELECTOR_EQ.captures_iter(t) {
        if let (Some(k), Some(op), Some(v)) = (c.get(1), c.get(2), c.get(3)) {
            let key = k.as_str();
            if ["namespace", "ns", "네임스페이스"].contains(&key) {
                continue;
            }
            clauses.push(format!("{key}{}{}", op.as_str(), v.as_str()));
        }
    }
    if clauses.is_empty() && from_words {
        let cand = APP_BEFORE
            .captures_iter(t)
            .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
            .find(|n| name_ok(n) && !n.starts_with("kube-") && !looks_like_namespace_word(t, n))
            .or_else(|| {
                APP_AFTER
                    .captures_iter(t)
                    .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
                    .find(|n| name_ok(n) && !looks_like_namespace_word(t, n))
            });
        if let Some(app) = cand {
            clauses.push(format!("app={app}"));
        }
    }
    if clauses.is_empty() {
        return None;
    }
    LabelSelector::parse(&clauses.join(",")).ok()
}

fn looks_like_namespace_word(t: &str, n: &str) -> bool {
    find_namespace(t).as_deref() == Some(n)
        && !t.contains(&format!("{n} pod"))
        && !t.contains(&format!("{n} 파드"))
}

fn unclear(missing: &str, understood: Vec<String>) -> NlUnclear {
    let got = if understood.is_empty() {
        "nothing I could use".to_string()
    } else {
        understood.join("; ")
    };
    NlUnclear {
        message: format!(
            "I could not make an experiment: I need {missing}. Understood so far: {got}."
        ),
        understood,
    }
}

fn short_hash(s: &str) -> String {
    // FNV-1a: stable across runs and platforms, so the same request gives the same name.
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{:06x}", h & 0xff_ffff)
}

/// Truncates to at most `n` characters, on a character boundary.
pub fn truncate_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_regexes_compile() {
        for r in [
            &*DUR,
            &*WORD_DUR,
            &*PCT,
            &*SELECTOR_EQ,
            &*SELECTOR_IN,
            &*NS1,
            &*NS2,
            &*NS3,
            &*NS_KUBE,
            &*APP_BEFORE,
            &*APP_AFTER,
            &*NUM_NOUN,
            &*NOUN_NUM,
            &*INSTANCE_ID,
            &*TAG,
            &*REGION,
            &*ZONE,
            &*VPC,
            &*RTB,
            &*CIDR,
            &*CLUSTER1,
            &*CLUSTER2,
            &*DBINST1,
            &*DBINST2,
            &*FAILOVER_TO,
            &*NODE_NAME,
            &*NODE_NAME2,
            &*WORKERS,
            &*WORKERS_KO,
            &*SIZE,
            &*JITTER,
            &*PORT,
            &*GRACE,
            &*POD_NAMED,
        ] {
            assert!(!r.as_str().is_empty());
        }
    }

    #[test]
    fn latency_and_hold_are_told_apart() {
        let p = parse_request("add 200ms latency to checkout pods for 2 minutes").unwrap();
        let FaultSpec::NetworkLatency(l) = &p.doc.spec.fault else {
            panic!("{:?}", p.doc.spec.fault)
        };
        assert_eq!(l.latency.get(), Duration::from_millis(200));
        assert_eq!(p.doc.spec.duration.get(), Duration::from_secs(120));
    }
}
