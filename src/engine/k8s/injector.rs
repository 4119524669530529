//! Injector ephemeral containers: the self-expiring way network and stress faults reach a pod.
//!
//! An injector is an ephemeral container named `chaosduck-<experiment>-<n>` whose environment
//! declares the fault (the contract the sandbox also reads: `CHAOSDUCK_FAULT`,
//! `CHAOSDUCK_DURATION_SECONDS`, `CHAOSDUCK_LATENCY_MS`, ...). Its shell script applies the fault,
//! waits for the planned duration, then removes exactly what it added — also on TERM — so a
//! fault outlives a dead ChaosDuck by at most its duration. Network faults use the reserved
//! qdisc handle `1337:` so removal never touches another qdisc. The script writes its pid to
//! `/tmp/chaosduck.pid` (removed when it ends); revert execs `kill -TERM` on that pid (never
//! pid 1, which with a shared process namespace would be the pod's pause container) and then
//! verifies the container exited.
//! With `injection: exec` the same scripts run inside the target container (see `exec_injector`).

use super::{
    K8sBackend, K8sError, exec_injector, is_not_found, plan_of, pod_target, short_id, targets,
};
use crate::domain::ExperimentDoc;
use crate::domain::fault::InjectionMode;
use crate::engine::PlanContext;
use crate::engine::plan::{Action, Plan, PlannedStep, TargetRef};
use crate::safety::journal::UndoRecord;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, Patch, PatchParams};
use std::time::{Duration, Instant};

/// The network injector's script (POSIX sh + iproute2 `tc`).
pub const NETWORK_SCRIPT: &str = r#"set -u
echo $$ > "${CHAOSDUCK_PID_FILE:-/tmp/chaosduck.pid}" 2>/dev/null || true
IF="${CHAOSDUCK_INTERFACE:-eth0}"
H=1337
cleanup() { tc qdisc del dev "$IF" root handle "$H": 2>/dev/null; rm -f "${CHAOSDUCK_PID_FILE:-/tmp/chaosduck.pid}"; echo "chaosduck: fault removed from $IF"; exit 0; }
trap cleanup TERM INT HUP
case "$CHAOSDUCK_FAULT" in
  network_latency) NETEM="delay ${CHAOSDUCK_LATENCY_MS}ms ${CHAOSDUCK_JITTER_MS:-0}ms ${CHAOSDUCK_CORRELATION_PERCENT:-0}%" ;;
  network_loss) NETEM="loss ${CHAOSDUCK_LOSS_PERCENT}% ${CHAOSDUCK_CORRELATION_PERCENT:-0}%" ;;
  *) echo "chaosduck: unknown fault $CHAOSDUCK_FAULT" >&2; exit 2 ;;
esac
# A qdisc left under our reserved handle by an earlier injector is ours to replace.
tc qdisc del dev "$IF" root handle "$H": 2>/dev/null
if [ -n "${CHAOSDUCK_DEST_CIDR:-}${CHAOSDUCK_PORTS:-}" ]; then
  tc qdisc add dev "$IF" root handle "$H": prio bands 4 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1 || exit 1
  tc qdisc add dev "$IF" parent "$H":4 handle 1338: netem $NETEM || cleanup
  DST="${CHAOSDUCK_DEST_CIDR:-0.0.0.0/0}"
  if [ -n "${CHAOSDUCK_PORTS:-}" ]; then
    for P in $(echo "$CHAOSDUCK_PORTS" | tr ',' ' '); do
      tc filter add dev "$IF" parent "$H": protocol ip prio 1 u32 match ip dst "$DST" match ip dport "$P" 0xffff flowid "$H":4 || cleanup
    done
  else
    tc filter add dev "$IF" parent "$H": protocol ip prio 1 u32 match ip dst "$DST" flowid "$H":4 || cleanup
  fi
else
  tc qdisc add dev "$IF" root handle "$H": netem $NETEM || exit 1
fi
echo "chaosduck: $CHAOSDUCK_FAULT on $IF for ${CHAOSDUCK_DURATION_SECONDS}s: $NETEM"
sleep "$CHAOSDUCK_DURATION_SECONDS" &
wait $!
cleanup
"#;

