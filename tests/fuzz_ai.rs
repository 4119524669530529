//! Fuzz target: everything that reads what a model (or a person talking to the offline engine)
//! says. The server-sent-events parser (`ai::sse`), the vetting of proposed experiments
//! (`ai::vet`), the offline natural-language parser (`ai::nl`) on English and Korean sentences,
//! the tool-use answers of the natural-language, analysis and suggestion tools (through a fake
//! `LlmClient`), and the Anthropic and OpenAI clients on the wire against a loopback server that
//! answers random statuses, JSON bodies and event streams.
//!
//! Property: no panic, an answer within a time limit, and what passes vetting validates again
//! as a hand-written file.
//!
//! The campaign (see `fuzz/README.md`):
//!
//! ```sh
//! PROPTEST_CASES=200000 cargo test --release --test fuzz_ai -- --nocapture
//! ```

mod fuzz_common;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use chaosduck::ai::AiError;
use chaosduck::ai::anthropic::AnthropicClient;
use chaosduck::ai::assistant::{self, Engine, NlResult};
use chaosduck::ai::evidence::Evidence;
use chaosduck::ai::llm::{ChatRequest, ChatResponse, LlmClient, StreamEvent};
use chaosduck::ai::nl::parse_request;
use chaosduck::ai::openai::OpenAiClient;
use chaosduck::ai::secret::ApiKey;
use chaosduck::ai::sse::SseParser;
use chaosduck::ai::vet::{vet_value, vet_yaml};
use chaosduck::config::Config;
use chaosduck::domain::parse_experiment;
use fuzz_common::json::{json_value, mutate};
use fuzz_common::{run, within};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const LIMIT: Duration = Duration::from_secs(10);

fn experiment_json() -> Value {
    json!({"apiVersion": "chaosduck.io/v1", "kind": "Experiment",
           "metadata": {"name": "checkout-latency"},
           "spec": {"fault": {"type": "network_latency", "latency": "200ms", "jitter": "20ms"},
                    "target": {"pods": {"namespace": "shop", "selector": "app=checkout", "count": 1}},
                    "duration": "2m", "hypothesis": "Checkout stays fast enough.",
                    "safety": {"timeout": "5m", "blastRadius": "50%"},
                    "probes": [{"name": "p", "http": {"url": "http://127.0.0.1:9/"}}]}})
}

fn nl_tool_input() -> impl Strategy<Value = Value> {
    prop_oneof![
        mutate(json!({"explanation": "Adds latency.", "experiment": experiment_json()})),
        mutate(json!({"clarification": "Which namespace?", "experiment": null})),
        json_value(),
    ]
}

fn analysis_tool_input() -> impl Strategy<Value = Value> {
    prop_oneof![
        mutate(
            json!({"severity": "SEV3", "likely_cause": "One replica.", "confidence": 0.7,
                      "findings": ["web failed during OBSERVE"],
                      "recommendations": [{"priority": "high", "action": "Run two", "detail": "SPOF."}]})
        ),
        json_value(),
    ]
}

fn suggest_tool_input() -> impl Strategy<Value = Value> {
    prop_oneof![
        mutate(
            json!({"suggestions": [{"why": "never tested", "experiment": experiment_json()},
                                      {"why": "again", "experiment": experiment_json()}]})
        ),
        json_value(),
    ]
}

static EVIDENCE: LazyLock<Evidence> = LazyLock::new(|| {
    serde_json::from_value(json!({
        "id": "01", "name": "checkout-latency", "fault": "network_latency",
        "target": "pods shop app=checkout", "namespace": "shop", "duration_s": 60.0,
        "status": "completed", "verdict": null, "verdict_reasons": [], "score": 80,
        "score_inputs": null, "hypothesis": "fast", "abort_reason": null, "error": null,
        "elapsed_s": 70.0, "probes": [], "steps": [], "reverted": 1, "open_steps": 0,
        "recovery_s": [], "timeline": [[0.0, "start"]]
    }))
    .expect("evidence fixture")
});

/// A model that answers with whatever the fuzzer made.
struct Scripted(Result<ChatResponse, String>);

