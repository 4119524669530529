//! `pods/exec` over the WebSocket channel protocol (`v5.channel.k8s.io`, `v4.channel.k8s.io`).
//!
//! The sandbox runs no processes. An exec into an injector container (`chaosduck-*`) whose command
//! mentions `chaosduck-stop` or `kill` stops that injector: its ephemeral container status turns
//! terminated (exit code 0) and the status channel reports Success. Any other command gets a
//! `Status` failure (exit code 126) saying the sandbox does not run arbitrary commands.
//!
//! Exec into an app container simulates `injection: exec`: a command with `chaosduck-start` and
//! `env CHAOSDUCK_...=...` arguments starts a simulated injector process in that pod (its fault is
//! then seen by the pod's app, until stopped or until its duration is over); `chaosduck-stop`
//! stops the one named by `CHAOSDUCK_PID_FILE`; `chaosduck-check` exits 3 while it still runs and
//! 0 once it is gone, as the real check script does.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use super::faults::{self, INJECTOR_PREFIX};
use super::resources::{Kind, Obj};
use super::routes::{Ctx, Query, Target};

const STDOUT: u8 = 1;
const STATUS: u8 = 3;
const CLOSE: u8 = 255;

/// What an exec does in the sandbox.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Stopped { was_running: bool },
    Started { already: bool },
    Checked { running: bool },
    Failed { code: u8, message: String },
    Refused,
}

/// Simulates the exec-mode injector commands in an app container; `None` for other commands.
fn exec_injector(ctx: &Ctx, pod_uid: &str, container: &str, command: &[String]) -> Option<Outcome> {
    let has = |m: &str| command.iter().any(|a| a.contains(m));
    let env = faults::exec_env(command);
    let pid_file = env
        .iter()
        .find(|(k, _)| k == "CHAOSDUCK_PID_FILE")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if command.iter().any(|a| a == "chaosduck-start") {
        return Some(match faults::parse_exec_injector(container, command) {
            None => Outcome::Failed {
                code: 2,
                message: "chaosduck: CHAOSDUCK_FAULT is not set".into(),
            },
            Some(Err(e)) => Outcome::Failed {
                code: 2,
                message: format!("chaosduck: {e}"),
            },
            Some(Ok((pid_file, injector))) => {
                let started = ctx.store.with(|st| {
                    st.exec_start(
                        pod_uid,
                        faults::ExecProcess {
                            container: container.to_string(),
                            pid_file,
                            injector,
                            started: std::time::Instant::now(),
                        },
                    )
                });
                Outcome::Started { already: !started }
            }
        });
    }
    if pid_file.is_empty() {
        return None;
    }
    if has("chaosduck-stop") {
        let was_running = ctx
            .store
            .with(|st| st.exec_stop(pod_uid, container, &pid_file));
        return Some(Outcome::Stopped { was_running });
    }
    if has("chaosduck-check") {
        let running = ctx.store.read().exec_running(pod_uid, container, &pid_file);
        return Some(Outcome::Checked { running });
    }
    None
}