/// The stress injector's script (POSIX sh + `stress-ng`, whose own `--timeout` is a second bound).
pub const STRESS_SCRIPT: &str = r#"set -u
echo $$ > "${CHAOSDUCK_PID_FILE:-/tmp/chaosduck.pid}" 2>/dev/null || true
case "$CHAOSDUCK_FAULT" in
  cpu_stress) stress-ng --cpu "$CHAOSDUCK_CPU_WORKERS" --cpu-load "$CHAOSDUCK_CPU_LOAD_PERCENT" --timeout "${CHAOSDUCK_DURATION_SECONDS}s" --quiet & ;;
  memory_stress) stress-ng --vm "${CHAOSDUCK_VM_WORKERS:-1}" --vm-bytes "$CHAOSDUCK_MEMORY_BYTES" --vm-keep --timeout "${CHAOSDUCK_DURATION_SECONDS}s" --quiet & ;;
  *) echo "chaosduck: unknown fault $CHAOSDUCK_FAULT" >&2; exit 2 ;;
esac
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID; rm -f "${CHAOSDUCK_PID_FILE:-/tmp/chaosduck.pid}"; echo "chaosduck: stress stopped"; exit 0' TERM INT HUP
wait $PID
rm -f "${CHAOSDUCK_PID_FILE:-/tmp/chaosduck.pid}"
echo "chaosduck: stress expired"
"#;

/// The command revert execs in the injector.
pub const STOP_COMMAND: [&str; 3] = [
    "sh",
    "-c",
    "kill -TERM \"$(cat \"${CHAOSDUCK_PID_FILE:-/tmp/chaosduck.pid}\")\" # chaosduck-stop",
];

/// The fault-specific environment of an injector (besides experiment, fault and duration).
pub struct InjectorKind {
    /// `network_latency`, `network_loss`, `cpu_stress`, `memory_stress`.
    pub fault: &'static str,
    /// Extra `CHAOSDUCK_*` variables.
    pub env: Vec<(String, String)>,
    /// Whether it needs NET_ADMIN and the network image.
    pub network: bool,
    /// How it reaches the pod.
    pub mode: InjectionMode,
    /// With exec: the container to exec into (the pod's first when `None`).
    pub container: Option<String>,
    /// Human summary of the parameters.
    pub summary: String,
}

/// Builds the EphemeralContainer object.
pub fn container(
    b: &K8sBackend,
    name: &str,
    experiment: &str,
    duration_s: u64,
    k: &InjectorKind,
) -> serde_json::Value {
    let mut env = base_env(experiment, duration_s, k);
    env.extend(k.env.iter().cloned());
    let env: Vec<serde_json::Value> = env
        .into_iter()
        .map(|(n, v)| serde_json::json!({"name": n, "value": v}))
        .collect();
    let (image, script) = if k.network {
        (&b.config.network_injector_image, NETWORK_SCRIPT)
    } else {
        (&b.config.stress_injector_image, STRESS_SCRIPT)
    };
    let mut c = serde_json::json!({
        "name": name,
        "image": image,
        "command": ["/bin/sh", "-c", script],
        "env": env,
        "stdin": false,
        "tty": false,
    });
    if k.network {
        c["securityContext"] = serde_json::json!({"capabilities": {"add": ["NET_ADMIN"]}});
    }
    c
}