#[async_trait]
impl LlmClient for Scripted {
    fn engine(&self) -> String {
        "scripted".into()
    }
    async fn send(
        &self,
        _req: &ChatRequest,
        events: Option<&mpsc::Sender<StreamEvent>>,
    ) -> Result<ChatResponse, AiError> {
        if let Some(tx) = events {
            let _ = tx.try_send(StreamEvent::Ping);
        }
        self.0.clone().map_err(|message| AiError::Stream {
            provider: "scripted",
            message,
        })
    }
}

fn answer(tool: impl Strategy<Value = Value>) -> impl Strategy<Value = ChatResponse> {
    (
        prop::option::of(tool),
        "[\\PC]{0,60}",
        prop::option::of("[a-z_]{0,12}"),
    )
        .prop_map(|(tool_input, text, stop_reason)| ChatResponse {
            text,
            tool_input,
            stop_reason,
            model: "fuzz".into(),
        })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// What vetting let through must validate again as a hand-written file.
fn revalidates(yaml: &str) -> Result<(), TestCaseError> {
    parse_experiment("vetted.yaml", yaml)
        .map(|_| ())
        .map_err(|d| TestCaseError::fail(format!("vetted YAML does not validate: {d:?}\n{yaml}")))
}

// ---- natural language ------------------------------------------------------------------------

const WORDS: &[&str] = &[
    "kill",
    "delete",
    "one",
    "two",
    "all",
    "every",
    "pod",
    "pods",
    "in",
    "namespace",
    "shop",
    "kube-system",
    "with",
    "app=web",
    "label",
    "tier in (a,b)",
    "for",
    "during",
    "2m",
    "30s",
    "500ms",
    "1.5h",
    "0s",
    "99999999999s",
    "add",
    "latency",
    "of",
    "200ms",
    "jitter",
    "10%",
    "150%",
    "-5%",
    "packet",
    "loss",
    "stress",
    "cpu",
    "80%",
    "memory",
    "512Mi",
    "9999Gi",
    "partition",
    "from",
    "to",
    "cordon",
    "node",
    "node-1",
    "stop",
    "instance",
    "i-0123456789abcdef0",
    "fail",
    "over",
    "cluster",
    "db-1",
    "aurora",
    "blackhole",
    "route",
    "rtb-0123",
    "take",
    "zone",
    "us-east-1a",
    "down",
    "vpc-1",
    "region",
    "eu-west-1",
    "half",
    "an",
    "hour",
    "a",
    "minute",
    "network",
    "the",
    "checkout",
    "payments",
    "deployment",
    "web",
    "random",
    "파드",
    "하나",
    "두 개",
    "모든",
    "전부",
    "죽여",
    "삭제",
    "네임스페이스",
    "지연",
    "추가",
    "패킷",
    "손실",
    "동안",
    "2분",
    "30초",
    "500밀리초",
    "1시간",
    "CPU",
    "메모리",
    "부하",
    "노드",
    "격리",
    "인스턴스",
    "중지",
    "장애",
    "조치",
    "싹 다",
    "다 죽",
    "shop에서",
    "간",
    "İ",
    "ß",
    "\u{301}",
    "🦆",
    ",",
    ".",
    "?",
    "!",
    "\n",
    "\t",
    "  ",
];

fn sentence() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..24).prop_map(|w| w.join(" "))
}

fn check_nl(text: String) -> Result<(), TestCaseError> {
    let r = within(LIMIT, move || {
        let parsed = parse_request(&text).map(|p| p.doc);
        let offline = assistant::nl_offline(&text, &Config::default());
        (parsed, offline)
    })?;
    if let NlResult::Proposal { vetted, .. } = &r.1 {
        revalidates(&vetted.yaml)?;
    }
    if let NlResult::Clarify { message } = &r.1 {
        prop_assert!(!message.trim().is_empty(), "empty clarification");
    }
    Ok(())
}

#[test]
fn fuzz_ai_nl_sentences() {
    run("fuzz_ai_nl_sentences", 1000, sentence(), check_nl);
}

#[test]
fn fuzz_ai_nl_arbitrary_text() {
    run(
        "fuzz_ai_nl_arbitrary_text",
        1000,
        prop_oneof![any::<String>(), "[\\PC]{0,200}"],
        check_nl,
    );
}

// ---- vetting ---------------------------------------------------------------------------------

