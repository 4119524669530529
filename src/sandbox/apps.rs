//! Simulated applications: every Service with a selector gets an HTTP endpoint on 127.0.0.1 whose
//! answers reflect the pods behind it and the faults injected into them.
//!
//! - `GET /` (any path but `/metrics`): picks a ready backing pod round-robin. No ready pod → 503.
//!   A pod isolated by an ingress-deny NetworkPolicy → 504 after a short wait (the simulated
//!   connect timeout). Running `network_loss` injector → the pod's share of requests gets 503 with
//!   `x-sandbox-fault: network_loss`. Running `network_latency` → the answer is delayed by the
//!   latency ± jitter. The JSON body names the pod and its simulated cpu/memory figures.
//! - `GET /metrics`: Prometheus text with per-pod simulated cpu, memory and readiness.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::controllers::pod_ready;
use super::faults::{self, PodEffects};
use super::resources::{Kind, Obj};
use super::selectors::{map_selects, selector_matches};
use super::store::Store;

/// Annotation carrying a Service's local app URL.
pub const URL_ANNOTATION: &str = "sandbox.chaosduck.io/url";

/// Simulated connect timeout for partitioned pods.
const PARTITION_WAIT: Duration = Duration::from_millis(200);

/// Registry of running app endpoints: "namespace/name" → URL.
#[derive(Debug, Default)]
pub struct AppRegistry {
    urls: Mutex<BTreeMap<String, (String, CancellationToken)>>,
}

