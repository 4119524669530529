//! Injector ephemeral containers: the fault contract read from their environment, their
//! lifecycle in `status.ephemeralContainerStatuses`, and the effects they have on a pod.
//!
//! Contract (the fault engine writes exactly this): container name starts with `chaosduck-`;
//! env `CHAOSDUCK_EXPERIMENT`, `CHAOSDUCK_FAULT` (network_latency | network_loss | cpu_stress |
//! memory_stress), `CHAOSDUCK_DURATION_SECONDS`, `CHAOSDUCK_LATENCY_MS`, `CHAOSDUCK_JITTER_MS`,
//! `CHAOSDUCK_LOSS_PERCENT`, `CHAOSDUCK_CORRELATION_PERCENT`, `CHAOSDUCK_CPU_WORKERS`,
//! `CHAOSDUCK_CPU_LOAD_PERCENT`, `CHAOSDUCK_MEMORY_BYTES`. The command is never parsed.
//! With `injection: exec` the same variables arrive as `env NAME=VALUE ...` arguments of an exec
//! into an app container, plus `CHAOSDUCK_PID_FILE`; the sandbox keeps such an injector as a
//! simulated process of that pod (see `ExecProcess`).

use std::time::Duration;

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus,
    EphemeralContainer, Pod,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Prefix of injector container names.
pub const INJECTOR_PREFIX: &str = "chaosduck-";

/// The fault an injector applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Adds latency (and jitter) to traffic.
    NetworkLatency,
    /// Drops a share of traffic.
    NetworkLoss,
    /// Burns CPU.
    CpuStress,
    /// Allocates memory.
    MemoryStress,
}

impl FaultKind {
    fn parse(s: &str) -> Option<FaultKind> {
        Some(match s {
            "network_latency" => FaultKind::NetworkLatency,
            "network_loss" => FaultKind::NetworkLoss,
            "cpu_stress" => FaultKind::CpuStress,
            "memory_stress" => FaultKind::MemoryStress,
            _ => return None,
        })
    }
}

/// An injector's declared parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Injector {
    /// Container name.
    pub container: String,
    /// Experiment id.
    pub experiment: String,
    /// The fault.
    pub fault: FaultKind,
    /// How long it runs.
    pub duration: Duration,
    /// Added latency.
    pub latency_ms: u64,
    /// Latency jitter.
    pub jitter_ms: u64,
    /// Share of requests dropped, 0–100.
    pub loss_percent: f64,
    /// Loss correlation, 0–100 (accepted; the simulation draws independently).
    pub correlation_percent: f64,
    /// CPU stress workers.
    pub cpu_workers: u32,
    /// CPU load per worker, 0–100.
    pub cpu_load_percent: u32,
    /// Memory to allocate.
    pub memory_bytes: u64,
}

/// Reads an injector's parameters from its environment. `None` for containers that are not
/// injectors; `Some(Err)` for injectors with a broken contract.
pub fn parse_injector(c: &EphemeralContainer) -> Option<Result<Injector, String>> {
    if !c.name.starts_with(INJECTOR_PREFIX) {
        return None;
    }
    let env = |k: &str| -> Option<String> {
        c.env
            .as_ref()?
            .iter()
            .find(|e| e.name == k)
            .and_then(|e| e.value.clone())
    };
    Some(parse_env(&c.name, env))
}

