//! The Anthropic client against a loopback fake of the Messages API that answers like the real
//! one: streamed text, tool_use blocks, 429 with retry-after, 529 overloaded, 500, a cut stream,
//! malformed JSON, a valid-looking experiment that breaks a guardrail, an enormous answer, 401.
//! Each ends in a clear result and nothing unsafe becomes a runnable proposal. Also: the API key
//! never reaches the store, the logs or an export.

mod common;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chaosduck::ai::AiError;
use chaosduck::ai::anthropic::AnthropicClient;
use chaosduck::ai::assistant::{self, Engine, NlResult};
use chaosduck::ai::llm::{ChatRequest, LlmClient, StreamEvent};
use chaosduck::ai::secret::ApiKey;
use chaosduck::config::Config;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const KEY: &str = "sk-ant-test-0123456789-SUPERSECRETKEY";

#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<(String, Value)>>,
}

fn sse(events: &[(&str, Value)]) -> String {
    events
        .iter()
        .map(|(e, d)| format!("event: {e}\ndata: {d}\n\n"))
        .collect()
}

fn stream_response(body: String) -> Response {
    ([("content-type", "text/event-stream")], body).into_response()
}

fn message(content: Value, stop: &str) -> Value {
    json!({"id": "msg_01", "type": "message", "role": "assistant", "model": "fake-1",
           "content": content, "stop_reason": stop, "stop_sequence": null,
           "usage": {"input_tokens": 10, "output_tokens": 20}})
}

