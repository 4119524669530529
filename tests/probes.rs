//! Probes against real peers: HTTP and TCP servers on loopback, local commands, a fake
//! Prometheus for hostile answers and the real Prometheus (Debian's package) for real ones.

mod common;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use chaosduck::domain::ProbeSpec;
use chaosduck::probe::{Outcome, evaluate};
use common::{Home, code, text, wait_until};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

async fn serve(app: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (
        a,
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() }),
    )
}

fn probe(yaml: &str) -> ProbeSpec {
    serde_norway::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"))
}

fn app() -> Router {
    Router::new()
        .route("/ok", get(|| async { "hello world" }))
        .route("/json", get(|| async { axum::Json(serde_json::json!({"status": "up", "checks": [{"ok": true}, {"ok": true}], "n": 3})) }))
        .route("/down", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "no") }))
        .route("/slow", get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }))
        .route("/huge", get(|| async { "x".repeat(5 << 20) }))
        .route("/badjson", get(|| async { "{not json" }))
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route("/nan", get(|| async { axum::Json(serde_json::json!({"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[1.0,"NaN"]}]}})) }))
        .route("/api/v1/query", get(|q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
            match q.get("query").map(String::as_str) {
                Some("two_series") => axum::Json(serde_json::json!({"status":"success","data":{"resultType":"vector","result":[
                    {"metric":{"i":"a"},"value":[1.0,"3"]},{"metric":{"i":"b"},"value":[1.0,"7"]}]}})).into_response(),
                Some("inf") => axum::Json(serde_json::json!({"status":"success","data":{"resultType":"scalar","result":[1.0,"+Inf"]}})).into_response(),
                Some("nan") => axum::Json(serde_json::json!({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.0,"NaN"]}]}})).into_response(),
                Some("empty") => axum::Json(serde_json::json!({"status":"success","data":{"resultType":"vector","result":[]}})).into_response(),
                Some("garbage") => "<html>proxy error</html>".into_response(),
                _ => (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({"status":"error","errorType":"bad_data","error":"parse error"}))).into_response(),
            }
        }))
}

fn err(o: &Outcome) -> String {
    o.error.clone().unwrap_or_default()
}

#[tokio::test]
async fn http_probe_criteria_pass_and_fail_with_clear_errors() {
    let (a, srv) = serve(app()).await;
    let u = |p: &str| format!("http://{a}{p}");
    let o = evaluate(&probe(&format!(
        "name: a\nhttp: {{url: {}, bodyContains: world, bodyRegex: '^hello'}}",
        u("/ok")
    )))
    .await;
    assert!(o.passed, "{o:?}");
    assert!(o.value.unwrap() >= 0.0, "latency is recorded");
    let o = evaluate(&probe(&format!(
        "name: a\nhttp: {{url: {}, json: {{path: '$.status', equals: up}}}}",
        u("/json")
    )))
    .await;
    assert!(o.passed, "{o:?}");
    let o = evaluate(&probe(&format!(
        "name: a\nhttp: {{url: {}, json: {{path: '$.checks[*].ok', equals: true}}}}",
        u("/json")
    )))
    .await;
    assert!(o.passed, "every selected value must match: {o:?}");
    let o = evaluate(&probe(&format!(
        "name: a\nhttp: {{url: {}, json: {{path: '$.n', min: 4}}}}",
        u("/json")
    )))
    .await;
    assert!(!o.passed && err(&o).contains("3 is below 4"), "{o:?}");
    let o = evaluate(&probe(&format!("name: a\nhttp: {{url: {}}}", u("/down")))).await;
    assert!(!o.passed && err(&o).contains("status 503"), "{o:?}");
    let o = evaluate(&probe(&format!(
        "name: a\nhttp: {{url: {}, expectStatus: [200, 503]}}",
        u("/down")
    )))
    .await;
    assert!(o.passed, "a set of statuses: {o:?}");
    srv.abort();
}