#[test]
fn fuzz_ai_vet_proposals() {
    run(
        "fuzz_ai_vet_proposals",
        1000,
        prop_oneof![mutate(experiment_json()), json_value()],
        |v| {
            let r = within(LIMIT, move || vet_value(&v, &Config::default()))?;
            if let Ok(vetted) = r {
                prop_assert!(
                    vetted.doc.spec.safety.confirm_namespace.is_none(),
                    "a proposal kept its own namespace confirmation"
                );
                revalidates(&vetted.yaml)?;
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_ai_vet_yaml_text() {
    run("fuzz_ai_vet_yaml_text", 1000, any::<String>(), |s| {
        let r = within(LIMIT, move || vet_yaml(&s, &Config::default()))?;
        match r {
            Ok(v) => revalidates(&v.yaml),
            Err(refused) => {
                prop_assert!(!refused.refusals.is_empty(), "refused without a reason");
                Ok(())
            }
        }
    });
}

// ---- tool answers through the assistant ------------------------------------------------------

#[test]
fn fuzz_ai_tool_answers() {
    let rt = runtime();
    run(
        "fuzz_ai_tool_answers",
        500,
        (
            answer(nl_tool_input()),
            answer(analysis_tool_input()),
            answer(suggest_tool_input()),
            any::<bool>(),
        ),
        |(nl, analysis, suggest, fail)| {
            let cfg = Config::default();
            let outcome = rt.block_on(async {
                tokio::time::timeout(LIMIT, async {
                    let (tx, mut rx) = mpsc::channel(4);
                    let nl_client = Scripted(Ok(nl));
                    let nl_r =
                        assistant::nl_remote(&nl_client, "kill a pod", &cfg, Some(&tx)).await;
                    while rx.try_recv().is_ok() {}
                    let an = Scripted(if fail {
                        Err("cut".into())
                    } else {
                        Ok(analysis)
                    });
                    let an_r = assistant::analyze_remote(&an, &EVIDENCE, &cfg, None).await;
                    let engine = Engine::Remote(Arc::new(Scripted(Ok(suggest))));
                    let sg = assistant::suggestions(&engine, &[], Some("shop"), &cfg).await;
                    let rep = assistant::report(&engine, &EVIDENCE, &cfg, None).await;
                    (nl_r, an_r, sg, rep)
                })
                .await
            });
            let Ok((nl_r, an_r, sg, rep)) = outcome else {
                return Err(TestCaseError::fail(
                    "HANG: the assistant did not answer in time",
                ));
            };
            if let Ok(NlResult::Proposal { vetted, .. }) = &nl_r {
                revalidates(&vetted.yaml)?;
            }
            if let Ok(body) = &an_r {
                prop_assert!((0.0..=1.0).contains(&body.confidence));
                prop_assert!(!body.likely_cause.trim().is_empty());
            }
            for (_, v) in &sg.result.items {
                revalidates(&v.yaml)?;
            }
            prop_assert!(sg.result.items.len() <= 10, "more than 10 suggestions kept");
            prop_assert!(!rep.result.markdown.is_empty(), "empty report");
            Ok(())
        },
    );
}

// ---- server-sent events ----------------------------------------------------------------------

const SSE_PIECES: &[&str] = &[
    "event: ",
    "data: ",
    "data:",
    "id: 1",
    "retry: 10",
    ": comment",
    "event",
    "data",
    "\n",
    "\r\n",
    "\r",
    "\n\n",
    "message_start",
    "message_stop",
    "content_block_delta",
    "{",
    "}",
    "\"type\"",
    ":",
    " ",
    "[DONE]",
    "\u{0}",
    "\u{FFFD}",
    "한",
];

fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(SSE_PIECES), 0..60)
            .prop_map(|v| v.concat().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..600),
    ]
}

#[test]
fn fuzz_ai_sse_parser() {
    run(
        "fuzz_ai_sse_parser",
        2000,
        (
            sse_bytes(),
            prop::collection::vec(1usize..64, 0..20),
            1usize..256,
        ),
        |(bytes, cuts, max)| {
            let r = within(LIMIT, move || {
                let whole = SseParser::new(max).feed(&bytes);
                let mut p = SseParser::new(max);
                let mut pieces = Ok(Vec::new());
                let mut rest: &[u8] = &bytes;
                for c in cuts.iter().chain(std::iter::once(&usize::MAX)) {
                    let (a, b) = rest.split_at((*c).min(rest.len()));
                    rest = b;
                    match (p.feed(a), &mut pieces) {
                        (Ok(evs), Ok(all)) => all.extend(evs),
                        (Err(e), _) => {
                            pieces = Err(e);
                            break;
                        }
                        _ => {}
                    }
                }
                (whole, pieces, max)
            })?;
            let (whole, pieces, max) = r;
            for evs in [&whole, &pieces].into_iter().flatten() {
                for e in evs {
                    prop_assert!(e.data.len() <= max, "an event above the limit passed");
                }
            }
            if let (Ok(a), Ok(b)) = (&whole, &pieces) {
                prop_assert_eq!(a, b, "splitting the bytes changed the events");
            }
            Ok(())
        },
    );
}

// ---- the clients on the wire -----------------------------------------------------------------

/// One scripted HTTP answer: status, headers, body chunks.
#[derive(Clone, Debug)]
struct Wire {
    status: u16,
    headers: Vec<(&'static str, String)>,
    chunks: Vec<Vec<u8>>,
}

type Slot = Arc<Mutex<Option<Wire>>>;

async fn scripted(State(slot): State<Slot>) -> Response {
    let w = slot.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(w) = w else {
        return Response::new(Body::from("no script"));
    };
    let chunks = w
        .chunks
        .into_iter()
        .map(|c| Ok::<_, std::io::Error>(axum::body::Bytes::from(c)));
    let mut r = Response::new(Body::from_stream(futures::stream::iter(chunks)));
    *r.status_mut() = http::StatusCode::from_u16(w.status).unwrap_or(http::StatusCode::OK);
    for (k, v) in w.headers {
        if let Ok(v) = http::HeaderValue::from_str(&v) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

fn sse_event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn anthropic_stream() -> impl Strategy<Value = String> {
    let ev = prop_oneof![
        mutate(json!({"type": "message_start", "message": {"model": "m", "content": []}}))
            .prop_map(|v| sse_event("message_start", &v)),
        mutate(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "input": {}}}))
            .prop_map(|v| sse_event("content_block_start", &v)),
        mutate(json!({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "hi"}}))
            .prop_map(|v| sse_event("content_block_delta", &v)),
        mutate(json!({"type": "content_block_delta", "delta": {"type": "input_json_delta", "partial_json": "{\"experiment\": "}}))
            .prop_map(|v| sse_event("content_block_delta", &v)),
        mutate(json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}}))
            .prop_map(|v| sse_event("message_delta", &v)),
        Just(sse_event("message_stop", &json!({"type": "message_stop"}))),
        Just(sse_event("ping", &json!({"type": "ping"}))),
        mutate(json!({"type": "error", "error": {"type": "overloaded_error", "message": "x"}}))
            .prop_map(|v| sse_event("error", &v)),
        "[\\PC]{0,30}".prop_map(|s| format!("data: {s}\n\n")),
        prop::sample::select(SSE_PIECES).prop_map(str::to_string),
    ];
    prop::collection::vec(ev, 0..12).prop_map(|v| v.concat())
}

