//! `pods/exec` over the WebSocket channel protocol (`v5.channel.k8s.io`, `v4.channel.k8s.io`).
//!
//! The sandbox runs no processes. An exec into an injector container (`chaosduck-*`) whose command
//! mentions `chaosduck-stop` or `kill` stops that injector: its ephemeral container status turns
//! terminated (exit code 0) and the status channel reports Success. Any other command gets a
//! `Status` failure (exit code 126) saying the sandbox does not run arbitrary commands.

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
    Refused,
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
    let outcome = if stop {
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
    let status: Value = match &outcome {
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
