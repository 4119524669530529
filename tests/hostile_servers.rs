//! Hostile servers: loopback stand-ins for a Kubernetes API, an AWS endpoint and a Prometheus
//! that answer nonsense (HTML with 200, truncated or wrong-typed JSON, objects of the wrong
//! shape, endless watch streams of garbage, huge bodies, malformed XML, empty 200s, throttling
//! that never ends). The real binary and the real clients are pointed at them; each command
//! must end, within a bound, with an exit code and a message that says what to check — never a
//! panic, never a hang.

mod common;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use common::Home;
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest any command may take against a hostile server.
const BOUND: Duration = Duration::from_secs(60);

/// Runs a command, killing it after `BOUND`: (exit code, stdout+stderr, how long).
fn bounded(mut c: Command) -> (Option<i32>, String, Duration) {
    let start = Instant::now();
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chaosduck");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let o = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let status = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break Some(s);
        }
        if start.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.join().unwrap_or_default()),
        String::from_utf8_lossy(&e.join().unwrap_or_default())
    );
    (status.and_then(|s| s.code()), text, start.elapsed())
}

/// A command must end in time, with a failure exit code, a message, and no panic.
fn assert_clear_failure(what: &str, r: &(Option<i32>, String, Duration), advice: &[&str]) {
    let (code, text, took) = r;
    assert!(
        code.is_some(),
        "{what}: killed after {took:?} (hang or signal):\n{text}"
    );
    assert_ne!(
        *code,
        Some(0),
        "{what}: succeeded against nonsense:\n{text}"
    );
    assert!(
        !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
        "{what}: panicked:\n{text}"
    );
    // An error, a dry run that refuses and says why (a well-formed but empty answer), or a
    // partial AWS topology that lists each service's error.
    assert!(
        text.contains("chaosduck:")
            || text.contains("would be REFUSED")
            || text.contains("\"errors\": ["),
        "{what}: no error message:\n{text}"
    );
    assert!(
        advice.iter().any(|a| text.contains(a)),
        "{what}: the message says none of {advice:?}:\n{text}"
    );
}

/// A loopback server whose every answer comes from `answer(request)`.
struct Hostile {
    addr: SocketAddr,
    rt: tokio::runtime::Runtime,
    task: tokio::task::JoinHandle<()>,
}

type Answer = Arc<dyn Fn(&http::Method, &str, &str, &[u8]) -> Response + Send + Sync>;