/// The `NAME=VALUE` assignments an exec command passes through `env` before the program
/// (`env CHAOSDUCK_FAULT=... sh -c ...`); empty when it does not start with `env`.
pub fn exec_env(command: &[String]) -> Vec<(String, String)> {
    if command.first().map(String::as_str) != Some("env") {
        return Vec::new();
    }
    command[1..]
        .iter()
        .map_while(|a| {
            let (k, v) = a.split_once('=')?;
            (!k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
                .then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// An injector started by exec inside an app container (`injection: exec`): a simulated
/// process that runs until stopped or until its duration is over.
#[derive(Debug, Clone)]
pub struct ExecProcess {
    /// The app container it runs in.
    pub container: String,
    /// Its pidfile, which the stop and check commands name.
    pub pid_file: String,
    /// The fault it applies.
    pub injector: Injector,
    /// When it started.
    pub started: std::time::Instant,
}

impl ExecProcess {
    /// Whether it still runs (it expires on its own, like the real script).
    pub fn running(&self) -> bool {
        self.started.elapsed() < self.injector.duration
    }
}

/// Reads the injector an exec start command declares (`None` without `CHAOSDUCK_FAULT`).
pub fn parse_exec_injector(
    container: &str,
    command: &[String],
) -> Option<Result<(String, Injector), String>> {
    let vars = exec_env(command);
    let env = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    env("CHAOSDUCK_FAULT")?;
    let Some(pid_file) = env("CHAOSDUCK_PID_FILE").filter(|p| !p.is_empty()) else {
        return Some(Err("CHAOSDUCK_PID_FILE is not set".into()));
    };
    Some(parse_env(container, env).map(|i| (pid_file, i)))
}

fn parse_env(container: &str, env: impl Fn(&str) -> Option<String>) -> Result<Injector, String> {
    let num = |k: &str| -> Result<Option<f64>, String> {
        match env(k) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| format!("{k}={v:?} is not a number")),
        }
    };
    let parse = || -> Result<Injector, String> {
        let fault_s = env("CHAOSDUCK_FAULT").ok_or("CHAOSDUCK_FAULT is not set")?;
        let fault = FaultKind::parse(&fault_s)
            .ok_or_else(|| format!("unknown CHAOSDUCK_FAULT {fault_s:?}"))?;
        let duration =
            num("CHAOSDUCK_DURATION_SECONDS")?.ok_or("CHAOSDUCK_DURATION_SECONDS is not set")?;
        if !(duration.is_finite() && duration > 0.0 && duration < 1e9) {
            return Err(format!(
                "CHAOSDUCK_DURATION_SECONDS={duration} is out of range"
            ));
        }
        let pct = |v: Option<f64>| v.unwrap_or(0.0).clamp(0.0, 100.0);
        let nonneg = |v: Option<f64>| {
            if v.is_some_and(|x| x.is_finite() && x > 0.0) {
                v.unwrap_or(0.0)
            } else {
                0.0
            }
        };
        Ok(Injector {
            container: container.to_string(),
            experiment: env("CHAOSDUCK_EXPERIMENT").unwrap_or_default(),
            fault,
            duration: Duration::from_secs_f64(duration),
            latency_ms: nonneg(num("CHAOSDUCK_LATENCY_MS")?).min(600_000.0) as u64,
            jitter_ms: nonneg(num("CHAOSDUCK_JITTER_MS")?).min(600_000.0) as u64,
            loss_percent: pct(num("CHAOSDUCK_LOSS_PERCENT")?),
            correlation_percent: pct(num("CHAOSDUCK_CORRELATION_PERCENT")?),
            cpu_workers: nonneg(num("CHAOSDUCK_CPU_WORKERS")?).min(1024.0) as u32,
            cpu_load_percent: pct(num("CHAOSDUCK_CPU_LOAD_PERCENT")?) as u32,
            memory_bytes: nonneg(num("CHAOSDUCK_MEMORY_BYTES")?).min(1e15) as u64,
        })
    };
    parse()
}

fn status_of<'a>(pod: &'a Pod, name: &str) -> Option<&'a ContainerStatus> {
    pod.status
        .as_ref()?
        .ephemeral_container_statuses
        .as_ref()?
        .iter()
        .find(|s| s.name == name)
}

/// Whether the named ephemeral container is running.
pub fn is_running(pod: &Pod, name: &str) -> bool {
    status_of(pod, name)
        .and_then(|s| s.state.as_ref())
        .is_some_and(|s| s.running.is_some())
}

/// Injectors of `pod` that are running now.
pub fn active_injectors(pod: &Pod) -> Vec<Injector> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    spec.ephemeral_containers
        .iter()
        .flatten()
        .filter(|c| is_running(pod, &c.name))
        .filter_map(|c| parse_injector(c).and_then(Result::ok))
        .collect()
}

/// The combined effect of the running injectors on one pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodEffects {
    /// Added latency.
    pub latency_ms: u64,
    /// Jitter on the added latency.
    pub jitter_ms: u64,
    /// Share of requests dropped, 0–100.
    pub loss_percent: f64,
    /// Simulated CPU use in millicores.
    pub cpu_millicores: u64,
    /// Simulated memory use in bytes.
    pub memory_bytes: u64,
}

/// Baseline simulated CPU of an idle app pod, in millicores.
pub const BASE_CPU_MILLICORES: u64 = 20;
/// Baseline simulated memory of an app pod.
pub const BASE_MEMORY_BYTES: u64 = 64 * 1024 * 1024;