/// Handles `GET/POST .../pods/NAME/exec`.
pub async fn handle(ctx: Ctx, req: Request, t: Target, q: Query) -> Response {
    match prepare(&ctx, req, &t, &q).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn prepare(ctx: &Ctx, req: Request, t: &Target, q: &Query) -> Result<Response, ApiError> {
    let ns = t.ns.clone().unwrap_or_default();
    let name = t.name.clone().unwrap_or_default();
    let command = q.all("command");
    if command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    let pod = {
        let st = ctx.store.read();
        st.get_or_404(Kind::Pod, &ns, &name)?
    };
    let Obj::Pod(p) = &*pod else {
        return Err(ApiError::not_found("", "pods", &name));
    };
    let spec = p.spec.clone().unwrap_or_default();
    let container = match q.get("container") {
        Some(c) => c.to_string(),
        None if spec.containers.len() == 1 => spec.containers[0].name.clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                spec.containers
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            )));
        }
    };
    let known = spec.containers.iter().any(|c| c.name == container)
        || spec
            .ephemeral_containers
            .iter()
            .flatten()
            .any(|c| c.name == container);
    if !known {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    let stop = container.starts_with(INJECTOR_PREFIX)
        && command
            .iter()
            .any(|a| a.contains("chaosduck-stop") || a.contains("kill"));
    let (mut parts, _body) = req.into_parts();
    let ws = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(|e| {
            ApiError::bad_request(format!(
                "exec needs a WebSocket upgrade (SPDY is not supported by the sandbox): {e}"
            ))
        })?;
    let mut ws = ws.protocols(["v5.channel.k8s.io", "v4.channel.k8s.io"]);
    if ws.selected_protocol().is_none() {
        // Older clients ask for channel.k8s.io; answer with v4 framing, which is a superset here.
        ws.set_selected_protocol(HeaderValue::from_static("v4.channel.k8s.io"));
    }
    let uid = p.metadata.uid.clone().unwrap_or_default();
    let app_container = spec.containers.iter().any(|c| c.name == container);
    let simulated = if app_container {
        exec_injector(ctx, &uid, &container, &command)
    } else {
        None
    };
    if let Some(o) = &simulated {
        tracing::info!(pod = %name, namespace = %ns, %container, outcome = ?o, "exec injector command");
    }
    let outcome = if let Some(o) = simulated {
        o
    } else if stop {
        let was_running = ctx.store.with(|st| {
            let mut was = false;
            st.mutate(Kind::Pod, &ns, &name, |o| {
                if let Obj::Pod(p) = o {
                    was = faults::terminate(
                        p,
                        &container,
                        0,
                        "Completed",
                        Some("stopped by exec".into()),
                    );
                }
            });
            was
        });
        tracing::info!(pod = %name, namespace = %ns, %container, was_running, "injector stopped by exec");
        Outcome::Stopped { was_running }
    } else {
        Outcome::Refused
    };
    let shutdown = ctx.shutdown.clone();
    Ok(ws.on_upgrade(move |socket| async move {
        tokio::select! {
            _ = session(socket, outcome, command) => {}
            _ = shutdown.cancelled() => {}
        }
    }))
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::Binary(v.into())
}

async fn session(mut socket: WebSocket, outcome: Outcome, command: Vec<String>) {
    let v5 = socket
        .protocol()
        .is_some_and(|p| p.as_bytes() == b"v5.channel.k8s.io");
    let nonzero = |code: u8, message: String| {
        json!({
            "metadata": {},
            "status": "Failure",
            "reason": "NonZeroExitCode",
            "message": format!("command terminated with non-zero exit code: exit status {code}: {message}"),
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}
        })
    };
    let say = |text: String| frame(STDOUT, format!("{text}\n").as_bytes());
    let status: Value = match &outcome {
        Outcome::Started { already } => {
            let msg = if *already {
                "chaosduck: injector already running".to_string()
            } else {
                "chaosduck: injector started".to_string()
            };
            if socket.send(say(msg)).await.is_err() {
                return;
            }
            json!({"metadata": {}, "status": "Success"})
        }
        Outcome::Checked { running: true } => {
            if socket
                .send(say("chaosduck: injector still running".into()))
                .await
                .is_err()
            {
                return;
            }
            nonzero(3, "injector still running".into())
        }
        Outcome::Checked { running: false } => {
            if socket
                .send(say("chaosduck: injector gone".into()))
                .await
                .is_err()
            {
                return;
            }
            json!({"metadata": {}, "status": "Success"})
        }
        Outcome::Failed { code, message } => {
            if socket.send(say(message.clone())).await.is_err() {
                return;
            }
            nonzero(*code, message.clone())
        }
        Outcome::Stopped { was_running } => {
            let msg = if *was_running {
                "injector stopped\n"
            } else {
                "injector was not running\n"
            };
            if socket.send(frame(STDOUT, msg.as_bytes())).await.is_err() {
                return;
            }
            json!({"metadata": {}, "status": "Success"})
        }
        Outcome::Refused => json!({
            "metadata": {},
            "status": "Failure",
            "reason": "NonZeroExitCode",
            "message": format!(
                "the ChaosDuck sandbox does not run arbitrary commands (command {:?}); only `chaosduck-stop`/`kill` in a chaosduck- injector container is simulated",
                command
            ),
            "details": {"causes": [{"reason": "ExitCode", "message": "126"}]}
        }),
    };
    let body = serde_json::to_vec(&status).unwrap_or_default();
    if socket.send(frame(STATUS, &body)).await.is_err() {
        return;
    }
    if v5 {
        let _ = socket
            .send(Message::Binary(vec![CLOSE, STDOUT].into()))
            .await;
    }
    let _ = socket.send(Message::Close(None)).await;
    // Drain until the client closes, bounded so a silent client cannot hold the task.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(Ok(m)) = socket.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}
