//! What every model client speaks: a request (system text, user text, an optional tool whose
//! JSON schema carries the structured answer), the answer, and the stream events the dashboard
//! shows as they arrive. Also the shared HTTP plumbing: retries, bounded reads, idle timeouts.

use super::error::AiError;
use super::retry::{RetryPolicy, retry_after};
use super::secret::ApiKey;
use async_trait::async_trait;
use serde::Serialize;
use std::time::Duration;
use tokio::sync::mpsc;

/// A tool whose input is the structured answer.
#[derive(Clone, Debug, Serialize)]
pub struct ToolSpec {
    /// Tool name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// JSON Schema of its input.
    pub schema: serde_json::Value,
}

/// One request.
#[derive(Clone, Debug)]
pub struct ChatRequest {
    /// Instructions.
    pub system: String,
    /// The user turn (data as JSON, untrusted text delimited).
    pub user: String,
    /// The tool to answer with, forced when present.
    pub tool: Option<ToolSpec>,
    /// Largest answer, in tokens.
    pub max_tokens: u32,
}

/// One answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatResponse {
    /// The text blocks, joined.
    pub text: String,
    /// The tool input, when the model used the tool.
    pub tool_input: Option<serde_json::Value>,
    /// Why it stopped (`end_turn`, `tool_use`, `max_tokens`, ...).
    pub stop_reason: Option<String>,
    /// The model that answered.
    pub model: String,
}

/// What a streaming answer delivers while it arrives (the dashboard's `Msg` payload).
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    /// The answer began (model name).
    Started(String),
    /// A piece of text.
    Text(String),
    /// A piece of the tool input JSON.
    ToolInput(String),
    /// Keep-alive.
    Ping,
    /// The answer ended (stop reason).
    Stopped(Option<String>),
}

/// A model client.
#[async_trait]
pub trait LlmClient: Send + Sync {
    /// `anthropic (model)`, `openai (model)`: the label every text carries.
    fn engine(&self) -> String;
    /// Sends a request. With `events`, the answer is streamed and each piece is sent there as it
    /// arrives; without, one answer is read. Retries on 429/529/5xx before anything was
    /// streamed.
    async fn send(
        &self,
        req: &ChatRequest,
        events: Option<&mpsc::Sender<StreamEvent>>,
    ) -> Result<ChatResponse, AiError>;
}

/// Limits shared by the clients.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Whole request, bytes.
    pub max_request: usize,
    /// Whole answer, bytes.
    pub max_response: usize,
    /// Whole request/answer time.
    pub timeout: Duration,
    /// Longest silence inside a stream.
    pub idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request: 512 * 1024,
            max_response: 2 * 1024 * 1024,
            timeout: Duration::from_secs(120),
            idle: Duration::from_secs(45),
        }
    }
}

/// What the HTTP layer needs to know about a provider.
pub(crate) struct Endpoint<'a> {
    pub provider: &'static str,
    pub base: &'a str,
    pub key: &'a ApiKey,
    pub key_hint: &'a str,
}

/// Reads a whole body, refusing more than `limit` bytes.
pub(crate) async fn read_bounded(
    resp: &mut reqwest::Response,
    limit: usize,
    idle: Duration,
    provider: &'static str,
) -> Result<Vec<u8>, AiError> {
    let mut out = Vec::new();
    loop {
        let next = tokio::time::timeout(idle, resp.chunk())
            .await
            .map_err(|_| AiError::Timeout {
                provider,
                secs: idle.as_secs(),
            })?;
        match next {
            Ok(Some(c)) => {
                if out.len() + c.len() > limit {
                    return Err(AiError::TooLarge { provider, limit });
                }
                out.extend_from_slice(&c);
            }
            Ok(None) => return Ok(out),
            Err(e) => {
                return Err(AiError::Stream {
                    provider,
                    message: format!("the connection broke while reading: {}", plain(&e)),
                });
            }
        }
    }
}

/// A reqwest error without its URL query (there is none with a key, but keep messages short).
pub(crate) fn plain(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

/// Turns an error status and body into an error: the API's `{error: {type, message}}` when it
/// is there, the status otherwise.
pub(crate) fn status_error(ep: &Endpoint<'_>, status: u16, body: &[u8], attempts: u32) -> AiError {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let kind = v
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/type")
                .or_else(|| v.pointer("/error/code"))
        })
        .and_then(|t| t.as_str())
        .unwrap_or(match status {
            429 => "rate_limit_error",
            529 => "overloaded_error",
            s if s >= 500 => "api_error",
            _ => "invalid_request_error",
        })
        .to_string();
    let message = v
        .as_ref()
        .and_then(|v| v.pointer("/error/message"))
        .and_then(|t| t.as_str())
        .map(|m| super::redact::redact_with(&super::nl::truncate_chars(m, 300), &[ep.key.expose()]))
        .unwrap_or_else(|| {
            super::redact::redact_with(
                &super::nl::truncate_chars(&String::from_utf8_lossy(body), 200),
                &[ep.key.expose()],
            )
        });
    if status == 401 || status == 403 {
        return AiError::Auth {
            provider: ep.provider,
            status,
            message,
            source_hint: ep.key_hint.to_string(),
        };
    }
    AiError::Http {
        provider: ep.provider,
        status,
        kind,
        message,
        attempts,
    }
}

/// Sends with retries on 429/529/5xx and connection errors, honouring `retry-after`. Returns
/// the first successful response (status 2xx), its body not yet read.
pub(crate) async fn send_with_retries(
    ep: &Endpoint<'_>,
    policy: &RetryPolicy,
    limits: &Limits,
    mut make: impl FnMut() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, AiError> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let res = tokio::time::timeout(limits.timeout, make().send()).await;
        let (err, wait_hint) = match res {
            Err(_) => (
                AiError::Timeout {
                    provider: ep.provider,
                    secs: limits.timeout.as_secs(),
                },
                None,
            ),
            Ok(Err(e)) => (
                if e.is_timeout() {
                    AiError::Timeout {
                        provider: ep.provider,
                        secs: limits.timeout.as_secs(),
                    }
                } else {
                    AiError::Network {
                        provider: ep.provider,
                        url: ep.base.to_string(),
                        message: plain(&e),
                    }
                },
                None,
            ),
            Ok(Ok(mut resp)) => {
                let status = resp.status().as_u16();
                if (200..300).contains(&status) {
                    return Ok(resp);
                }
                let ra = retry_after(resp.headers());
                let body = read_bounded(&mut resp, 64 * 1024, limits.idle, ep.provider)
                    .await
                    .unwrap_or_default();
                (status_error(ep, status, &body, attempt), ra)
            }
        };
        if !err.retryable() || attempt >= policy.max_attempts {
            return Err(err);
        }
        if let Some(ra) = wait_hint
            && ra > policy.max_wait
        {
            return Err(AiError::RetryTooLong {
                provider: ep.provider,
                retry_after_s: ra.as_secs(),
                max_wait_s: policy.max_wait.as_secs(),
            });
        }
        let wait = policy.delay(attempt, wait_hint);
        tracing::info!(provider = ep.provider, attempt, ?wait, error = %err, "retrying AI request");
        tokio::time::sleep(wait).await;
    }
}
