//! The Anthropic Messages API client: `POST /v1/messages` with `x-api-key` and
//! `anthropic-version`, streaming (server-sent events) or not, structured answers through a forced
//! tool whose `input_schema` is the schema the program reads.

use super::error::AiError;
use super::llm::{
    ChatRequest, ChatResponse, Endpoint, Limits, LlmClient, StreamEvent, read_bounded,
    send_with_retries,
};
use super::retry::RetryPolicy;
use super::secret::ApiKey;
use super::sse::SseParser;
use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The API version header this client speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The default base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The default model.
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-5";

const PROVIDER: &str = "anthropic";

/// A Messages API client.
#[derive(Clone, Debug)]
pub struct AnthropicClient {
    http: reqwest::Client,
    base: String,
    key: ApiKey,
    key_hint: String,
    model: String,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Size and time limits.
    pub limits: Limits,
}

impl AnthropicClient {
    /// A client for `base` (e.g. `https://api.anthropic.com`); `key_hint` says where the key
    /// came from, for the 401/403 message.
    pub fn new(base: &str, key: ApiKey, key_hint: &str, model: &str) -> Result<Self, AiError> {
        let limits = Limits::default();
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| AiError::Network {
                provider: PROVIDER,
                url: base.to_string(),
                message: super::llm::plain(&e),
            })?;
        Ok(AnthropicClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            key,
            key_hint: key_hint.to_string(),
            model: model.to_string(),
            retry: RetryPolicy::default(),
            limits,
        })
    }

    /// The model name.
    pub fn model(&self) -> &str {
        &self.model
    }

    fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        let mut b = json!({
            "model": self.model,
            "max_tokens": req.max_tokens,
            "system": req.system,
            "messages": [{"role": "user", "content": req.user}],
        });
        if stream {
            b["stream"] = json!(true);
        }
        if let Some(t) = &req.tool {
            b["tools"] = json!([{
                "name": t.name,
                "description": t.description,
                "input_schema": t.schema,
            }]);
            b["tool_choice"] = json!({"type": "tool", "name": t.name});
        }
        b
    }

    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            provider: PROVIDER,
            base: &self.base,
            key: &self.key,
            key_hint: &self.key_hint,
        }
    }

    async fn once(&self, req: &ChatRequest) -> Result<ChatResponse, AiError> {
        let body =
            serde_json::to_vec(&self.body(req, false)).map_err(|e| malformed(e.to_string()))?;
        self.check_size(body.len())?;
        let ep = self.endpoint();
        let mut resp =
            send_with_retries(&ep, &self.retry, &self.limits, || self.post(&body)).await?;
        let bytes = read_bounded(
            &mut resp,
            self.limits.max_response,
            self.limits.timeout,
            PROVIDER,
        )
        .await?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| malformed(format!("the body is not JSON ({e})")))?;
        parse_message(&v)
    }

    fn post(&self, body: &[u8]) -> reqwest::RequestBuilder {
        let mut b = self.http.post(format!("{}/v1/messages", self.base));
        // Marked sensitive so no debug output of the request shows it. A key with characters
        // a header cannot hold is left out: the server's 401 then says what is wrong.
        if let Ok(mut v) = reqwest::header::HeaderValue::from_str(self.key.expose()) {
            v.set_sensitive(true);
            b = b.header("x-api-key", v);
        }
        b.header("anthropic-version", ANTHROPIC_VERSION)
            .header("content-type", "application/json")
            .timeout(self.limits.timeout)
            .body(body.to_vec())
    }

    fn check_size(&self, n: usize) -> Result<(), AiError> {
        if n > self.limits.max_request {
            return Err(AiError::RequestTooLarge {
                size: n,
                limit: self.limits.max_request,
            });
        }
        Ok(())
    }

    async fn streamed(
        &self,
        req: &ChatRequest,
        events: &mpsc::Sender<StreamEvent>,
    ) -> Result<ChatResponse, AiError> {
        let body =
            serde_json::to_vec(&self.body(req, true)).map_err(|e| malformed(e.to_string()))?;
        self.check_size(body.len())?;
        let ep = self.endpoint();
        let mut failures = 0u32;
        loop {
            let mut resp =
                send_with_retries(&ep, &self.retry, &self.limits, || self.post(&body)).await?;
            let mut asm = Assembler::default();
            match read_stream(&mut resp, &self.limits, &mut asm, events).await {
                Ok(()) => return asm.finish(),
                // An error event before any text reached the screen may be retried (overloaded
                // at the start of a stream); after that, the user has seen part of an answer.
                Err(e)
                    if !asm.emitted && e.retryable() && failures + 1 < self.retry.max_attempts =>
                {
                    failures += 1;
                    tokio::time::sleep(self.retry.delay(failures, None)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn malformed(message: String) -> AiError {
    AiError::Malformed {
        provider: PROVIDER,
        message,
    }
}

/// Reads a non-streamed Messages response.
fn parse_message(v: &Value) -> Result<ChatResponse, AiError> {
    if v.get("type").and_then(Value::as_str) == Some("error") {
        return Err(AiError::Http {
            provider: PROVIDER,
            status: 200,
            kind: v
                .pointer("/error/type")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .into(),
            message: v
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            attempts: 1,
        });
    }
    let content = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no `content` array".into()))?;
    let mut out = ChatResponse {
        model: v.get("model").and_then(Value::as_str).unwrap_or("").into(),
        stop_reason: v
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Default::default()
    };
    for block in content {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => out
                .text
                .push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") if out.tool_input.is_none() => {
                out.tool_input = Some(block.get("input").cloned().unwrap_or(json!({})));
            }
            _ => {}
        }
    }
    Ok(out)
}

#[derive(Default)]
struct Assembler {
    model: String,
    text: String,
    tool_json: String,
    tool_seen: bool,
    stop_reason: Option<String>,
    started: bool,
    stopped: bool,
    emitted: bool,
}

impl Assembler {
    fn finish(self) -> Result<ChatResponse, AiError> {
        if !self.stopped {
            return Err(AiError::Stream {
                provider: PROVIDER,
                message: "the stream ended before message_stop; the answer is incomplete and was discarded".into(),
            });
        }
        let tool_input = if self.tool_seen {
            let s = if self.tool_json.trim().is_empty() {
                "{}"
            } else {
                self.tool_json.as_str()
            };
            Some(
                serde_json::from_str(s)
                    .map_err(|e| malformed(format!("the tool input is not JSON ({e})")))?,
            )
        } else {
            None
        };
        Ok(ChatResponse {
            text: self.text,
            tool_input,
            stop_reason: self.stop_reason,
            model: self.model,
        })
    }
}

async fn read_stream(
    resp: &mut reqwest::Response,
    limits: &Limits,
    asm: &mut Assembler,
    events: &mpsc::Sender<StreamEvent>,
) -> Result<(), AiError> {
    let mut parser = SseParser::new(limits.max_response);
    let mut total = 0usize;
    loop {
        let next = tokio::time::timeout(limits.idle, resp.chunk())
            .await
            .map_err(|_| AiError::Stream {
                provider: PROVIDER,
                message: format!("no data for {}s", limits.idle.as_secs()),
            })?;
        let chunk = match next {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(()),
            Err(e) => {
                return Err(AiError::Stream {
                    provider: PROVIDER,
                    message: format!("the connection broke: {}", super::llm::plain(&e)),
                });
            }
        };
        total += chunk.len();
        if total > limits.max_response {
            return Err(AiError::TooLarge {
                provider: PROVIDER,
                limit: limits.max_response,
            });
        }
        let evs = parser.feed(&chunk).map_err(|m| AiError::Stream {
            provider: PROVIDER,
            message: m,
        })?;
        for ev in evs {
            handle_event(&ev.event, &ev.data, asm, events).await?;
            if asm.stopped {
                return Ok(());
            }
        }
    }
}

async fn handle_event(
    name: &str,
    data: &str,
    asm: &mut Assembler,
    events: &mpsc::Sender<StreamEvent>,
) -> Result<(), AiError> {
    let v: Value = serde_json::from_str(data)
        .map_err(|e| malformed(format!("a `{name}` event is not JSON ({e})")))?;
    let kind = v.get("type").and_then(Value::as_str).unwrap_or(name);
    // A closed receiver means nobody watches any more; the answer is still assembled.
    let send = |e: StreamEvent| async move {
        let _ = events.send(e).await;
    };
    match kind {
        "message_start" => {
            asm.started = true;
            asm.model = v
                .pointer("/message/model")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into();
            send(StreamEvent::Started(asm.model.clone())).await;
        }
        "content_block_start" => {
            if v.pointer("/content_block/type").and_then(Value::as_str) == Some("tool_use") {
                asm.tool_seen = true;
            }
            if let Some(t) = v.pointer("/content_block/text").and_then(Value::as_str)
                && !t.is_empty()
            {
                asm.text.push_str(t);
                asm.emitted = true;
                send(StreamEvent::Text(t.into())).await;
            }
        }
        "content_block_delta" => match v.pointer("/delta/type").and_then(Value::as_str) {
            Some("text_delta") => {
                let t = v
                    .pointer("/delta/text")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                asm.text.push_str(t);
                asm.emitted = true;
                send(StreamEvent::Text(t.into())).await;
            }
            Some("input_json_delta") => {
                let t = v
                    .pointer("/delta/partial_json")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                asm.tool_json.push_str(t);
                send(StreamEvent::ToolInput(t.into())).await;
            }
            _ => {}
        },
        "content_block_stop" => {}
        "message_delta" => {
            if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                asm.stop_reason = Some(r.into());
            }
        }
        "message_stop" => {
            if !asm.started {
                return Err(malformed("message_stop without message_start".into()));
            }
            asm.stopped = true;
            send(StreamEvent::Stopped(asm.stop_reason.clone())).await;
        }
        "ping" => send(StreamEvent::Ping).await,
        "error" => {
            let et = v
                .pointer("/error/type")
                .and_then(Value::as_str)
                .unwrap_or("error");
            let msg = v
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("");
            return Err(AiError::Http {
                provider: PROVIDER,
                status: if et == "overloaded_error" { 529 } else { 500 },
                kind: et.into(),
                message: format!("in the stream: {msg}"),
                attempts: 1,
            });
        }
        _ => {}
    }
    Ok(())
}

#[async_trait]
impl LlmClient for AnthropicClient {
    fn engine(&self) -> String {
        format!("anthropic ({})", self.model)
    }

    async fn send(
        &self,
        req: &ChatRequest,
        events: Option<&mpsc::Sender<StreamEvent>>,
    ) -> Result<ChatResponse, AiError> {
        match events {
            Some(tx) => self.streamed(req, tx).await,
            None => self.once(req).await,
        }
    }
}
