//! `injection: exec`: the same self-expiring injector scripts, started by `pods/exec` inside the
//! target's own container, for clusters that forbid ephemeral containers.
//!
//! The exec command is `env CHAOSDUCK_...=... sh -c LAUNCHER chaosduck-start SCRIPT`: `env` carries
//! the same fault contract as an injector container's environment, and the launcher starts the
//! script with `nohup ... &` (stdio on /dev/null) so the exec call returns while the script runs
//! for its duration. Each experiment and pod gets its own pidfile
//! (`/tmp/chaosduck-<id>-<n>.pid`), so a stop kills exactly ChaosDuck's process, and only when
//! that pid's command line is ChaosDuck's (a pid reused after expiry is left alone). Revert
//! execs the stop, then execs a check until the process is gone; for network faults the check also
//! removes a qdisc left under the reserved handle `1337:` (an injector killed with SIGKILL cannot
//! clean up after itself). The target image must carry `sh` and `tc` (with NET_ADMIN) or
//! `stress-ng`; the launcher refuses with a clear message when it does not.

use super::{K8sBackend, K8sError, is_not_found};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// Starts the injector script detached (`$1` is the script). Exit 0: started or already running;
/// 5: the pidfile cannot be written; 127: the tool is missing from the image.
pub const LAUNCHER: &str = r#"set -u
F="$CHAOSDUCK_PID_FILE"
case "$CHAOSDUCK_FAULT" in
  network_*) T=tc ;;
  *) T=stress-ng ;;
esac
command -v "$T" >/dev/null 2>&1 || { echo "chaosduck: $T is not in this container's image"; exit 127; }
if [ -s "$F" ] && kill -0 "$(cat "$F" 2>/dev/null)" 2>/dev/null; then echo "chaosduck: injector already running"; exit 0; fi
( : > "$F" ) 2>/dev/null || { echo "chaosduck: cannot write $F"; exit 5; }
nohup sh -c "$1" chaosduck-injector >/dev/null 2>&1 </dev/null &
echo "chaosduck: injector started (pid $!)"
# chaosduck-start
"#;

/// Sends TERM to the injector named by the pidfile, only if that pid is still ChaosDuck's.
pub const STOP_SCRIPT: &str = r#"F="$CHAOSDUCK_PID_FILE"
[ -s "$F" ] || { echo "chaosduck: no injector pidfile"; exit 0; }
P=$(cat "$F" 2>/dev/null)
case "$P" in ''|*[!0-9]*) echo "chaosduck: no pid in $F"; exit 0 ;; esac
if [ -r "/proc/$P/cmdline" ] && ! grep -q chaosduck "/proc/$P/cmdline"; then echo "chaosduck: pid $P is not ChaosDuck's"; exit 0; fi
kill -TERM "$P" 2>/dev/null && echo "chaosduck: sent TERM to $P" || echo "chaosduck: $P had exited"
# chaosduck-stop
"#;

/// Exit 0 when the injector is gone (removing a leftover reserved qdisc on
/// `CHAOSDUCK_INTERFACE` if set), 3 while it still runs, 4 when the qdisc cannot be removed.
pub const CHECK_SCRIPT: &str = r#"F="$CHAOSDUCK_PID_FILE"
if [ -s "$F" ]; then
  P=$(cat "$F" 2>/dev/null)
  case "$P" in ''|*[!0-9]*) P= ;; esac
  if [ -n "$P" ] && kill -0 "$P" 2>/dev/null && { [ ! -r "/proc/$P/cmdline" ] || grep -q chaosduck "/proc/$P/cmdline"; }; then
    echo "chaosduck: injector $P still running"; exit 3
  fi
fi
IF="${CHAOSDUCK_INTERFACE:-}"
if [ -n "$IF" ] && command -v tc >/dev/null 2>&1 && tc qdisc show dev "$IF" 2>/dev/null | grep -q " 1337: root"; then
  tc qdisc del dev "$IF" root handle 1337: 2>/dev/null || { echo "chaosduck: qdisc 1337: is still on $IF"; exit 4; }
  echo "chaosduck: removed a leftover qdisc 1337: from $IF"