impl Hostile {
    fn start(answer: Answer) -> Hostile {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (addr, task) = rt.block_on(async move {
            let app = Router::new()
                .fallback(|State(a): State<Answer>, req: Request| async move {
                    let (parts, body) = req.into_parts();
                    let body = axum::body::to_bytes(body, 1 << 20)
                        .await
                        .unwrap_or_default();
                    a(
                        &parts.method,
                        parts.uri.path(),
                        parts.uri.query().unwrap_or(""),
                        &body,
                    )
                })
                .with_state(answer);
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = l.local_addr().expect("addr");
            let task = tokio::spawn(async move {
                let _ = axum::serve(l, app).await;
            });
            (addr, task)
        });
        Hostile { addr, rt, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn respond(status: u16, content_type: &str, body: impl Into<Body>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(body.into())
        .unwrap_or_default()
}

/// A body that streams `n` chunks produced by `f`, one every `every`.
fn streamed(n: usize, every: Duration, f: impl Fn(usize) -> String + Send + 'static) -> Body {
    let s = futures::stream::unfold(0usize, move |i| {
        let piece = (i < n).then(|| f(i));
        async move {
            let piece = piece?;
            if !every.is_zero() {
                tokio::time::sleep(every).await;
            }
            Some((
                Ok::<_, std::io::Error>(axum::body::Bytes::from(piece)),
                i + 1,
            ))
        }
    });
    Body::from_stream(s)
}

// ---- Kubernetes ------------------------------------------------------------------------------

const EMPTY_LIST: &str =
    r#"{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":"1"},"items":[]}"#;

/// The ways a "Kubernetes API" answers lists (watches get the same unless said otherwise).
fn k8s_mode(mode: &'static str) -> Answer {
    Arc::new(move |_m, path, query, _body| {
        let watch = query.contains("watch=true") || query.contains("watch=1");
        match mode {
            "html" => respond(
                200,
                "text/html",
                "<html><body><h1>Welcome to nginx!</h1></body></html>",
            ),
            "truncated" => respond(
                200,
                "application/json",
                r#"{"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"web-0","namespace":"shop","labels":{"app":"#,
            ),
            "wrong-types" => respond(
                200,
                "application/json",
                r#"{"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":5,"labels":"app=web"},"spec":"nope","status":[1,2]}]}"#,
            ),
            "not-a-list" => respond(200, "application/json", "[1, 2, 3]"),
            "empty-200" => respond(200, "application/json", ""),
            "status-500" => respond(
                500,
                "application/json",
                r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcdserver: request timed out","reason":"InternalError","code":500}"#,
            ),
            "huge" => respond(
                200,
                "application/json",
                streamed(66, Duration::ZERO, |i| {
                    match i {
                    0 => r#"{"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"1"},"items":[],"padding":""#.to_string(),
                    65 => "\"}".to_string(),
                    _ => "x".repeat(1 << 20),
                }
                }),
            ),
            // Lists are fine, pods' items are wrong-shaped objects of another kind.
            "wrong-kind" if path.ends_with("/pods") && !watch => respond(
                200,
                "application/json",
                r#"{"apiVersion":"v1","kind":"NodeList","metadata":{"resourceVersion":"1"},"items":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"n"},"spec":{"podCIDR":7}}]}"#,
            ),
            "wrong-kind" if !watch => respond(200, "application/json", EMPTY_LIST),
            "garbage-watch" if !watch => respond(200, "application/json", EMPTY_LIST),
            "garbage-watch" | "wrong-kind" => respond(
                200,
                "application/json",
                // Endless (as far as the client can tell): garbage, then half-events, forever.
                streamed(100_000, Duration::from_millis(5), |i| {
                    match i % 4 {
                    0 => "garbage line\n".to_string(),
                    1 => r#"{"type":"ADDED","object":5}"#.to_string() + "\n",
                    2 => r#"{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":[]}}}"#.to_string() + "\n",
                    _ => r#"{"type":"ERROR","object":{"kind":"Status","code":"x"}}"#.to_string() + "\n",
                }
                }),
            ),
            _ => respond(404, "text/plain", "404 page not found"),
        }
    })
}

fn kubeconfig(h: &Home, server: &str) -> std::path::PathBuf {
    let p = h.path().join("kubeconfig");
    std::fs::write(
        &p,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: hostile\n  cluster:\n    server: {server}\ncontexts:\n- name: hostile\n  context:\n    cluster: hostile\n    user: hostile\n    namespace: default\ncurrent-context: hostile\nusers:\n- name: hostile\n  user: {{}}\n"
        ),
    )
    .expect("kubeconfig");
    p
}

fn example(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("experiments")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn kube_client_against_a_hostile_api_ends_with_a_clear_error() {
    // (mode, whether the answers are wrong; a huge but well-formed empty list is a cluster
    // with nothing in it, read within the bound)
    for (mode, wrong) in [
        ("html", true),
        ("truncated", true),
        ("wrong-types", true),
        ("not-a-list", true),
        ("empty-200", true),
        ("status-500", true),
        ("huge", false),
        ("wrong-kind", true),
    ] {
        let srv = Hostile::start(k8s_mode(mode));
        let h = Home::new();
        let kc = kubeconfig(&h, &srv.url());
        let mut c = h.cmd_without_world();
        c.arg("--kubeconfig")
            .arg(&kc)
            .args(["dry-run", &example("pod-delete.yaml")]);
        let r = bounded(c);
        assert_clear_failure(
            &format!("{mode}: dry-run"),
            &r,
            &["--kubeconfig", "check the selector"],
        );
        assert!(
            wrong || r.1.contains("nothing matched"),
            "{mode}: dry-run on an empty cluster says nothing matched:\n{}",
            r.1
        );
        eprintln!("{mode}: dry-run → {:?} in {:?}: {}", r.0, r.2, r.1.trim());
        let mut c = h.cmd_without_world();
        c.arg("--kubeconfig")
            .arg(&kc)
            .args(["topology", "-o", "json"]);
        let r = bounded(c);
        if wrong {
            assert_clear_failure(
                &format!("{mode}: topology"),
                &r,
                &["--kubeconfig", "kubeconfig"],
            );
        } else {
            assert_eq!(
                r.0,
                Some(0),
                "{mode}: topology of an empty cluster:\n{}",
                r.1
            );
            assert!(r.1.contains("\"pods\":0"), "{mode}: {}", r.1);
        }
        eprintln!("{mode}: topology → {:?} in {:?}: {}", r.0, r.2, r.1.trim());
    }
}

/// The dashboard's watchers against endless garbage watch streams: the initial listing is
/// read, the garbage is survived, and dropping the watch stops it.
#[test]
fn topology_watch_survives_endless_garbage_watch_streams() {
    let srv = Hostile::start(k8s_mode("garbage-watch"));
    let url = srv.url();
    srv.rt.block_on(async move {
        let mut cfg = kube::Config::new(url.parse().expect("url"));
        cfg.read_timeout = Some(Duration::from_secs(5));
        let client = kube::Client::try_from(cfg).expect("client");
        let w = chaosduck::topology::k8s::K8sWatch::start(client);
        w.ready(Duration::from_secs(20))
            .await
            .expect("the initial (empty) listing is read");
        let mut changes = w.changes();
        // Let the garbage flow for a while; the stores must stay as listed.
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            let _ = tokio::time::timeout(Duration::from_millis(200), changes.changed()).await;
            let t = w.snapshot();
            assert_eq!(t.pods, 0, "garbage became pods: {t:?}");
        }
        drop(w);
    });
}

// ---- AWS -------------------------------------------------------------------------------------

/// Words of a message that says what to check about AWS, or a refusal that says why.
const AWS_ADVICE: &[&str] = &[
    "endpoint",
    "credentials",
    "--region",
    "check the selector",
    "and the region",
    "retry",
];

fn ec2_error(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>r</RequestID></Response>"
    )
}

fn aws_mode(mode: &'static str) -> Answer {
    Arc::new(move |_m, _path, query, body| {
        let form = format!("{}&{query}", String::from_utf8_lossy(body));
        let action = form
            .split('&')
            .find_map(|p| p.strip_prefix("Action="))
            .unwrap_or("")
            .to_string();
        match mode {
            "malformed-xml" => respond(
                200,
                "text/xml",
                format!(
                    "<?xml version=\"1.0\"?>\n<{action}Response><reservationSet><item><instancesSet><item><instanceId>i-1</instanceId><instanceState><name>run"
                ),
            ),
            "wrong-shapes" => respond(
                200,
                "text/xml",
                format!(
                    "<?xml version=\"1.0\"?>\n<{action}Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><reservationSet>seven</reservationSet><routeTableSet><item><routeSet>x</routeSet></item></routeTableSet><{action}Result><DBClusters><DBCluster><DBClusterMembers>none</DBClusterMembers><MultiAZ>maybe</MultiAZ></DBCluster></DBClusters></{action}Result></{action}Response>"
                ),
            ),
            "empty-200" => respond(200, "text/xml", ""),
            "html" => respond(
                200,
                "text/html",
                "<html><body>Service Unavailable</body></html>",
            ),
            "throttled" => respond(400, "text/xml", ec2_error("Throttling", "Rate exceeded")),
            "server-error" => respond(503, "text/html", "<html>503</html>"),
            _ => respond(404, "text/plain", "no"),
        }
    })
}

fn aws_cmd(h: &Home, url: &str) -> Command {
    let mut c = h.cmd_without_world();
    for v in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"] {
        c.env_remove(v);
    }
    c.env("AWS_ACCESS_KEY_ID", "AKIDHOSTILE")
        .env("AWS_SECRET_ACCESS_KEY", "hostile-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", h.path().join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            h.path().join("no-aws-credentials"),
        )
        .env("CHAOSDUCK_AWS_WAIT_TIMEOUT", "5s")
        .args(["--aws-endpoint-url", url, "--region", "us-east-1"]);
    c
}