fn openai_stream() -> impl Strategy<Value = String> {
    let ev = prop_oneof![
        mutate(json!({"model": "m", "choices": [{"delta": {"content": "hi"}}]}))
            .prop_map(|v| format!("data: {v}\n\n")),
        mutate(json!({"choices": [{"delta": {"tool_calls": [{"function": {"arguments": "{\"a\":"}}]}, "finish_reason": "tool_calls"}]}))
            .prop_map(|v| format!("data: {v}\n\n")),
        Just("data: [DONE]\n\n".to_string()),
        "[\\PC]{0,30}".prop_map(|s| format!("data: {s}\n\n")),
        prop::sample::select(SSE_PIECES).prop_map(str::to_string),
    ];
    prop::collection::vec(ev, 0..12).prop_map(|v| v.concat())
}

fn wire(openai: bool) -> impl Strategy<Value = Wire> {
    let message = if openai {
        mutate(json!({"model": "m", "choices": [{"message": {"content": "hi",
            "tool_calls": [{"function": {"arguments": "{\"experiment\": null}"}}]}, "finish_reason": "stop"}]}))
        .boxed()
    } else {
        mutate(json!({"type": "message", "model": "m", "stop_reason": "tool_use",
            "content": [{"type": "text", "text": "hi"}, {"type": "tool_use", "input": {"experiment": null}}]}))
        .boxed()
    };
    let body = prop_oneof![
        message.prop_map(|v| v.to_string()),
        if openai {
            openai_stream().boxed()
        } else {
            anthropic_stream().boxed()
        },
        "[\\PC]{0,100}",
        Just("<html><body>502 Bad Gateway</body></html>".to_string()),
        Just(String::new()),
    ];
    let status = prop_oneof![
        4 => Just(200u16),
        1 => prop::sample::select(vec![201u16, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503, 529, 599]),
    ];
    let header = prop_oneof![
        Just(("content-type", "text/event-stream".to_string())),
        Just(("content-type", "application/json".to_string())),
        Just(("content-type", "text/html".to_string())),
        prop::sample::select(vec!["0", "0.01", "-1", "NaN", "inf", "1e308", "soon", ""])
            .prop_map(|s| ("retry-after", s.to_string())),
    ];
    (
        status,
        prop::collection::vec(header, 0..3),
        body,
        prop::collection::vec(1usize..50, 0..6),
    )
        .prop_map(|(status, headers, body, cuts)| {
            let mut chunks = Vec::new();
            let mut rest = body.into_bytes();
            for c in cuts {
                if c >= rest.len() {
                    break;
                }
                let tail = rest.split_off(c);
                chunks.push(std::mem::replace(&mut rest, tail));
            }
            chunks.push(rest);
            Wire {
                status,
                headers,
                chunks,
            }
        })
}