fn streamed_tool(input: &Value) -> String {
    let j = input.to_string();
    let (a, b) = j.split_at(j.len() / 2);
    sse(&[
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_01", "type": "message", "role": "assistant", "model": "fake-1", "content": [], "stop_reason": null, "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_01", "name": "propose_experiment", "input": {}}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": a}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": b}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 30}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ])
}

fn good_experiment() -> Value {
    json!({"explanation": "Adds 200ms to checkout in shop for two minutes.",
           "experiment": {"apiVersion": "chaosduck.io/v1", "kind": "Experiment",
             "metadata": {"name": "checkout-latency"},
             "spec": {"fault": {"type": "network_latency", "latency": "200ms"},
                      "target": {"pods": {"namespace": "shop", "selector": "app=checkout"}},
                      "duration": "2m", "hypothesis": "Checkout stays fast enough."}}})
}

fn unsafe_experiment() -> Value {
    json!({"explanation": "Deletes every pod in kube-system.",
           "experiment": {"apiVersion": "chaosduck.io/v1", "kind": "Experiment",
             "metadata": {"name": "wipe-kube-system"},
             "spec": {"fault": {"type": "pod_delete"},
                      "target": {"pods": {"namespace": "kube-system", "selector": "app=coredns"}},
                      "duration": "1m",
                      "safety": {"confirmNamespace": "kube-system", "blastRadius": "100%"}}}})
}

async fn handler(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = v["model"].as_str().unwrap_or("").to_string();
    let n = {
        let mut c = fake.calls.lock().unwrap();
        c.push((model.clone(), v.clone()));
        c.iter().filter(|(m, _)| *m == model).count()
    };
    let key_ok = headers.get("x-api-key").and_then(|h| h.to_str().ok()) == Some(KEY);
    let version_ok = headers.get("anthropic-version").is_some();
    if !key_ok || !version_ok {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}))).into_response();
    }
    let stream = v["stream"].as_bool().unwrap_or(false);
    match model.as_str() {
        "text" if stream => stream_response(sse(&[
            ("message_start", json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "model": "fake-1", "content": [], "usage": {"input_tokens": 1, "output_tokens": 1}}})),
            ("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
            ("ping", json!({"type": "ping"})),
            ("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checkout held "}})),
            ("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "its SLO."}})),
            ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
            ("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 5}})),
            ("message_stop", json!({"type": "message_stop"})),
        ])),
        "tool-ok" if stream => stream_response(streamed_tool(&good_experiment())),
        "tool-ok" => axum::Json(message(json!([{"type": "tool_use", "id": "toolu_1", "name": "propose_experiment", "input": good_experiment()}]), "tool_use")).into_response(),
        "tool-unsafe" => axum::Json(message(json!([{"type": "tool_use", "id": "toolu_1", "name": "propose_experiment", "input": unsafe_experiment()}]), "tool_use")).into_response(),
        "no-tool" => axum::Json(message(json!([{"type": "text", "text": "Sure! Here is YAML: ..."}]), "end_turn")).into_response(),
        "rate" if n == 1 => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], axum::Json(json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}))).into_response(),
        "rate" => axum::Json(message(json!([{"type": "text", "text": "after the wait"}]), "end_turn")).into_response(),
        "rate-long" => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "3600")], "{}").into_response(),
        "overloaded" => (StatusCode::from_u16(529).unwrap(), axum::Json(json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))).into_response(),
        "overloaded-stream" => stream_response(sse(&[
            ("message_start", json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "model": "fake-1", "content": [], "usage": {"input_tokens": 1, "output_tokens": 1}}})),
            ("error", json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
        ])),
        "server-error" if n <= 2 => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"type": "error", "error": {"type": "api_error", "message": "boom"}}))).into_response(),
        "server-error" => axum::Json(message(json!([{"type": "text", "text": "third time lucky"}]), "end_turn")).into_response(),
        "server-error-always" => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        "cut" => {
            let full = streamed_tool(&good_experiment());
            let cut = full[..full.find("event: content_block_stop").unwrap_or(full.len() / 2)].to_string();
            stream_response(cut)
        }
        "malformed" => ([("content-type", "application/json")], "{\"type\": \"message\", \"content\": [").into_response(),
        "malformed-stream" => stream_response("event: message_start\ndata: {not json\n\n".into()),
        "huge" => {
            let big = "x".repeat(3 * 1024 * 1024);
            axum::Json(message(json!([{"type": "text", "text": big}]), "end_turn")).into_response()
        }
        "huge-stream" => {
            let mut body = sse(&[("message_start", json!({"type": "message_start", "message": {"id": "m", "model": "fake-1"}}))]);
            let piece = sse(&[("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "y".repeat(64 * 1024)}}))]);
            for _ in 0..48 {
                body.push_str(&piece);
            }
            stream_response(body)
        }
        // `ai analyze` streams on a model, as the real API does when asked.
        "analysis-bad" if stream => stream_response(streamed_tool(&json!({"severity": "SEV2", "likely_cause": "x", "confidence": 7.5, "findings": [], "recommendations": [], "resilience_score": 100}))),
        "analysis-ok" if stream => stream_response(streamed_tool(&json!({"severity": "SEV3", "likely_cause": "Checkout had one replica.", "confidence": 0.7, "findings": ["web failed during OBSERVE"], "recommendations": [{"priority": "high", "action": "Run two replicas", "detail": "One pod is a single point of failure."}]}))),
        "analysis-bad" => axum::Json(message(json!([{"type": "tool_use", "id": "t", "name": "record_analysis", "input": {"severity": "SEV2", "likely_cause": "x", "confidence": 7.5, "findings": [], "recommendations": [], "resilience_score": 100}}]), "tool_use")).into_response(),
        "analysis-ok" => axum::Json(message(json!([{"type": "tool_use", "id": "t", "name": "record_analysis", "input": {"severity": "SEV3", "likely_cause": "Checkout had one replica.", "confidence": 0.7, "findings": ["web failed during OBSERVE"], "recommendations": [{"priority": "high", "action": "Run two replicas", "detail": "One pod is a single point of failure."}]}}]), "tool_use")).into_response(),
        _ => (StatusCode::BAD_REQUEST, axum::Json(json!({"type": "error", "error": {"type": "invalid_request_error", "message": format!("unknown model {model}")}}))).into_response(),
    }
}

async fn start() -> (String, Arc<Fake>, tokio::task::JoinHandle<()>) {
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route("/v1/messages", post(handler))
        .with_state(fake.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let h = tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (format!("http://{addr}"), fake, h)
}

fn client(base: &str, model: &str) -> AnthropicClient {
    let mut c = AnthropicClient::new(base, ApiKey::new(KEY), "$ANTHROPIC_API_KEY", model).unwrap();
    c.retry.max_attempts = 3;
    c.retry.initial = Duration::from_millis(20);
    c.retry.max_backoff = Duration::from_millis(100);
    c.retry.max_wait = Duration::from_secs(5);
    c.limits.max_response = 1024 * 1024;
    c.limits.timeout = Duration::from_secs(10);
    c.limits.idle = Duration::from_secs(5);
    c
}

fn text_req() -> ChatRequest {
    ChatRequest {
        system: "s".into(),
        user: "u".into(),
        tool: None,
        max_tokens: 256,
    }
}

async fn send(
    base: &str,
    model: &str,
    stream: bool,
) -> Result<chaosduck::ai::ChatResponse, AiError> {
    let c = client(base, model);
    if stream {
        let (tx, mut rx) = mpsc::channel(1024);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let r = c.send(&text_req(), Some(&tx)).await;
        drop(tx);
        let _ = drain.await;
        r
    } else {
        c.send(&text_req(), None).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_text_arrives_piece_by_piece() {
    let (base, _f, h) = start().await;
    let c = client(&base, "text");
    let (tx, mut rx) = mpsc::channel(64);
    let r = tokio::time::timeout(Duration::from_secs(20), c.send(&text_req(), Some(&tx)))
        .await
        .unwrap()
        .unwrap();
    drop(tx);
    let mut evs = Vec::new();
    while let Some(e) = rx.recv().await {
        evs.push(e);
    }
    assert_eq!(r.text, "Checkout held its SLO.");
    assert_eq!(r.stop_reason.as_deref(), Some("end_turn"));
    assert_eq!(evs.first(), Some(&StreamEvent::Started("fake-1".into())));
    assert!(evs.contains(&StreamEvent::Text("Checkout held ".into())));
    assert!(evs.contains(&StreamEvent::Ping));
    assert_eq!(
        evs.last(),
        Some(&StreamEvent::Stopped(Some("end_turn".into())))
    );
    h.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_use_gives_a_vetted_experiment_streamed_or_not() {
    let (base, fake, h) = start().await;
    let cfg = Config::default();
    for stream in [false, true] {
        let c = client(&base, "tool-ok");
        let (tx, mut rx) = mpsc::channel(64);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let r = assistant::nl_remote(
            &c,
            "add 200ms to checkout in shop, password=hunter22",
            &cfg,
            stream.then_some(&tx),
        )
        .await
        .unwrap();
        drop(tx);
        let _ = drain.await;
        match r {
            NlResult::Proposal {
                vetted,
                explanation,
            } => {
                assert_eq!(vetted.doc.metadata.name, "checkout-latency");
                assert!(explanation.contains("200ms"));
                chaosduck::domain::parse_experiment("x.yaml", &vetted.yaml).unwrap();
            }
            other => panic!("{other:?}"),
        }
    }
    // The request: the tool forced, its schema the experiment's, the request delimited, the
    // password redacted.
    let calls = fake.calls.lock().unwrap();
    let body = &calls[0].1;
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "propose_experiment"})
    );
    assert!(
        body["tools"][0]["input_schema"]
            .to_string()
            .contains("apiVersion")
    );
    let user = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        user.contains("<untrusted>") && !user.contains("hunter22"),
        "{user}"
    );
    assert_eq!(calls[1].1["stream"], json!(true));
    drop(calls);
    h.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guardrail_breaking_proposal_is_refused_not_proposed() {
    let (base, _f, h) = start().await;
    let c = client(&base, "tool-unsafe");
    match assistant::nl_remote(&c, "clean up kube-system", &Config::default(), None)
        .await
        .unwrap()
    {
        NlResult::Refused { refused, .. } => {
            let rules: Vec<&str> = refused.refusals.iter().map(|r| r.rule.as_str()).collect();
            assert!(rules.contains(&"protected-namespace"), "{rules:?}");
            assert!(refused.to_string().contains("kube-system"));
        }
        other => panic!("an unsafe proposal came through: {other:?}"),
    }
    // Without a tool call there is no structured answer; the assistant falls back to offline.
    let eng = Engine::Remote(Arc::new(client(&base, "no-tool")));
    let a = assistant::nl(&eng, "kill one web pod in shop", &Config::default(), None).await;
    assert_eq!(a.engine, "offline");
    assert!(
        a.note
            .as_deref()
            .unwrap_or("")
            .contains("without the `propose_experiment` tool"),
        "{:?}",
        a.note
    );
    assert!(matches!(a.result, NlResult::Proposal { .. }));
    h.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_honour_retry_after_and_give_up_with_clear_errors() {
    let (base, fake, h) = start().await;
    let t = Instant::now();
    let r = send(&base, "rate", false).await.unwrap();
    assert_eq!(r.text, "after the wait");
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "retry-after ignored: {:?}",
        t.elapsed()
    );

    match send(&base, "rate-long", false).await {
        Err(AiError::RetryTooLong {
            retry_after_s: 3600,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    match send(&base, "overloaded", false).await {
        Err(
            e @ AiError::Http {
                status: 529,
                attempts: 3,
                ..
            },
        ) => {
            assert!(e.to_string().contains("overloaded_error"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    match send(&base, "overloaded-stream", true).await {
        Err(AiError::Http { kind, .. }) => assert_eq!(kind, "overloaded_error"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        send(&base, "server-error", false).await.unwrap().text,
        "third time lucky"
    );
    match send(&base, "server-error-always", false).await {
        Err(AiError::Http {
            status: 500,
            attempts: 3,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let calls = fake.calls.lock().unwrap();
    assert_eq!(calls.iter().filter(|(m, _)| m == "overloaded").count(), 3);
    drop(calls);
    h.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_answers_end_in_clear_errors() {
    let (base, _f, h) = start().await;
    match send(&base, "cut", true).await {
        Err(e @ AiError::Stream { .. }) => assert!(e.to_string().contains("message_stop"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        send(&base, "malformed", false).await,
        Err(AiError::Malformed { .. })
    ));
    assert!(matches!(
        send(&base, "malformed-stream", true).await,
        Err(AiError::Malformed { .. })
    ));
    assert!(matches!(
        send(&base, "huge", false).await,
        Err(AiError::TooLarge { .. })
    ));
    assert!(matches!(
        send(&base, "huge-stream", true).await,
        Err(AiError::TooLarge { .. })
    ));
    // A wrong key: 401 named, the key itself never in the message.
    let c = AnthropicClient::new(
        &base,
        ApiKey::new("sk-ant-wrong-key-000000000000"),
        "$ANTHROPIC_API_KEY",
        "text",
    )
    .unwrap();
    match c.send(&text_req(), None).await {
        Err(e @ AiError::Auth { status: 401, .. }) => {
            let s = e.to_string();
            assert!(
                s.contains("ANTHROPIC_API_KEY") && !s.contains("wrong-key"),
                "{s}"
            );
        }
        other => panic!("{other:?}"),
    }
    // The cut stream does not become a proposal either: the assistant falls back to offline.
    let eng = Engine::Remote(Arc::new(client(&base, "cut")));
    let (tx, mut rx) = mpsc::channel(64);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let a = assistant::nl(
        &eng,
        "add 200ms latency to checkout pods in shop",
        &Config::default(),
        Some(&tx),
    )
    .await;
    drop(tx);
    let _ = drain.await;
    assert_eq!(a.engine, "offline");
    assert!(a.note.unwrap().contains("stream broke"));
    h.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_never_reaches_the_store_logs_or_exports() {
    let (base, _f, h) = start().await;
    let home = common::Home::new();
    home.write_world(4);
    let f = home.experiment(
        "web-kill",
        "  fault: {type: pod_delete}\n  target: {pods: {namespace: shop, selector: app=web, count: 1}}\n  duration: 1s\n  probes:\n    - name: ok\n      mode: edge\n      cmd: {argv: [\"true\"]}\n",
    );
    let cfg_dir = home.path().join("config").join("chaosduck");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    let key_file = home.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    std::fs::write(
        cfg_dir.join("config.toml"),
        format!(
            "[ai]\nprovider = \"anthropic\"\nkey_file = {:?}\n",
            key_file.display().to_string()
        ),
    )
    .unwrap();
    let bin = tokio::task::spawn_blocking(move || {
        let run = |args: Vec<String>, model: &str, with_env: bool| {
            let mut c = home.cmd();
            c.env("CHAOSDUCK_LOG", "trace")
                .env("ANTHROPIC_BASE_URL", &base)
                .env("ANTHROPIC_MODEL", model);
            if with_env {
                c.env("ANTHROPIC_API_KEY", KEY);
            } else {
                c.env_remove("ANTHROPIC_API_KEY");
            }
            c.args(&args);
            c.output().unwrap()
        };
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let mut outs = Vec::new();
        let r = run(
            s(&["run", f.to_str().unwrap(), "--output", "json"]),
            "text",
            true,
        );
        let id = serde_json::from_slice::<Value>(&r.stdout).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        outs.push(r);
        // The key from the key file named in the config.
        outs.push(run(
            s(&["ai", "nl", "add 200ms latency to checkout pods in shop"]),
            "tool-ok",
            false,
        ));
        outs.push(run(s(&["ai", "analyze", &id]), "analysis-ok", true));
        outs.push(run(s(&["ai", "analyze", &id]), "analysis-bad", true));
        outs.push(run(s(&["ai", "report", &id]), "text", true));
        outs.push(run(
            s(&["export", &id, "--format", "markdown"]),
            "text",
            true,
        ));
        outs.push(run(s(&["export", &id, "--format", "json"]), "text", true));
        outs.push(run(s(&["show", &id]), "text", true));
        (home, outs)
    })
    .await
    .unwrap();
    let (home, outs) = bin;
    for o in &outs {
        assert!(o.status.success(), "{}", common::text(o));
    }
    let nl = common::text(&outs[1]);
    assert!(
        nl.contains("engine: anthropic (tool-ok)") && nl.contains("checkout-latency"),
        "{nl}"
    );
    let analyzed = common::text(&outs[2]);
    assert!(
        analyzed.contains("## Analysis (anthropic (analysis-ok))")
            && analyzed.contains("Run two replicas"),
        "{analyzed}"
    );
    // A model answer that invents a score is not used; the offline engine answers and says why.
    let bad = common::text(&outs[3]);
    assert!(
        bad.contains("## Analysis (offline)")
            && bad.contains("resilience_score")
            && bad.contains("does not fit its schema"),
        "{bad}"
    );
    let export = common::text(&outs[5]);
    assert!(
        export.contains("## Analysis (anthropic (analysis-ok))")
            && export.contains("## Analysis (offline)"),
        "{export}"
    );
    // Search the bytes of everything written.
    let mut files = vec![home.db()];
    for dir in [home.path().join("state"), home.path().join("data-home")] {
        if let Ok(rd) = std::fs::read_dir(dir.join("chaosduck")) {
            files.extend(rd.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    let logs: Vec<_> = files
        .iter()
        .filter(|p| p.to_string_lossy().contains(".log"))
        .collect();
    assert!(!logs.is_empty(), "no log file was written: {files:?}");
    let needle = KEY.as_bytes();
    for p in &files {
        let bytes = std::fs::read(p).unwrap_or_default();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the key is in {}",
            p.display()
        );
    }
    for o in &outs {
        let all = [o.stdout.as_slice(), o.stderr.as_slice()].concat();
        assert!(
            !all.windows(needle.len()).any(|w| w == needle),
            "the key is in an output"
        );
    }
    drop(key_file);
    h.abort();
}