/// Plans one injector per chosen pod.
pub async fn plan(
    b: &K8sBackend,
    doc: &ExperimentDoc,
    ctx: &PlanContext,
    k: InjectorKind,
) -> Result<Plan, K8sError> {
    let t = pod_target(doc)?;
    let r = targets::pods(
        &b.client,
        &t.namespace,
        t.selector.as_ref(),
        &t.names,
        t.count,
    )
    .await?;
    let duration_s = doc.spec.duration.get().as_secs().max(1);
    let id = short_id(&ctx.experiment_id);
    let mut refs = Vec::new();
    let mut steps = Vec::new();
    for (i, p) in r.chosen.iter().enumerate() {
        let pod = p.metadata.name.clone().unwrap_or_default();
        let name = format!("chaosduck-{id}-{}", i + 1);
        let target = TargetRef {
            kind: "pod".into(),
            name: format!("{}/{pod}", t.namespace),
            labels: p.metadata.labels.clone().unwrap_or_default(),
        };
        if k.mode == InjectionMode::Exec {
            let container = exec_container(p, k.container.as_deref())?;
            let pid_file = exec_injector::pid_file(&id, i + 1);
            let mut env = base_env(&ctx.experiment_id, duration_s, &k);
            env.extend(k.env.iter().cloned());
            let script = if k.network {
                NETWORK_SCRIPT
            } else {
                STRESS_SCRIPT
            };
            steps.push(PlannedStep {
                target: target.clone(),
                action: Action::ExecInjector {
                    namespace: t.namespace.clone(),
                    pod: pod.clone(),
                    container: container.clone(),
                    command: exec_injector::start_command(&env, &pid_file, script),
                    pid_file: pid_file.clone(),
                },
                undo: UndoRecord::StopExecInjector {
                    namespace: t.namespace.clone(),
                    pod: pod.clone(),
                    container: container.clone(),
                    pid_file: pid_file.clone(),
                    interface: k.network.then(|| interface(&k)),
                },
                summary: format!(
                    "{} on {}/{pod} for {duration_s}s via exec in container {container} (pidfile {pid_file}) ({})",
                    k.fault, t.namespace, k.summary
                ),
            });
            refs.push(target);
            continue;
        }
        steps.push(PlannedStep {
            target: target.clone(),
            action: Action::AddInjector {
                namespace: t.namespace.clone(),
                pod: pod.clone(),
                container: name.clone(),
                spec: container(b, &name, &ctx.experiment_id, duration_s, &k),
            },
            undo: UndoRecord::StopInjector {
                namespace: t.namespace.clone(),
                pod: pod.clone(),
                container: name.clone(),
            },
            summary: format!(
                "{} on {}/{pod} for {duration_s}s via injector {name} ({})",
                k.fault, t.namespace, k.summary
            ),
        });
        refs.push(target);
    }
    let mut notes = r.notes;
    if k.mode == InjectionMode::Exec {
        notes.push(format!(
            "injection: exec — the injector runs detached inside the target container and expires on its own after {duration_s}s even if ChaosDuck dies; that image must carry sh and {}",
            if k.network {
                "tc, with NET_ADMIN"
            } else {
                "stress-ng"
            }
        ));
    } else {
        notes.push(format!(
            "injection: ephemeral — injectors expire on their own after {duration_s}s even if ChaosDuck dies; image {}",
            if k.network {
                &b.config.network_injector_image
            } else {
                &b.config.stress_injector_image
            }
        ));
    }
    Ok(plan_of(
        Some(t.namespace.clone()),
        r.eligible,
        r.matched,
        refs,
        steps,
        notes,
    ))
}

/// The container an exec injector runs in: the named one, or the pod's first.
fn exec_container(p: &Pod, wanted: Option<&str>) -> Result<String, K8sError> {
    let pod = p.metadata.name.as_deref().unwrap_or_default();
    let names: Vec<&str> = p
        .spec
        .as_ref()
        .map(|s| s.containers.iter().map(|c| c.name.as_str()).collect())
        .unwrap_or_default();
    match wanted {
        Some(w) if names.contains(&w) => Ok(w.to_string()),
        Some(w) => Err(K8sError::Other(format!(
            "pod {pod} has no container {w:?} (it has: {})",
            names.join(", ")
        ))),
        None => names
            .first()
            .map(|n| (*n).to_string())
            .ok_or_else(|| K8sError::Other(format!("pod {pod} has no containers to exec into"))),
    }
}

/// The interface a network injector works on.
fn interface(k: &InjectorKind) -> String {
    k.env
        .iter()
        .find(|(n, _)| n == "CHAOSDUCK_INTERFACE")
        .map_or_else(|| "eth0".to_string(), |(_, v)| v.clone())
}