#[tokio::test]
async fn hostile_http_answers_fail_fast_without_hanging() {
    let (a, srv) = serve(app()).await;
    let u = |p: &str| format!("http://{a}{p}");
    let t = Instant::now();
    let o = evaluate(&probe(&format!(
        "name: a\ntimeout: 300ms\nhttp: {{url: {}}}",
        u("/slow")
    )))
    .await;
    assert!(!o.passed && t.elapsed() < Duration::from_secs(2), "{o:?}");
    assert!(
        err(&o).contains("timed out") || err(&o).contains("within"),
        "{o:?}"
    );
    let o = evaluate(&probe(&format!(
        "name: a\nhttp: {{url: {}, bodyContains: y}}",
        u("/huge")
    )))
    .await;
    assert!(!o.passed && err(&o).contains("first 1 MiB"), "{o:?}");
    let o = evaluate(&probe(&format!(
        "name: a\nhttp: {{url: {}, json: {{path: '$.a', equals: 1}}}}",
        u("/badjson")
    )))
    .await;
    assert!(!o.passed && err(&o).contains("not JSON"), "{o:?}");
    let o = evaluate(&probe(&format!(
        "name: a\nhttp: {{url: {}, followRedirects: true}}",
        u("/loop")
    )))
    .await;
    assert!(!o.passed && err(&o).contains("redirect"), "{o:?}");
    let o = evaluate(&probe(&format!("name: a\nhttp: {{url: {}}}", u("/loop")))).await;
    assert!(!o.passed && err(&o).contains("status 307"), "{o:?}");
    srv.abort();
    let o = evaluate(&probe(&format!("name: a\nhttp: {{url: {}}}", u("/ok")))).await;
    // A pooled connection reports "closed", a new one "refused": either way a clear failure.
    assert!(
        !o.passed
            && (err(&o).contains("connection failed") || err(&o).contains("connection closed")),
        "server gone: {o:?}"
    );
}

#[tokio::test]
async fn tcp_and_cmd_probes() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let o = evaluate(&probe(&format!(
        "name: a\ntcp: {{host: 127.0.0.1, port: {port}}}"
    )))
    .await;
    assert!(o.passed, "{o:?}");
    drop(l);
    let o = evaluate(&probe(&format!(
        "name: a\ntcp: {{host: 127.0.0.1, port: {port}}}"
    )))
    .await;
    assert!(!o.passed && err(&o).contains("refused"), "{o:?}");

    let o = evaluate(&probe(
        "name: a\ncmd: {argv: [sh, -c, 'echo version 1.2.3'], stdoutRegex: 'version [0-9]+\\.'}",
    ))
    .await;
    assert!(o.passed, "{o:?}");
    let o = evaluate(&probe("name: a\ncmd: {argv: ['false'], expectExitCode: 0}")).await;
    assert!(!o.passed && err(&o).contains("exit code Some(1)"), "{o:?}");
    let t = Instant::now();
    let o = evaluate(&probe(
        "name: a\ntimeout: 300ms\ncmd: {argv: [sleep, '60']}",
    ))
    .await;
    assert!(
        !o.passed && t.elapsed() < Duration::from_secs(2) && err(&o).contains("did not finish"),
        "{o:?}"
    );
    let t = Instant::now();
    let o = evaluate(&probe("name: a\ntimeout: 500ms\ncmd: {argv: ['yes']}")).await;
    assert!(
        !o.passed && t.elapsed() < Duration::from_secs(3),
        "endless output never blocks: {o:?}"
    );
    let o = evaluate(&probe("name: a\ncmd: {argv: [/nonexistent/program]}")).await;
    assert!(!o.passed && err(&o).contains("cannot start"), "{o:?}");
}

#[tokio::test]
async fn prometheus_probe_against_hostile_answers() {
    let (a, srv) = serve(app()).await;
    let p = |q: &str, cmp: &str, t: f64| {
        probe(&format!(
            "name: a\nprometheus: {{url: 'http://{a}', query: {q}, comparator: '{cmp}', threshold: {t}}}"
        ))
    };
    let o = evaluate(&p("two_series", "<", 10.0)).await;
    assert!(o.passed, "{o:?}");
    let o = evaluate(&p("two_series", "<", 5.0)).await;
    assert!(
        !o.passed && err(&o).contains("= 7"),
        "every series must pass: {o:?}"
    );
    for q in ["nan", "inf"] {
        let o = evaluate(&p(q, ">", 0.0)).await;
        assert!(
            !o.passed && err(&o).contains("cannot be compared"),
            "{q}: {o:?}"
        );
    }
    let o = evaluate(&p("empty", ">", 0.0)).await;
    assert!(!o.passed && err(&o).contains("no series"), "{o:?}");
    let o = evaluate(&p("garbage", ">", 0.0)).await;
    assert!(
        !o.passed && err(&o).contains("not Prometheus JSON"),
        "{o:?}"
    );
    let o = evaluate(&p("bad(", ">", 0.0)).await;
    assert!(!o.passed && err(&o).contains("parse error"), "{o:?}");
    srv.abort();
}

