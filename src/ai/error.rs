//! AI errors. None of them ever carries the API key.

/// What went wrong talking to a model, each saying what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AiError {
    /// No key configured.
    #[error("no API key for {provider}: {hint}")]
    NoKey {
        /// Provider name.
        provider: &'static str,
        /// Where a key is looked for.
        hint: String,
    },
    /// The key was refused (401/403).
    #[error(
        "the {provider} API refused the request with {status} ({message}); check the key in {source_hint} and that it may use this model"
    )]
    Auth {
        /// Provider name.
        provider: &'static str,
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
        /// Where the key came from.
        source_hint: String,
    },
    /// An HTTP error that retries did not cure (429, 529, 5xx) or that is not retried (4xx).
    #[error("the {provider} API answered {status} {kind}: {message}{}", if *.attempts > 1 { format!(" (after {} attempts)", .attempts) } else { String::new() })]
    Http {
        /// Provider name.
        provider: &'static str,
        /// HTTP status.
        status: u16,
        /// Error type, e.g. `overloaded_error`, `rate_limit_error`.
        kind: String,
        /// The server's message.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The server asked to wait longer than allowed.
    #[error(
        "the {provider} API is rate limiting (retry-after {retry_after_s}s is longer than the {max_wait_s}s this command waits); try again later"
    )]
    RetryTooLong {
        /// Provider name.
        provider: &'static str,
        /// What the server asked for.
        retry_after_s: u64,
        /// The cap.
        max_wait_s: u64,
    },
    /// No answer in time.
    #[error("the {provider} API did not answer within {secs}s")]
    Timeout {
        /// Provider name.
        provider: &'static str,
        /// The limit.
        secs: u64,
    },
    /// Connection problems.
    #[error("cannot reach the {provider} API at {url}: {message}")]
    Network {
        /// Provider name.
        provider: &'static str,
        /// Base URL.
        url: String,
        /// The cause.
        message: String,
    },
    /// The stream ended early or carried an error event.
    #[error("the {provider} stream broke: {message}")]
    Stream {
        /// Provider name.
        provider: &'static str,
        /// What happened.
        message: String,
    },
    /// The answer is not what the API documents.
    #[error("the {provider} API sent a malformed answer: {message}")]
    Malformed {
        /// Provider name.
        provider: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The answer exceeded the size limit.
    #[error("the {provider} answer exceeded {limit} bytes; stopped reading")]
    TooLarge {
        /// Provider name.
        provider: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The request would exceed the size limit.
    #[error("the request is {size} bytes, above the {limit}-byte limit; nothing was sent")]
    RequestTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The model did not use the tool that carries the structured answer.
    #[error(
        "the model answered without the `{tool}` tool, so there is no structured answer to use"
    )]
    NoToolUse {
        /// The tool name.
        tool: String,
    },
    /// The structured answer does not fit its schema.
    #[error("the model's `{tool}` answer does not fit its schema: {message}")]
    Schema {
        /// The tool name.
        tool: String,
        /// The problem.
        message: String,
    },
}

impl AiError {
    /// Whether a fresh attempt may help.
    pub fn retryable(&self) -> bool {
        match self {
            AiError::Http { status, .. } => *status == 429 || *status == 529 || *status >= 500,
            AiError::Timeout { .. } | AiError::Network { .. } => true,
            _ => false,
        }
    }
}
