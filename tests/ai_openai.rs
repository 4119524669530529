//! The OpenAI-compatible chat-completions client against a loopback fake that answers like a
//! real server: plain and streamed text, forced function calls (structured output) plain and
//! streamed, 429 with retry-after, 500, 401, a cut stream and broken tool arguments. Also the CLI's
//! streaming: `ai nl` and `ai analyze` on a model print the stream to stderr while stdout keeps
//! only the final document.

mod common;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chaosduck::ai::AiError;
use chaosduck::ai::assistant::{self, Engine, NlResult};
use chaosduck::ai::llm::{ChatRequest, LlmClient, StreamEvent, ToolSpec};
use chaosduck::ai::openai::OpenAiClient;
use chaosduck::ai::review::{FindingSeverity, PodFacts, TargetContext};
use chaosduck::ai::secret::ApiKey;
use chaosduck::config::Config;
use common::{Home, code, text};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const KEY: &str = "sk-openai-test-0123456789-SECRET";

#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<Value>>,
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let v = json!({"id": "c1", "object": "chat.completion.chunk", "model": "fake-oai",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {v}\n\n")
}

fn stream(body: String) -> Response {
    ([("content-type", "text/event-stream")], body).into_response()
}

fn completion(message: Value, finish: &str) -> Response {
    axum::Json(
        json!({"id": "c1", "object": "chat.completion", "model": "fake-oai",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5}}),
    )
    .into_response()
}

fn good_experiment() -> Value {
    json!({"explanation": "Adds 200ms to checkout in shop for two minutes.",
           "experiment": {"apiVersion": "chaosduck.io/v1", "kind": "Experiment",
             "metadata": {"name": "checkout-latency"},
             "spec": {"fault": {"type": "network_latency", "latency": "200ms"},
                      "target": {"pods": {"namespace": "shop", "selector": "app=checkout"}},
                      "duration": "2m", "hypothesis": "Checkout stays fast enough."}}})
}

fn tool_call(name: &str, args: &str) -> Value {
    json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
           "function": {"name": name, "arguments": args}}]})
}

fn streamed_tool(name: &str, args: &str, preface: &str) -> String {
    let (a, b) = args.split_at(args.len() / 2);
    let mut s = chunk(json!({"role": "assistant", "content": ""}), None);
    if !preface.is_empty() {
        s.push_str(&chunk(json!({"content": preface}), None));
    }
    s.push_str(&chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": name, "arguments": a}}]}), None));
    s.push_str(&chunk(
        json!({"tool_calls": [{"index": 0, "function": {"arguments": b}}]}),
        None,
    ));
    s.push_str(&chunk(json!({}), Some("tool_calls")));
    s.push_str("data: [DONE]\n\n");
    s
}

fn analysis() -> Value {
    json!({"severity": "SEV3", "likely_cause": "Checkout had one replica.", "confidence": 0.7,
           "findings": ["web failed during OBSERVE"],
           "recommendations": [{"priority": "high", "action": "Run two replicas", "detail": "One pod is a single point of failure."}]})
}

async fn handler(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = v["model"].as_str().unwrap_or("").to_string();
    let n = {
        let mut c = fake.calls.lock().unwrap();
        c.push(v.clone());
        c.iter().filter(|c| c["model"] == model.as_str()).count()
    };
    let auth = headers.get("authorization").and_then(|h| h.to_str().ok());
    if auth != Some(&format!("Bearer {KEY}")) || model == "auth" {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}})),
        )
            .into_response();
    }
    let streamed = v["stream"].as_bool().unwrap_or(false);
    let tool = v["tools"][0]["function"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    match model.as_str() {
        "text" if streamed => stream(format!(
            "{}{}{}{}data: [DONE]\n\n",
            chunk(json!({"role": "assistant", "content": ""}), None),
            chunk(json!({"content": "Checkout held "}), None),
            chunk(json!({"content": "its SLO."}), None),
            chunk(json!({}), Some("stop")),
        )),
        "text" => completion(
            json!({"role": "assistant", "content": "Checkout held its SLO."}),
            "stop",
        ),
        // Structured output: whatever tool was forced, answered with a fitting input.
        "tool" => {
            let args = match tool.as_str() {
                "propose_experiment" => good_experiment(),
                "record_analysis" => analysis(),
                "record_review" => json!({"summary": "One pod restarts; nothing blocks.",
                    "findings": [{"severity": "warning", "subject": "pod shop/checkout-1", "message": "restarted 4 times"}]}),
                "state_hypothesis" => json!({"hypothesis": "With checkout down to 2 of 3 replicas, p99 stays under 1s.",
                    "rationale": "Deployment checkout has 3 ready replicas behind Service checkout."}),
                _ => json!({}),
            }
            .to_string();
            if streamed {
                stream(streamed_tool(&tool, &args, "Working on it. "))
            } else {
                completion(tool_call(&tool, &args), "tool_calls")
            }
        }
        "rate" if n == 1 => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            axum::Json(json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})),
        )
            .into_response(),
        "rate" => completion(
            json!({"role": "assistant", "content": "after the wait"}),
            "stop",
        ),
        "server-error" if n <= 2 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": {"message": "boom", "type": "server_error"}})),
        )
            .into_response(),
        "server-error" => completion(
            json!({"role": "assistant", "content": "third time lucky"}),
            "stop",
        ),
        "server-error-always" => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        "cut" => {
            let full = streamed_tool("propose_experiment", &good_experiment().to_string(), "");
            stream(full[..full.len() / 2].to_string())
        }
        "bad-args" => completion(
            tool_call("propose_experiment", "{\"explanation\": \"x\", "),
            "tool_calls",
        ),
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": {"message": format!("model {model} does not exist"), "type": "invalid_request_error"}})),
        )
            .into_response(),
    }
}

