//! AI assistance: the Anthropic Messages client (streaming, structured answers through tool
//! use), an OpenAI-compatible client, prompts that carry data as JSON with untrusted text
//! delimited and secrets redacted, and the deterministic offline engine (natural-language
//! parser, heuristic analysis, report, hypothesis templates, suggestions).
//!
//! Whatever an engine proposes is data: it goes through the same validator and guardrails as a
//! hand-written file ([`vet`]) and runs only through `dry-run` and `run`. The resilience score
//! comes from the documented formula; engines explain it and never set it.

pub mod analysis;
pub mod anthropic;
pub mod assistant;
pub mod error;
pub mod evidence;
pub mod hypothesis;
pub mod llm;
pub mod nl;
pub mod openai;
pub mod prompt;
pub mod redact;
pub mod report;
pub mod retry;
pub mod review;
pub mod secret;
pub mod sse;
pub mod suggest;
pub mod vet;

pub use assistant::{
    Answer, Engine, NlResult, analyze, nl as natural_language, report as report_markdown, select,
    suggestions,
};
pub use error::AiError;
pub use llm::{ChatRequest, ChatResponse, LlmClient, StreamEvent, ToolSpec};
