//! The Anthropic client against a third-party emulator of the Messages API: PyPI's
//! `localstack-claude` (`python -m claude_local.server`), started by this test binary on a free
//! loopback port (CLAUDE_HOST=127.0.0.1: its default binds every interface) and stopped at the
//! end. Skips, saying so, only when the emulator is not installed in `.venv`.

use chaosduck::ai::anthropic::AnthropicClient;
use chaosduck::ai::assistant::{self, NlResult};
use chaosduck::ai::llm::{ChatRequest, LlmClient, StreamEvent, ToolSpec};
use chaosduck::ai::secret::ApiKey;
use chaosduck::config::Config;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

struct Emulator {
    child: Child,
    base: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let ok = p.exists()
        && Command::new(&p)
            .args(["-c", "import claude_local.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    ok.then_some(p)
}

fn start() -> Option<Emulator> {
    let Some(py) = python() else {
        eprintln!(
            "SKIPPED: localstack-claude is not installed in .venv (scripts/test.sh installs it: python3 -m venv .venv && .venv/bin/pip install localstack-claude)"
        );
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let child = Command::new(py)
        .args(["-m", "claude_local.server"])
        .env("CLAUDE_HOST", "127.0.0.1")
        .env("CLAUDE_PORT", port.to_string())
        .env(
            "CLAUDE_LOCAL_RESPONSE",
            "The checkout service held its steady state.",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start localstack-claude");
    let emu = Emulator {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(emu);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("localstack-claude did not listen on 127.0.0.1:{port} within 20s");
}

fn client(base: &str) -> AnthropicClient {
    let mut c = AnthropicClient::new(
        base,
        ApiKey::new("sk-ant-local-test-key-000000"),
        "$ANTHROPIC_API_KEY",
        "claude-sonnet-4-5",
    )
    .unwrap();
    c.retry.max_attempts = 2;
    c.limits.timeout = Duration::from_secs(20);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_and_tool_use_work_against_localstack_claude() {
    let Some(emu) = start() else { return };
    let c = client(&emu.base);
    let req = ChatRequest {
        system: "Answer briefly.".into(),
        user: "How did checkout do?".into(),
        tool: None,
        max_tokens: 256,
    };

    // Plain and streamed text.
    let plain = tokio::time::timeout(Duration::from_secs(30), c.send(&req, None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain.text, "The checkout service held its steady state.");
    let (tx, mut rx) = mpsc::channel(256);
    let streamed = tokio::time::timeout(Duration::from_secs(30), c.send(&req, Some(&tx)))
        .await
        .unwrap()
        .unwrap();
    drop(tx);
    let mut pieces = Vec::new();
    while let Some(e) = rx.recv().await {
        pieces.push(e);
    }
    assert_eq!(streamed.text, plain.text);
    let texts = pieces
        .iter()
        .filter(|e| matches!(e, StreamEvent::Text(_)))
        .count();
    assert!(
        texts >= 2,
        "the text arrived in {texts} piece(s): {pieces:?}"
    );
    assert!(matches!(pieces.last(), Some(StreamEvent::Stopped(_))));

    // Structured output through a forced tool, streamed (input_json_delta) and not.
    let tool_req = ChatRequest {
        tool: Some(ToolSpec {
            name: "record".into(),
            description: "Record a verdict.".into(),
            schema: json!({"type": "object", "properties": {"verdict": {"type": "string"}}, "required": ["verdict"]}),
        }),
        ..req.clone()
    };
    let r = c.send(&tool_req, None).await.unwrap();
    assert_eq!(r.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(r.tool_input, Some(json!({"verdict": "<verdict>"})));
    let (tx, mut rx) = mpsc::channel(256);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let r = c.send(&tool_req, Some(&tx)).await.unwrap();
    drop(tx);
    let _ = drain.await;
    assert_eq!(r.tool_input, Some(json!({"verdict": "<verdict>"})));

    // The emulator fills the experiment tool with placeholders: the proposal is refused by the
    // validator (or answered as a clarification), never passed on as runnable.
    // (Its required field is only `explanation`, so the answer has no experiment at all.)
    let nl = assistant::nl_remote(&c, "kill one web pod in shop", &Config::default(), None).await;
    assert!(
        !matches!(nl, Ok(NlResult::Proposal { .. })),
        "a placeholder answer became a proposal: {nl:?}"
    );
    if let Err(e) = &nl {
        assert!(e.to_string().contains("propose_experiment"), "{e}");
    }
    drop(emu);
}
