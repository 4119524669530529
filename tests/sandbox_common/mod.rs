//! Helpers shared by the sandbox tests.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use chaosduck::sandbox::{Sandbox, SandboxOptions};
use k8s_openapi::api::core::v1::{Container, Namespace, Pod, PodSpec};
use kube::api::{Api, ObjectMeta, PostParams};

/// Starts a sandbox with short delays.
pub async fn start() -> (Sandbox, kube::Client) {
    start_with(SandboxOptions::fast()).await
}

/// Starts a sandbox with `opts`.
pub async fn start_with(opts: SandboxOptions) -> (Sandbox, kube::Client) {
    let sb = Sandbox::start(opts).await.expect("sandbox starts");
    let client = kube::Client::try_from(sb.kube_config()).expect("client");
    (sb, client)
}

/// Polls `f` until it returns Some, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Creates a namespace.
pub async fn namespace(client: &kube::Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    api.create(
        &PostParams::default(),
        &Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
    .expect("namespace created");
}

/// A bare pod with the given labels and containers `app` (and `sidecar`).
pub fn pod(name: &str, labels: &[(&str, &str)]) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![
                Container {
                    name: "app".into(),
                    image: Some("example/app:1".into()),
                    ..Default::default()
                },
                Container {
                    name: "sidecar".into(),
                    image: Some("example/sidecar:1".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }),
        status: None,
    }
}

/// A minimal HTTP/1.1 GET against a loopback URL: (status, headers+body text, elapsed).
pub async fn http_get(url: &str) -> (Option<u16>, String, Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http url");
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let start = Instant::now();
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(hostport).await.ok()?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf).to_string();
        let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok());
        Some((code, text))
    };
    match tokio::time::timeout(Duration::from_secs(10), fut).await {
        Ok(Some((code, text))) => (code, text, start.elapsed()),
        _ => (None, String::new(), start.elapsed()),
    }
}