/// Experiment, fault and duration: the part of the contract every injector carries.
fn base_env(experiment: &str, duration_s: u64, k: &InjectorKind) -> Vec<(String, String)> {
    vec![
        ("CHAOSDUCK_EXPERIMENT".to_string(), experiment.to_string()),
        ("CHAOSDUCK_FAULT".to_string(), k.fault.to_string()),
        (
            "CHAOSDUCK_DURATION_SECONDS".to_string(),
            duration_s.to_string(),
        ),
    ]
}

fn has_container(p: &Pod, name: &str) -> bool {
    p.spec
        .as_ref()
        .and_then(|s| s.ephemeral_containers.as_ref())
        .is_some_and(|v| v.iter().any(|c| c.name == name))
}

/// Adds the injector (idempotent: an injector already there counts as added).
pub async fn apply(
    b: &K8sBackend,
    ns: &str,
    pod: &str,
    name: &str,
    spec: &serde_json::Value,
) -> Result<(), K8sError> {
    let api: Api<Pod> = Api::namespaced(b.client.clone(), ns);
    let p = api.get(pod).await.map_err(K8sError::api("get pod"))?;
    if has_container(&p, name) {
        return Ok(());
    }
    let patch = serde_json::json!({"spec": {"ephemeralContainers": [spec]}});
    api.patch_ephemeral_containers(pod, &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .map_err(K8sError::api("add ephemeral container"))?;
    Ok(())
}

enum State {
    Absent,
    Waiting,
    Running,
    Terminated,
}

fn state(p: &Pod, name: &str) -> State {
    let Some(st) = p
        .status
        .as_ref()
        .and_then(|s| s.ephemeral_container_statuses.as_ref())
        .and_then(|v| v.iter().find(|c| c.name == name))
    else {
        return if has_container(p, name) {
            State::Waiting
        } else {
            State::Absent
        };
    };
    match st.state.as_ref() {
        Some(s) if s.terminated.is_some() => State::Terminated,
        Some(s) if s.running.is_some() => State::Running,
        _ => State::Waiting,
    }
}

/// Stops the injector early and verifies it exited. Idempotent: a pod that is gone, an injector
/// that never started or already exited are all fine.
pub async fn stop(
    b: &K8sBackend,
    ns: &str,
    pod: &str,
    name: &str,
) -> Result<Option<String>, K8sError> {
    let api: Api<Pod> = Api::namespaced(b.client.clone(), ns);
    let start = Instant::now();
    let limit = b.recovery_timeout().min(Duration::from_secs(120));
    let mut stop_sent = false;
    loop {
        let p = match api.get(pod).await {
            Ok(p) => p,
            Err(e) if is_not_found(&e) => {
                return Ok(Some(format!(
                    "pod {ns}/{pod} is gone; its injector with it"
                )));
            }
            Err(e) => {
                return Err(K8sError::Api {
                    what: "get pod",
                    source: e,
                });
            }
        };
        match state(&p, name) {
            State::Absent => return Ok(Some("injector was never added".into())),
            State::Terminated => {
                return Ok(Some(if stop_sent {
                    "injector stopped and exited".into()
                } else {
                    "injector had already exited".into()
                }));
            }
            State::Running if !stop_sent => {
                let ap = AttachParams::default()
                    .container(name)
                    .stdin(false)
                    .stdout(false)
                    .stderr(true);
                let mut proc = api
                    .exec(pod, STOP_COMMAND, &ap)
                    .await
                    .map_err(K8sError::api("exec stop in injector"))?;
                if let Some(st) = proc.take_status()
                    && let Some(s) = st.await
                    && s.status.as_deref() == Some("Failure")
                {
                    tracing::warn!(pod, container = name, message = ?s.message, "stop command reported a failure");
                }
                let _ = proc.join().await;
                stop_sent = true;
            }
            // Still pulling its image, or stopping: wait (bounded).
            State::Running | State::Waiting => {}
        }
        if start.elapsed() > limit {
            return Err(K8sError::Other(format!(
                "injector {name} in {ns}/{pod} is still running after {}; it will exit on its own at its expiry",
                humantime::format_duration(limit)
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
