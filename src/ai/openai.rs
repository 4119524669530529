//! An OpenAI-compatible chat-completions client (`POST {base}/chat/completions`, bearer key), for
//! self-hosted models on air-gapped bastions. Structured answers through a forced function tool.

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

const PROVIDER: &str = "openai";

/// The default base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// A chat-completions client.
#[derive(Clone, Debug)]
pub struct OpenAiClient {
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

fn malformed(message: String) -> AiError {
    AiError::Malformed {
        provider: PROVIDER,
        message,
    }
}

impl OpenAiClient {
    /// A client for `base` (including `/v1`).
    pub fn new(base: &str, key: ApiKey, key_hint: &str, model: &str) -> Result<Self, AiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| AiError::Network {
                provider: PROVIDER,
                url: base.to_string(),
                message: super::llm::plain(&e),
            })?;
        Ok(OpenAiClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            key,
            key_hint: key_hint.to_string(),
            model: model.to_string(),
            retry: RetryPolicy::default(),
            limits: Limits::default(),
        })
    }

    fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        let mut b = json!({
            "model": self.model,
            "max_tokens": req.max_tokens,
            "messages": [
                {"role": "system", "content": req.system},
                {"role": "user", "content": req.user},
            ],
        });
        if stream {
            b["stream"] = json!(true);
        }
        if let Some(t) = &req.tool {
            b["tools"] = json!([{"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.schema,
            }}]);
            b["tool_choice"] = json!({"type": "function", "function": {"name": t.name}});
        }
        b
    }

    fn post(&self, body: &[u8]) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/chat/completions", self.base))
            .bearer_auth(self.key.expose())
            .header("content-type", "application/json")
            .timeout(self.limits.timeout)
            .body(body.to_vec())
    }
}

fn parse_args(s: &str) -> Result<Value, AiError> {
    let s = if s.trim().is_empty() { "{}" } else { s };
    serde_json::from_str(s).map_err(|e| malformed(format!("the tool arguments are not JSON ({e})")))
}

#[async_trait]
impl LlmClient for OpenAiClient {
    fn engine(&self) -> String {
        format!("openai ({})", self.model)
    }

    async fn send(
        &self,
        req: &ChatRequest,
        events: Option<&mpsc::Sender<StreamEvent>>,
    ) -> Result<ChatResponse, AiError> {
        let body = serde_json::to_vec(&self.body(req, events.is_some()))
            .map_err(|e| malformed(e.to_string()))?;
        if body.len() > self.limits.max_request {
            return Err(AiError::RequestTooLarge {
                size: body.len(),
                limit: self.limits.max_request,
            });
        }
        let ep = Endpoint {
            provider: PROVIDER,
            base: &self.base,
            key: &self.key,
            key_hint: &self.key_hint,
        };
        let mut resp =
            send_with_retries(&ep, &self.retry, &self.limits, || self.post(&body)).await?;
        let Some(tx) = events else {
            let bytes = read_bounded(
                &mut resp,
                self.limits.max_response,
                self.limits.timeout,
                PROVIDER,
            )
            .await?;
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| malformed(format!("the body is not JSON ({e})")))?;
            let msg = v
                .pointer("/choices/0/message")
                .ok_or_else(|| malformed("no choices[0].message".into()))?;
            let tool_input = match msg
                .pointer("/tool_calls/0/function/arguments")
                .and_then(Value::as_str)
            {
                Some(a) => Some(parse_args(a)?),
                None => None,
            };
            return Ok(ChatResponse {
                text: msg
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
                tool_input,
                stop_reason: v
                    .pointer("/choices/0/finish_reason")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                model: v.get("model").and_then(Value::as_str).unwrap_or("").into(),
            });
        };
        let mut parser = SseParser::new(self.limits.max_response);
        let mut out = ChatResponse::default();
        let (mut args, mut tool, mut done, mut total) = (String::new(), false, false, 0usize);
        while !done {
            let next = tokio::time::timeout(self.limits.idle, resp.chunk())
                .await
                .map_err(|_| AiError::Stream {
                    provider: PROVIDER,
                    message: format!("no data for {}s", self.limits.idle.as_secs()),
                })?;
            let chunk = match next {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    return Err(AiError::Stream {
                        provider: PROVIDER,
                        message: format!("the connection broke: {}", super::llm::plain(&e)),
                    });
                }
            };
            total += chunk.len();
            if total > self.limits.max_response {
                return Err(AiError::TooLarge {
                    provider: PROVIDER,
                    limit: self.limits.max_response,
                });
            }
            for ev in parser.feed(&chunk).map_err(|m| AiError::Stream {
                provider: PROVIDER,
                message: m,
            })? {
                if ev.data.trim() == "[DONE]" {
                    done = true;
                    break;
                }
                let v: Value = serde_json::from_str(&ev.data)
                    .map_err(|e| malformed(format!("a stream chunk is not JSON ({e})")))?;
                if out.model.is_empty()
                    && let Some(m) = v.get("model").and_then(Value::as_str)
                {
                    out.model = m.into();
                    let _ = tx.send(StreamEvent::Started(m.into())).await;
                }
                if let Some(t) = v
                    .pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
                {
                    out.text.push_str(t);
                    let _ = tx.send(StreamEvent::Text(t.into())).await;
                }
                if let Some(a) = v
                    .pointer("/choices/0/delta/tool_calls/0/function/arguments")
                    .and_then(Value::as_str)
                {
                    tool = true;
                    args.push_str(a);
                    let _ = tx.send(StreamEvent::ToolInput(a.into())).await;
                }
                if let Some(r) = v
                    .pointer("/choices/0/finish_reason")
                    .and_then(Value::as_str)
                {
                    out.stop_reason = Some(r.into());
                }
            }
        }
        if !done {
            return Err(AiError::Stream {
                provider: PROVIDER,
                message:
                    "the stream ended before [DONE]; the answer is incomplete and was discarded"
                        .into(),
            });
        }
        let _ = tx.send(StreamEvent::Stopped(out.stop_reason.clone())).await;
        if tool {
            out.tool_input = Some(parse_args(&args)?);
        }
        Ok(out)
    }
}