impl AppRegistry {
    /// URL of a service's app.
    pub fn url(&self, ns: &str, name: &str) -> Option<String> {
        self.lock()
            .get(&format!("{ns}/{name}"))
            .map(|(u, _)| u.clone())
    }
    /// All app URLs by "namespace/name".
    pub fn all(&self) -> BTreeMap<String, String> {
        self.lock()
            .iter()
            .map(|(k, (u, _))| (k.clone(), u.clone()))
            .collect()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (String, CancellationToken)>> {
        self.urls.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Clone)]
struct AppCtx {
    store: Arc<Store>,
    ns: String,
    name: String,
    rr: Arc<AtomicUsize>,
}

/// Whether a pod is isolated from ingress by a NetworkPolicy with policyTypes Ingress and no
/// ingress rules (the "deny all ingress" shape a partition fault creates).
pub fn partitioned(store_pods_policies: &[Arc<Obj>], pod: &Pod) -> bool {
    store_pods_policies.iter().any(|o| {
        let Obj::NetworkPolicy(np) = &**o else {
            return false;
        };
        let Some(spec) = &np.spec else { return false };
        let ingress_type = spec
            .policy_types
            .as_ref()
            .is_some_and(|t| t.iter().any(|x| x == "Ingress"))
            || (spec.policy_types.is_none() && spec.ingress.is_none());
        let no_rules = spec.ingress.as_ref().is_none_or(Vec::is_empty);
        ingress_type
            && no_rules
            && selector_matches(
                Some(&spec.pod_selector.clone().unwrap_or_default()),
                pod.metadata.labels.as_ref(),
            )
    })
}

/// A backing pod with its effects.
struct Backend {
    pod: Pod,
    ready: bool,
    partitioned: bool,
    effects: PodEffects,
}

fn backends(ctx: &AppCtx) -> Option<Vec<Backend>> {
    let st = ctx.store.read();
    let svc = st.get(Kind::Service, &ctx.ns, &ctx.name)?;
    let Obj::Service(svc) = &*svc else {
        return None;
    };
    let sel = svc.spec.as_ref().and_then(|s| s.selector.clone());
    let policies: Vec<Arc<Obj>> = st
        .iter(Kind::NetworkPolicy, Some(&ctx.ns))
        .cloned()
        .collect();
    Some(
        st.iter(Kind::Pod, Some(&ctx.ns))
            .filter_map(|p| p.as_pod())
            .filter(|p| map_selects(sel.as_ref(), p.metadata.labels.as_ref()))
            .map(|p| Backend {
                ready: pod_ready(p),
                partitioned: partitioned(&policies, p),
                effects: faults::effects_with(
                    p,
                    &st.exec_injectors(p.metadata.uid.as_deref().unwrap_or_default()),
                ),
                pod: p.clone(),
            })
            .collect(),
    )
}

fn json_resp(code: StatusCode, v: serde_json::Value, fault: Option<&str>) -> Response {
    let mut r = (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response();
    if let Some(f) = fault
        && let Ok(h) = header::HeaderValue::from_str(f)
    {
        r.headers_mut().insert("x-sandbox-fault", h);
    }
    r
}

async fn serve_request(State(ctx): State<AppCtx>, req: Request) -> Response {
    if req.uri().path() == "/metrics" {
        return metrics(&ctx);
    }
    let Some(all) = backends(&ctx) else {
        return json_resp(
            StatusCode::NOT_FOUND,
            json!({"error": "service not found"}),
            None,
        );
    };
    let ready: Vec<&Backend> = all.iter().filter(|b| b.ready).collect();
    if ready.is_empty() {
        return json_resp(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "no ready endpoints", "service": ctx.name, "namespace": ctx.ns}),
            None,
        );
    }
    let i = ctx.rr.fetch_add(1, Ordering::Relaxed) % ready.len();
    let b = ready[i];
    let pod_name = b.pod.metadata.name.clone().unwrap_or_default();
    if b.partitioned {
        tokio::time::sleep(PARTITION_WAIT).await;
        return json_resp(
            StatusCode::GATEWAY_TIMEOUT,
            json!({"error": "connection timed out: pod isolated by a NetworkPolicy", "pod": pod_name}),
            Some("network_partition"),
        );
    }
    let e = &b.effects;
    let mut latency = e.latency_ms as i64;
    if e.jitter_ms > 0 {
        use rand::Rng;
        let j = e.jitter_ms as i64;
        latency += rand::rng().random_range(-j..=j);
    }
    let latency = latency.max(0) as u64;
    let dropped = e.loss_percent > 0.0 && {
        use rand::Rng;
        rand::rng().random_range(0.0..100.0) < e.loss_percent
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if dropped {
        return json_resp(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "request dropped (simulated packet loss)", "pod": pod_name}),
            Some("network_loss"),
        );
    }
    json_resp(
        StatusCode::OK,
        json!({
            "service": ctx.name,
            "namespace": ctx.ns,
            "pod": pod_name,
            "node": b.pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            "added_latency_ms": latency,
            "cpu_millicores": e.cpu_millicores,
            "memory_bytes": e.memory_bytes,
            "ready_pods": ready.len(),
        }),
        (latency > 0).then_some("network_latency"),
    )
}

fn metrics(ctx: &AppCtx) -> Response {
    let Some(all) = backends(ctx) else {
        return (StatusCode::NOT_FOUND, "service not found\n").into_response();
    };
    let mut out = String::new();
    out.push_str("# HELP sandbox_pod_cpu_millicores Simulated CPU use of a backing pod.\n# TYPE sandbox_pod_cpu_millicores gauge\n");
    for b in &all {
        let p = b.pod.metadata.name.as_deref().unwrap_or("");
        out.push_str(&format!(
            "sandbox_pod_cpu_millicores{{namespace=\"{}\",pod=\"{p}\"}} {}\n",
            ctx.ns, b.effects.cpu_millicores
        ));
    }
    out.push_str("# HELP sandbox_pod_memory_bytes Simulated memory use of a backing pod.\n# TYPE sandbox_pod_memory_bytes gauge\n");
    for b in &all {
        let p = b.pod.metadata.name.as_deref().unwrap_or("");
        out.push_str(&format!(
            "sandbox_pod_memory_bytes{{namespace=\"{}\",pod=\"{p}\"}} {}\n",
            ctx.ns, b.effects.memory_bytes
        ));
    }
    out.push_str("# HELP sandbox_pod_ready Whether a backing pod is ready.\n# TYPE sandbox_pod_ready gauge\n");
    for b in &all {
        let p = b.pod.metadata.name.as_deref().unwrap_or("");
        out.push_str(&format!(
            "sandbox_pod_ready{{namespace=\"{}\",pod=\"{p}\"}} {}\n",
            ctx.ns,
            u8::from(b.ready)
        ));
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}

async fn start_app(
    store: Arc<Store>,
    ns: String,
    name: String,
    token: CancellationToken,
) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let ctx = AppCtx {
        store,
        ns: ns.clone(),
        name: name.clone(),
        rr: Arc::new(AtomicUsize::new(0)),
    };
    let app = Router::new().fallback(serve_request).with_state(ctx);
    tokio::spawn(async move {
        let r = axum::serve(listener, app)
            .with_graceful_shutdown(token.cancelled_owned())
            .await;
        if let Err(e) = r {
            tracing::warn!(service = %name, namespace = %ns, error = %e, "app endpoint failed");
        }
    });
    Ok(format!("http://{addr}"))
}