fn fuzz_wire(target: &'static str, openai: bool) {
    let rt = runtime();
    let slot: Slot = Arc::default();
    let (base, server) = rt.block_on(async {
        let app = Router::new()
            .route("/v1/messages", post(scripted))
            .route("/v1/chat/completions", post(scripted))
            .with_state(slot.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        let h = tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        (format!("http://{addr}"), h)
    });
    let tune = |limits: &mut chaosduck::ai::llm::Limits,
                retry: &mut chaosduck::ai::retry::RetryPolicy| {
        limits.timeout = Duration::from_secs(5);
        limits.idle = Duration::from_secs(2);
        limits.max_response = 64 * 1024;
        retry.max_attempts = 2;
        retry.initial = Duration::from_millis(1);
        retry.max_backoff = Duration::from_millis(5);
        retry.max_wait = Duration::from_millis(50);
    };
    let client: Arc<dyn LlmClient> = if openai {
        let mut c = OpenAiClient::new(&format!("{base}/v1"), ApiKey::new("k"), "fuzz", "m")
            .expect("client");
        tune(&mut c.limits, &mut c.retry);
        Arc::new(c)
    } else {
        let mut c = AnthropicClient::new(&base, ApiKey::new("k"), "fuzz", "m").expect("client");
        tune(&mut c.limits, &mut c.retry);
        Arc::new(c)
    };
    let answered = std::sync::atomic::AtomicU32::new(0);
    run(target, 300, (wire(openai), any::<bool>()), |(w, stream)| {
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(w);
        let client = client.clone();
        let req = ChatRequest {
            system: "s".into(),
            user: "u".into(),
            tool: None,
            max_tokens: 256,
        };
        let r = rt.block_on(async move {
            let (tx, mut rx) = mpsc::channel(1024);
            let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
            let r = tokio::time::timeout(
                Duration::from_secs(20),
                client.send(&req, stream.then_some(&tx)),
            )
            .await;
            drop(tx);
            let _ = drain.await;
            r
        });
        match r {
            Err(_) => Err(TestCaseError::fail("HANG: the client did not finish")),
            Ok(Ok(resp)) => {
                answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                prop_assert!(resp.text.len() <= 64 * 1024);
                Ok(())
            }
            Ok(Err(e)) => {
                prop_assert!(!e.to_string().trim().is_empty(), "an error without words");
                Ok(())
            }
        }
    });
    server.abort();
    drop(rt);
    // The generators must reach the success path too, or the target fuzzes only the errors.
    let answered = answered.into_inner();
    eprintln!("fuzz {target}: {answered} well-formed answers read");
    if fuzz_common::cases(300) >= 100 {
        assert!(answered > 0, "no generated answer was ever accepted");
    }
}

#[test]
fn fuzz_ai_anthropic_wire() {
    fuzz_wire("fuzz_ai_anthropic_wire", false);
}

#[test]
fn fuzz_ai_openai_wire() {
    fuzz_wire("fuzz_ai_openai_wire", true);
}