#[test]
fn aws_client_against_a_hostile_endpoint_ends_with_a_clear_error() {
    for mode in [
        "malformed-xml",
        "wrong-shapes",
        "empty-200",
        "html",
        "throttled",
        "server-error",
    ] {
        let srv = Hostile::start(aws_mode(mode));
        let h = Home::new();
        for (what, args, advice) in [
            (
                "dry-run ec2-stop",
                vec!["dry-run".to_string(), example("ec2-stop.yaml")],
                AWS_ADVICE,
            ),
            (
                "dry-run rds-failover",
                vec!["dry-run".to_string(), example("rds-failover.yaml")],
                AWS_ADVICE,
            ),
            (
                "dry-run route-blackhole",
                vec!["dry-run".to_string(), example("route-blackhole.yaml")],
                AWS_ADVICE,
            ),
            (
                "topology --aws",
                vec![
                    "topology".into(),
                    "--aws".into(),
                    "-o".into(),
                    "json".into(),
                ],
                AWS_ADVICE,
            ),
        ] {
            let mut c = aws_cmd(&h, &srv.url());
            c.args(&args);
            let r = bounded(c);
            assert_clear_failure(&format!("{mode}: {what}"), &r, advice);
            assert!(
                !r.1.contains("hostile-secret"),
                "{mode}: {what}: the secret key was printed"
            );
            eprintln!("{mode}: {what} → {:?} in {:?}: {}", r.0, r.2, r.1.trim());
        }
        // The AWS probe, through `check`: a probe that cannot be read fails, with the reason.
        let f = h.experiment(
            "aws-probe",
            "  fault: {type: ec2_stop}\n  target: {instances: {ids: [i-0123456789abcdef0]}}\n  duration: 10s\n  probes:\n    - name: web-running\n      aws: {instance: i-0123456789abcdef0, state: running}\n    - name: writer\n      aws: {dbCluster: shop-orders, writer: shop-orders-1}\n",
        );
        let mut c = aws_cmd(&h, &srv.url());
        c.arg("check").arg(&f);
        let r = bounded(c);
        assert!(r.0.is_some(), "{mode}: check hung:\n{}", r.1);
        assert_ne!(
            r.0,
            Some(0),
            "{mode}: a probe passed against nonsense:\n{}",
            r.1
        );
        assert!(
            !r.1.contains("panicked"),
            "{mode}: check panicked:\n{}",
            r.1
        );
        assert!(
            r.1.contains("web-running") && r.1.contains("writer"),
            "{mode}: check names the failing probes:\n{}",
            r.1
        );
        assert!(
            !r.1.contains("failed: service error"),
            "{mode}: a probe error says only \"service error\":\n{}",
            r.1
        );
        eprintln!("{mode}: check → {:?} in {:?}: {}", r.0, r.2, r.1.trim());
    }
}