async fn start() -> (String, Arc<Fake>, tokio::task::JoinHandle<()>) {
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route("/v1/chat/completions", post(handler))
        .with_state(fake.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let h = tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (format!("http://{addr}/v1"), fake, h)
}

fn client(base: &str, model: &str) -> OpenAiClient {
    let mut c = OpenAiClient::new(base, ApiKey::new(KEY), "$OPENAI_API_KEY", model).unwrap();
    c.retry.max_attempts = 3;
    c.retry.initial = Duration::from_millis(20);
    c.retry.max_backoff = Duration::from_millis(100);
    c.retry.max_wait = Duration::from_secs(5);
    c.limits.timeout = Duration::from_secs(10);
    c.limits.idle = Duration::from_secs(5);
    c
}

fn req(tool: Option<&str>) -> ChatRequest {
    ChatRequest {
        system: "s".into(),
        user: "u".into(),
        tool: tool.map(|t| ToolSpec {
            name: t.into(),
            description: "d".into(),
            schema: json!({"type": "object"}),
        }),
        max_tokens: 256,
    }
}

async fn streamed(
    c: &OpenAiClient,
    r: &ChatRequest,
) -> (
    Result<chaosduck::ai::ChatResponse, AiError>,
    Vec<StreamEvent>,
) {
    let (tx, mut rx) = mpsc::channel(1024);
    let collect = tokio::spawn(async move {
        let mut v = Vec::new();
        while let Some(e) = rx.recv().await {
            v.push(e);
        }
        v
    });
    let out = tokio::time::timeout(Duration::from_secs(20), c.send(r, Some(&tx)))
        .await
        .expect("bounded");
    drop(tx);
    (out, collect.await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_text_plain_and_streamed() {
    let (base, fake, h) = start().await;
    let c = client(&base, "text");
    let r = c.send(&req(None), None).await.unwrap();
    assert_eq!(r.text, "Checkout held its SLO.");
    assert_eq!(r.stop_reason.as_deref(), Some("stop"));
    assert_eq!(c.engine(), "openai (text)");
    let (r, evs) = streamed(&c, &req(None)).await;
    let r = r.unwrap();
    assert_eq!(r.text, "Checkout held its SLO.");
    assert_eq!(evs.first(), Some(&StreamEvent::Started("fake-oai".into())));
    assert!(evs.contains(&StreamEvent::Text("Checkout held ".into())));
    assert!(evs.contains(&StreamEvent::Text("its SLO.".into())));
    assert_eq!(evs.last(), Some(&StreamEvent::Stopped(Some("stop".into()))));
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(calls[0]["messages"][0]["role"], "system");
    assert!(calls[0].get("stream").is_none());
    assert_eq!(calls[1]["stream"], true);
    h.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_forced_function_call_gives_structured_output_plain_and_streamed() {
    let (base, fake, h) = start().await;
    let c = client(&base, "tool");
    let r = c
        .send(&req(Some("propose_experiment")), None)
        .await
        .unwrap();
    assert_eq!(r.tool_input, Some(good_experiment()));
    let (r, evs) = streamed(&c, &req(Some("propose_experiment"))).await;
    let r = r.unwrap();
    assert_eq!(
        r.tool_input,
        Some(good_experiment()),
        "arguments reassembled from pieces"
    );
    assert_eq!(r.text, "Working on it. ");
    let pieces = evs
        .iter()
        .filter(|e| matches!(e, StreamEvent::ToolInput(_)))
        .count();
    assert_eq!(pieces, 2);
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(
        calls[0]["tool_choice"],
        json!({"type": "function", "function": {"name": "propose_experiment"}})
    );
    assert_eq!(
        calls[0]["tools"][0]["function"]["parameters"]["type"],
        "object"
    );

    // Through the assistant: the proposal is vetted like a hand-written file.
    let eng = Engine::Remote(Arc::new(c));
    let a = assistant::nl(&eng, "add latency to checkout", &Config::default(), None).await;
    assert_eq!(a.engine, "openai (tool)");
    match &a.result {
        NlResult::Proposal { vetted, .. } => {
            assert_eq!(vetted.doc.metadata.name, "checkout-latency")
        }
        other => panic!("{other:?}"),
    }
    h.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_errors_429_500_401_cut_stream_and_bad_arguments() {
    let (base, fake, h) = start().await;
    // 429 with retry-after: waited and retried.
    let t0 = std::time::Instant::now();
    let r = client(&base, "rate").send(&req(None), None).await.unwrap();
    assert_eq!(r.text, "after the wait");
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "honoured retry-after"
    );
    // 500 twice, then an answer: retried with backoff.
    let r = client(&base, "server-error")
        .send(&req(None), None)
        .await
        .unwrap();
    assert_eq!(r.text, "third time lucky");
    // 500 every time: a clear HTTP error after the attempts.
    match client(&base, "server-error-always")
        .send(&req(None), None)
        .await
    {
        Err(AiError::Http { status: 500, .. }) => {}
        other => panic!("{other:?}"),
    }
    // 401: no retry, a message naming where the key came from, never the key itself.
    let before = fake.calls.lock().unwrap().len();
    let e = client(&base, "auth")
        .send(&req(None), None)
        .await
        .unwrap_err();
    assert!(matches!(e, AiError::Auth { status: 401, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("$OPENAI_API_KEY"), "{msg}");
    assert!(!msg.contains(KEY), "{msg}");
    assert_eq!(
        fake.calls.lock().unwrap().len(),
        before + 1,
        "no retry on 401"
    );
    // A stream cut before [DONE] is discarded, not half-used.
    let (r, _) = streamed(&client(&base, "cut"), &req(Some("propose_experiment"))).await;
    assert!(matches!(r, Err(AiError::Stream { .. })), "{r:?}");
    // Broken tool arguments are an error; the assistant falls back to the offline engine.
    let c = client(&base, "bad-args");
    let e = c
        .send(&req(Some("propose_experiment")), None)
        .await
        .unwrap_err();
    assert!(matches!(e, AiError::Malformed { .. }), "{e:?}");
    let a = assistant::nl(
        &Engine::Remote(Arc::new(c)),
        "add 200ms latency to checkout pods in shop for 2 minutes",
        &Config::default(),
        None,
    )
    .await;
    assert_eq!(a.engine, "offline");
    assert!(a.note.unwrap().contains("could not answer"));
    h.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_and_hypothesis_through_a_model_keep_the_programs_critical_findings() {
    let (base, _fake, h) = start().await;
    let eng = Engine::Remote(Arc::new(client(&base, "tool")));
    let doc = chaosduck::domain::diagnostics::parse_experiment(
        "x.yaml",
        "apiVersion: chaosduck.io/v1\nkind: Experiment\nmetadata: {name: x}\nspec:\n  fault: {type: pod_delete}\n  target: {pods: {namespace: shop, selector: app=checkout}}\n  duration: 1m\n",
    )
    .unwrap();
    let ctx = TargetContext {
        namespace: Some("shop".into()),
        known: true,
        pods: vec![PodFacts {
            name: "checkout-1".into(),
            phase: "Running".into(),
            ready: false,
            restarts: 4,
            node: Some("a".into()),
            faults: vec![],
        }],
        ..Default::default()
    };
    let a = assistant::review(&eng, &doc, &ctx, &[], &Config::default(), None).await;
    assert_eq!(a.engine, "openai (tool)");
    let r = &a.result;
    assert_eq!(r.summary, "One pod restarts; nothing blocks.");
    assert!(
        r.findings
            .iter()
            .any(|f| f.severity == FindingSeverity::Critical
                && f.subject == "pod shop/checkout-1"
                && f.message.contains("not ready")),
        "the model cannot talk the not-ready pod away: {r:?}"
    );
    assert!(
        !r.proceed,
        "a critical finding holds the run, whatever the model says"
    );
    let h2 = assistant::hypothesis(&eng, &doc, &ctx, &Config::default(), None).await;
    assert_eq!(h2.engine, "openai (tool)");
    assert!(h2.result.hypothesis.contains("p99"), "{:?}", h2.result);
    h.abort();
}

/// The CLI on an OpenAI-compatible provider: the stream goes to stderr as it arrives, stdout
/// holds only the document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_streams_to_stderr_and_keeps_stdout_a_valid_document() {
    let (base, _fake, h) = start().await;
    let home = Home::new();
    let dir = home.path().join("config").join("chaosduck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "[ai]\nprovider = \"openai\"\nmodel = \"tool\"\n",
    )
    .unwrap();
    let mut c = home.cmd();
    c.env("OPENAI_BASE_URL", &base)
        .env("OPENAI_API_KEY", KEY)
        .args(["ai", "nl", "add 200ms latency to checkout pods in shop"]);
    let o = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Working on it."),
        "streamed text on stderr: {err}"
    );
    assert!(err.contains(".."), "tool pieces show progress: {err}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("Working on it."), "{out}");
    let doc: serde_json::Value = serde_norway::from_str(&out).expect("stdout is YAML");
    assert_eq!(doc["metadata"]["name"].as_str(), Some("checkout-latency"));
    assert!(out.starts_with("# engine: openai (tool)"), "{out}");
    assert!(!out.contains(KEY) && !err.contains(KEY));

    // `ai analyze` likewise: progress on stderr, the Markdown analysis alone on stdout.
    home.write_world(4);
    let f = home.experiment(
        "web-kill",
        "  fault: {type: pod_delete}\n  target: {pods: {namespace: shop, selector: app=web, count: 1}}\n  duration: 1s\n  probes:\n    - name: ok\n      mode: edge\n      cmd: {argv: [\"true\"]}\n",
    );
    let mut c = home.cmd();
    c.args(["run", f.to_str().unwrap(), "-o", "json"]);
    let o = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    let id = serde_json::from_slice::<Value>(&o.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut c = home.cmd();
    c.env("OPENAI_BASE_URL", &base)
        .env("OPENAI_API_KEY", KEY)
        .args(["ai", "analyze", &id]);
    let o = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("fake-oai answering") && err.contains("Working on it."),
        "{err}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("<!-- engine: openai (tool) -->"), "{out}");
    assert!(
        out.contains("Run two replicas") && !out.contains("Working on it."),
        "{out}"
    );
    h.abort();
}