fi
echo "chaosduck: injector gone"
# chaosduck-check
"#;

/// Exit code of the check while the injector still runs.
pub const STILL_RUNNING: i32 = 3;

/// The pidfile of injector `n` (1-based) of an experiment.
pub fn pid_file(short_id: &str, n: usize) -> String {
    format!("/tmp/chaosduck-{short_id}-{n}.pid")
}

/// The start command: `env VARS... sh -c LAUNCHER chaosduck-start SCRIPT`.
pub fn start_command(env: &[(String, String)], pid_file: &str, script: &str) -> Vec<String> {
    let mut c = vec!["env".to_string()];
    c.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    c.push(format!("CHAOSDUCK_PID_FILE={pid_file}"));
    c.extend(
        ["sh", "-c", LAUNCHER, "chaosduck-start", script]
            .into_iter()
            .map(String::from),
    );
    c
}

/// The stop command for the injector with this pidfile.
pub fn stop_command(pid_file: &str) -> Vec<String> {
    vec![
        "env".into(),
        format!("CHAOSDUCK_PID_FILE={pid_file}"),
        "sh".into(),
        "-c".into(),
        STOP_SCRIPT.into(),
    ]
}

/// The check command; with an interface it also clears a leftover reserved qdisc.
pub fn check_command(pid_file: &str, interface: Option<&str>) -> Vec<String> {
    let mut c = vec!["env".into(), format!("CHAOSDUCK_PID_FILE={pid_file}")];
    if let Some(i) = interface {
        c.push(format!("CHAOSDUCK_INTERFACE={i}"));
    }
    c.extend(["sh", "-c", CHECK_SCRIPT].into_iter().map(String::from));
    c
}

/// What one exec returned.
#[derive(Debug)]
pub struct ExecResult {
    /// The command's exit code.
    pub code: i32,
    /// Its standard output (bounded).
    pub stdout: String,
}

/// The exit code a `pods/exec` status reports; `None` when the exec itself failed.
pub fn exit_code(s: &Status) -> Option<i32> {
    match s.status.as_deref() {
        Some("Success") => Some(0),
        _ if s.reason.as_deref() == Some("NonZeroExitCode") => s
            .details
            .as_ref()?
            .causes
            .as_ref()?
            .iter()
            .find(|c| c.reason.as_deref() == Some("ExitCode"))?
            .message
            .as_deref()?
            .trim()
            .parse()
            .ok(),
        _ => None,
    }
}

const MAX_OUTPUT: u64 = 16 * 1024;
const EXEC_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `command` in `container` and waits (bounded) for its exit code.
pub async fn exec(
    api: &Api<Pod>,
    pod: &str,
    container: &str,
    command: &[String],
) -> Result<ExecResult, K8sError> {
    let run = async {
        let ap = AttachParams::default()
            .container(container)
            .stdin(false)
            .stdout(true)
            .stderr(false);
        let mut proc = api
            .exec(pod, command.iter().cloned(), &ap)
            .await
            .map_err(K8sError::api("exec in target container"))?;
        let status = proc.take_status();
        let mut out = Vec::new();
        if let Some(stdout) = proc.stdout() {
            // A read error only loses the diagnostic text; the status decides.
            let _ = stdout.take(MAX_OUTPUT).read_to_end(&mut out).await;
        }
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        let _ = proc.join().await;
        let stdout = String::from_utf8_lossy(&out).trim().to_string();
        let Some(status) = status else {
            return Err(K8sError::Other(format!(
                "exec in {pod}/{container} ended without an exit status"
            )));
        };
        match exit_code(&status) {
            Some(code) => Ok(ExecResult { code, stdout }),
            None => Err(K8sError::Other(format!(
                "exec in {pod}/{container} failed: {}",
                status.message.unwrap_or_else(|| "no message".into())
            ))),
        }
    };
    tokio::time::timeout(EXEC_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| {
            Err(K8sError::Other(format!(
                "exec in {pod}/{container} did not finish within {}s",
                EXEC_TIMEOUT.as_secs()
            )))
        })
}