/// Debian's prometheus on a free loopback port, scraping itself (and `extra` targets) every second.
struct RealPrometheus {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl RealPrometheus {
    fn start(extra_targets: &[String]) -> Option<Self> {
        let bin = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let mut targets = vec![format!("'127.0.0.1:{port}'")];
        targets.extend(extra_targets.iter().map(|t| format!("'{t}'")));
        let cfg = format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: all\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        std::fs::write(dir.path().join("p.yml"), cfg).unwrap();
        let child = std::process::Command::new(bin)
            .arg(format!(
                "--config.file={}",
                dir.path().join("p.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let p = RealPrometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let ready = wait_until(Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(ready, "prometheus did not start");
        Some(p)
    }
}

impl Drop for RealPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn eventually(spec: &ProbeSpec, limit: Duration) -> Outcome {
    let start = Instant::now();
    loop {
        let o = evaluate(spec).await;
        if o.passed || start.elapsed() > limit {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_probe_and_our_metrics_against_the_real_prometheus() {
    // Our own metrics endpoint, with something recorded in it.
    let (maddr, mtask) = chaosduck::metrics::serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    chaosduck::metrics::metrics().injection("pod_delete", true);
    chaosduck::metrics::metrics().experiment_finished("pod_delete", "completed");
    let Some(prom) = RealPrometheus::start(&[maddr.to_string()]) else {
        eprintln!(
            "SKIPPED: prometheus is not installed (apt-get install prometheus; scripts/test.sh does)"
        );
        mtask.abort();
        return;
    };
    let p = |q: &str, cmp: &str, t: f64| {
        probe(&format!(
            "name: a\ntimeout: 2s\nprometheus: {{url: '{}', query: '{q}', comparator: '{cmp}', threshold: {t}}}",
            prom.url
        ))
    };
    let o = eventually(&p("up", ">=", 1.0), Duration::from_secs(20)).await;
    assert!(o.passed, "up >= 1: {o:?}");
    let o = eventually(
        &p("prometheus_build_info", "==", 1.0),
        Duration::from_secs(10),
    )
    .await;
    assert!(o.passed, "{o:?}");
    let o = evaluate(&p("up", "<", 0.0)).await;
    assert!(!o.passed && err(&o).contains("not < 0"), "{o:?}");
    let o = evaluate(&p("sum(rate(", ">", 0.0)).await;
    assert!(!o.passed && err(&o).contains("query error"), "{o:?}");
    // Prometheus scraped ChaosDuck's own metrics.
    let o = eventually(
        &p(
            "chaosduck_injections_total{fault=\"pod_delete\",result=\"ok\"}",
            ">=",
            1.0,
        ),
        Duration::from_secs(20),
    )
    .await;
    assert!(o.passed, "our metrics were scraped: {o:?}");
    let o = eventually(
        &p(
            "chaosduck_experiments_total{status=\"completed\"}",
            ">=",
            1.0,
        ),
        Duration::from_secs(10),
    )
    .await;
    assert!(o.passed, "{o:?}");
    drop(prom);
    mtask.abort();
}

#[test]
fn check_evaluates_probes_once_and_injects_nothing() {
    let h = Home::new();
    h.write_world(1);
    let f = h.experiment(
        "check",
        "  fault: {type: pod_delete}\n  target: {pods: {namespace: shop, selector: app=web}}\n  duration: 1s\n  probes:\n    - name: yes\n      cmd: {argv: [\"true\"]}\n    - name: no\n      cmd: {argv: [\"false\"]}\n",
    );
    let o = h.run(&["check", "-o", "json", f.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["probes"][0]["passed"], true);
    assert_eq!(v["probes"][1]["passed"], false);
    assert!(
        v["probes"][1]["error"]
            .as_str()
            .unwrap()
            .contains("exit code")
    );
    assert!(h.markers().is_empty());
    let o = h.run(&["list", "-o", "json"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn probe_criteria_are_validated_with_the_file() {
    let h = Home::new();
    let f = h.experiment(
        "bad-probes",
        "  fault: {type: pod_delete}\n  target: {pods: {namespace: shop, selector: app=web}}\n  duration: 1s\n  probes:\n    - name: a\n      http: {url: 'http://x', bodyRegex: '(', json: {path: '$[', min: 3, max: 1}}\n    - name: b\n      prometheus: {url: 'http://p', query: up, comparator: '=~', threshold: 1}\n    - name: c\n      k8s: {kind: Widget, name: x, namespace: shop}\n",
    );
    let o = h.run(&["validate", "-o", "json", f.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let paths: Vec<String> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap().to_string())
        .collect();
    for want in [
        "spec.probes[0].http.bodyRegex",
        "spec.probes[0].http.json.path",
        "spec.probes[0].http.json",
        "spec.probes[1].prometheus.comparator",
        "spec.probes[2].k8s.kind",
    ] {
        assert!(paths.iter().any(|p| p == want), "missing {want}: {paths:?}");
    }
}