/// Effects of the running injector containers on `pod`.
pub fn effects(pod: &Pod) -> PodEffects {
    effects_with(pod, &[])
}

/// Effects of the running injector containers and exec injectors (`exec`) on `pod`.
pub fn effects_with(pod: &Pod, exec: &[Injector]) -> PodEffects {
    let mut e = PodEffects {
        cpu_millicores: BASE_CPU_MILLICORES,
        memory_bytes: BASE_MEMORY_BYTES,
        ..Default::default()
    };
    for inj in active_injectors(pod).iter().chain(exec) {
        match inj.fault {
            FaultKind::NetworkLatency => {
                e.latency_ms += inj.latency_ms;
                e.jitter_ms += inj.jitter_ms;
            }
            FaultKind::NetworkLoss => {
                // Independent drops combine: 1 - (1-a)(1-b).
                let keep = (1.0 - e.loss_percent / 100.0) * (1.0 - inj.loss_percent / 100.0);
                e.loss_percent = (1.0 - keep) * 100.0;
            }
            FaultKind::CpuStress => {
                e.cpu_millicores +=
                    u64::from(inj.cpu_workers.max(1)) * u64::from(inj.cpu_load_percent.max(1)) * 10;
            }
            FaultKind::MemoryStress => e.memory_bytes += inj.memory_bytes,
        }
    }
    e
}

fn now() -> Time {
    Time(Timestamp::now())
}

/// Marks the named ephemeral container terminated. Returns whether it was running.
pub fn terminate(
    pod: &mut Pod,
    name: &str,
    exit_code: i32,
    reason: &str,
    message: Option<String>,
) -> bool {
    let Some(statuses) = pod
        .status
        .as_mut()
        .and_then(|s| s.ephemeral_container_statuses.as_mut())
    else {
        return false;
    };
    let Some(st) = statuses.iter_mut().find(|s| s.name == name) else {
        return false;
    };
    let Some(started) = st
        .state
        .as_ref()
        .and_then(|s| s.running.as_ref())
        .map(|r| r.started_at.clone())
    else {
        return false;
    };
    st.state = Some(ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code,
            reason: Some(reason.to_string()),
            message,
            started_at: started,
            finished_at: Some(now()),
            ..Default::default()
        }),
        ..Default::default()
    });
    st.started = Some(false);
    true
}

/// The kubelet's part for ephemeral containers: start new ones, end injectors whose duration
/// is over, reject injectors with a broken contract. Returns whether `pod` changed.
pub fn reconcile_ephemeral(pod: &mut Pod) -> bool {
    let Some(spec) = pod.spec.clone() else {
        return false;
    };
    let mut changed = false;
    for c in spec.ephemeral_containers.iter().flatten() {
        if status_of(pod, &c.name).is_none() {
            let started = now();
            let mut state = ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(started.clone()),
                }),
                ..Default::default()
            };
            if let Some(Err(msg)) = parse_injector(c) {
                tracing::warn!(container = %c.name, %msg, "injector rejected by the sandbox");
                state = ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: 2,
                        reason: Some("Error".into()),
                        message: Some(msg),
                        started_at: Some(started.clone()),
                        finished_at: Some(started),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
            }
            let running = state.running.is_some();
            let status = pod.status.get_or_insert_with(Default::default);
            status
                .ephemeral_container_statuses
                .get_or_insert_with(Vec::new)
                .push(ContainerStatus {
                    name: c.name.clone(),
                    image: c.image.clone().unwrap_or_default(),
                    image_id: format!("sandbox://{}", c.image.clone().unwrap_or_default()),
                    container_id: Some(format!("sandbox://{}", uuid::Uuid::now_v7())),
                    ready: false,
                    restart_count: 0,
                    started: Some(running),
                    state: Some(state),
                    ..Default::default()
                });
            changed = true;
            continue;
        }
        if let Some(Ok(inj)) = parse_injector(c)
            && let Some(started) = status_of(pod, &c.name)
                .and_then(|s| s.state.as_ref())
                .and_then(|s| s.running.as_ref())
                .and_then(|r| r.started_at.as_ref())
        {
            let end = started
                .0
                .checked_add(SignedDuration::try_from(inj.duration).unwrap_or(SignedDuration::MAX));
            if end.is_ok_and(|end| Timestamp::now() >= end) {
                changed |= terminate(pod, &c.name, 0, "Completed", None);
            }
        }
    }
    changed
}