/// Starts the injector and confirms (bounded) that its process is running.
pub async fn apply(
    b: &K8sBackend,
    ns: &str,
    pod: &str,
    container: &str,
    pid_file: &str,
    command: &[String],
) -> Result<(), K8sError> {
    let api: Api<Pod> = Api::namespaced(b.client.clone(), ns);
    let r = exec(&api, pod, container, command).await?;
    if r.code != 0 {
        return Err(K8sError::Other(format!(
            "the injector did not start in {ns}/{pod} container {container} (exit {}): {}",
            r.code,
            if r.stdout.is_empty() {
                "no output"
            } else {
                &r.stdout
            }
        )));
    }
    let check = check_command(pid_file, None);
    for _ in 0..25 {
        let c = exec(&api, pod, container, &check).await?;
        if c.code == STILL_RUNNING {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(K8sError::Other(format!(
        "the injector in {ns}/{pod} container {container} exited right after it started; \
         the image needs sh and tc with NET_ADMIN (network faults) or stress-ng (stress faults)"
    )))
}

/// Stops the injector and verifies it is gone. Idempotent: a pod that is gone, an injector that
/// never started or already expired are all fine.
pub async fn stop(
    b: &K8sBackend,
    ns: &str,
    pod: &str,
    container: &str,
    pid_file: &str,
    interface: Option<&str>,
) -> Result<Option<String>, K8sError> {
    let api: Api<Pod> = Api::namespaced(b.client.clone(), ns);
    let start = Instant::now();
    let limit = b.recovery_timeout().min(Duration::from_secs(120));
    let stop = stop_command(pid_file);
    let check = check_command(pid_file, interface);
    let mut stop_sent = false;
    loop {
        match api.get(pod).await {
            Ok(_) => {}
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
        }
        let sent = if stop_sent {
            Ok(())
        } else {
            exec(&api, pod, container, &stop).await.map(|_| ())
        };
        let checked = match sent {
            Ok(()) => {
                stop_sent = true;
                exec(&api, pod, container, &check).await
            }
            Err(e) => Err(e),
        };
        let last = match checked {
            Ok(r) if r.code == 0 => {
                return Ok(Some(format!(
                    "exec injector stopped ({container}, {pid_file}); checked by exec: {}",
                    r.stdout.lines().last().unwrap_or("gone")
                )));
            }
            Ok(r) => format!("check exit {}: {}", r.code, r.stdout),
            // A container that is restarting cannot be exec'd into yet: retry within the bound.
            Err(e) => e.to_string(),
        };
        if start.elapsed() > limit {
            return Err(K8sError::Other(format!(
                "the exec injector in {ns}/{pod} container {container} is not confirmed gone after {} ({last}); it ends on its own at its expiry",
                humantime::format_duration(limit)
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};

    #[test]
    fn exit_codes_are_read_from_the_exec_status() {
        let ok = Status {
            status: Some("Success".into()),
            ..Default::default()
        };
        assert_eq!(exit_code(&ok), Some(0));
        let three = Status {
            status: Some("Failure".into()),
            reason: Some("NonZeroExitCode".into()),
            details: Some(StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ExitCode".into()),
                    message: Some("3".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(exit_code(&three), Some(3));
        let broken = Status {
            status: Some("Failure".into()),
            reason: Some("InternalError".into()),
            message: Some("container not found".into()),
            ..Default::default()
        };
        assert_eq!(exit_code(&broken), None);
    }

    #[test]
    fn the_start_command_carries_the_contract_and_the_pidfile() {
        let env = vec![("CHAOSDUCK_FAULT".to_string(), "cpu_stress".to_string())];
        let c = start_command(&env, "/tmp/chaosduck-ab-1.pid", "SCRIPT");
        assert_eq!(c[0], "env");
        assert_eq!(c[1], "CHAOSDUCK_FAULT=cpu_stress");
        assert_eq!(c[2], "CHAOSDUCK_PID_FILE=/tmp/chaosduck-ab-1.pid");
        assert_eq!(&c[3..5], ["sh", "-c"]);
        assert!(c[5].contains("nohup sh -c \"$1\""));
        assert_eq!(c[7], "SCRIPT");
        assert_eq!(pid_file("ab", 2), "/tmp/chaosduck-ab-2.pid");
    }
}