// ---- Prometheus ------------------------------------------------------------------------------

fn prometheus_mode(mode: &'static str) -> Answer {
    Arc::new(move |_m, _path, _query, _body| {
        let vector = |result: &str| {
            format!(r#"{{"status":"success","data":{{"resultType":"vector","result":{result}}}}}"#)
        };
        match mode {
            "nan" => respond(
                200,
                "application/json",
                vector(r#"[{"metric":{},"value":[1.0,"NaN"]}]"#),
            ),
            "string-value" => respond(
                200,
                "application/json",
                vector(r#"[{"metric":{},"value":[1.0,"fast"]}]"#),
            ),
            "number-not-string" => respond(
                200,
                "application/json",
                vector(r#"[{"metric":{},"value":[1.0,5]}]"#),
            ),
            "short-sample" => respond(
                200,
                "application/json",
                vector(r#"[{"metric":{},"value":[]}]"#),
            ),
            "wrong-result-type" => respond(
                200,
                "application/json",
                r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]}}"#,
            ),
            "string-result" => respond(
                200,
                "application/json",
                r#"{"status":"success","data":{"resultType":"string","result":[1,"text"]}}"#,
            ),
            "scalar-garbage" => respond(
                200,
                "application/json",
                r#"{"status":"success","data":{"resultType":"scalar","result":"x"}}"#,
            ),
            "error-status" => respond(
                200,
                "application/json",
                r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#,
            ),
            "huge-vector" => respond(
                200,
                "application/json",
                streamed(200_001, Duration::ZERO, |i| match i {
                    0 => r#"{"status":"success","data":{"resultType":"vector","result":["#
                        .to_string(),
                    200_000 => r#"{"metric":{},"value":[1,"9"]}]}}"#.to_string(),
                    _ => r#"{"metric":{"pod":"p"},"value":[1,"9"]},"#.to_string(),
                }),
            ),
            "html" => respond(200, "text/html", "<html><body>Grafana login</body></html>"),
            "truncated" => respond(
                200,
                "application/json",
                r#"{"status":"success","data":{"resultType":"vec"#,
            ),
            _ => respond(404, "text/plain", "no"),
        }
    })
}

#[test]
fn prometheus_probe_against_nonsense_fails_with_the_reason() {
    for mode in [
        "nan",
        "string-value",
        "number-not-string",
        "short-sample",
        "wrong-result-type",
        "string-result",
        "scalar-garbage",
        "error-status",
        "huge-vector",
        "html",
        "truncated",
    ] {
        let srv = Hostile::start(prometheus_mode(mode));
        let h = Home::new();
        h.write_world(2);
        let f = h.experiment(
            "prom",
            &format!(
                "  fault: {{type: pod_delete}}\n  target: {{pods: {{namespace: shop, selector: app=web}}}}\n  duration: 1s\n  probes:\n    - name: error-rate\n      timeout: 10s\n      prometheus: {{url: '{}', query: 'sum(rate(errors[1m]))', comparator: '<', threshold: 5}}\n",
                srv.url()
            ),
        );
        let mut c = h.cmd();
        c.arg("check").arg(&f);
        let r = bounded(c);
        let (code, text, took) = &r;
        assert!(code.is_some(), "{mode}: check hung ({took:?}):\n{text}");
        assert_ne!(
            *code,
            Some(0),
            "{mode}: a probe passed on nonsense:\n{text}"
        );
        assert!(!text.contains("panicked"), "{mode}: panicked:\n{text}");
        assert!(
            text.contains("error-rate"),
            "{mode}: the failing probe is named:\n{text}"
        );
        eprintln!("{mode}: check → {code:?} in {took:?}: {}", text.trim());
    }
}