/// Keeps one app endpoint per Service with a selector, until `shutdown`.
pub async fn run(
    store: Arc<Store>,
    registry: Arc<AppRegistry>,
    max: usize,
    shutdown: CancellationToken,
) {
    let mut warned = false;
    loop {
        sync_once(&store, &registry, max, &shutdown, &mut warned).await;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = store.changed.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// One reconciliation of app endpoints against the Services.
pub async fn sync_once(
    store: &Arc<Store>,
    registry: &AppRegistry,
    max: usize,
    shutdown: &CancellationToken,
    warned: &mut bool,
) {
    {
        let wanted: Vec<(String, String, Option<String>)> = {
            let st = store.read();
            st.iter(Kind::Service, None)
                .filter_map(|o| match &**o {
                    Obj::Service(s) => {
                        let has_sel = s
                            .spec
                            .as_ref()
                            .and_then(|x| x.selector.as_ref())
                            .is_some_and(|m| !m.is_empty());
                        has_sel.then(|| {
                            let ann = s
                                .metadata
                                .annotations
                                .as_ref()
                                .and_then(|a| a.get(URL_ANNOTATION))
                                .cloned();
                            (o.namespace().to_string(), o.name().to_string(), ann)
                        })
                    }
                    _ => None,
                })
                .collect()
        };
        let keys: HashMap<String, ()> = wanted
            .iter()
            .map(|(n, s, _)| (format!("{n}/{s}"), ()))
            .collect();
        // Stop apps of deleted services.
        {
            let mut urls = registry.lock();
            urls.retain(|k, (_, tok)| {
                let keep = keys.contains_key(k);
                if !keep {
                    tok.cancel();
                }
                keep
            });
        }
        for (ns, name, ann) in wanted {
            let key = format!("{ns}/{name}");
            let existing = registry.lock().get(&key).map(|(u, _)| u.clone());
            let url = match existing {
                Some(u) => u,
                None => {
                    if registry.lock().len() >= max {
                        if !*warned {
                            tracing::warn!(
                                max,
                                "app endpoint limit reached; further services get none"
                            );
                            *warned = true;
                        }
                        continue;
                    }
                    let token = shutdown.child_token();
                    match start_app(store.clone(), ns.clone(), name.clone(), token.clone()).await {
                        Ok(u) => {
                            registry.lock().insert(key.clone(), (u.clone(), token));
                            u
                        }
                        Err(e) => {
                            tracing::warn!(service = %name, namespace = %ns, error = %e, "cannot start app endpoint");
                            continue;
                        }
                    }
                }
            };
            if ann.as_deref() != Some(url.as_str()) {
                store.with(|st| {
                    st.mutate(Kind::Service, &ns, &name, |o| {
                        o.meta_mut()
                            .annotations
                            .get_or_insert_with(BTreeMap::new)
                            .insert(URL_ANNOTATION.into(), url.clone());
                    })
                });
            }
        }
    }
}
