//! The functions the CLI and the dashboard call: natural language → experiment, analysis,
//! report and suggestions. Each picks the configured engine, falls back to the offline engine
//! when a model cannot answer, vets every proposed experiment, and says which engine answered.

use super::analysis::{self, AnalysisBody};
use super::anthropic::{self, AnthropicClient};
use super::error::AiError;
use super::evidence::Evidence;
use super::llm::{ChatRequest, LlmClient, StreamEvent};
use super::openai::{self, OpenAiClient};
use super::secret::ApiKey;
use super::suggest::{self, Suggestion};
use super::vet::{self, Refused, Vetted};
use super::{nl, prompt, report};
use crate::config::{AiConfig, Config};
use crate::domain::experiment::AiProvider;
use crate::store::records::ExperimentRecord;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Which engine answers.
#[derive(Clone)]
pub enum Engine {
    /// The deterministic offline engine; `why` says why it was chosen.
    Offline {
        /// e.g. "--offline", "no ANTHROPIC_API_KEY".
        why: String,
    },
    /// A model behind an API.
    Remote(Arc<dyn LlmClient>),
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

impl Engine {
    /// The label every text carries.
    pub fn label(&self) -> String {
        match self {
            Engine::Offline { .. } => "offline".into(),
            Engine::Remote(c) => c.engine(),
        }
    }

    /// Why this engine (for offline), for the operator.
    pub fn note(&self) -> Option<String> {
        match self {
            Engine::Offline { why } => Some(why.clone()),
            Engine::Remote(_) => None,
        }
    }
}

/// Picks the engine from the config and the process environment.
pub fn select(cfg: &AiConfig, force_offline: bool) -> Result<Engine, String> {
    select_with(cfg, force_offline, &|k| std::env::var(k).ok())
}

/// Picks the engine; `env` reads environment variables (tests pass their own).
pub fn select_with(
    cfg: &AiConfig,
    force_offline: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Engine, String> {
    if force_offline {
        return Ok(Engine::Offline {
            why: "--offline".into(),
        });
    }
    let env_nonempty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let key_from = |var: &str| -> Result<Option<(ApiKey, String)>, String> {
        if let Some(k) = env_nonempty(var) {
            return Ok(Some((ApiKey::new(&k), format!("${var}"))));
        }
        match &cfg.key_file {
            Some(p) => {
                ApiKey::from_file(p).map(|k| Some((k, format!("ai.key_file ({})", p.display()))))
            }
            None => Ok(None),
        }
    };
    let timeout = cfg.timeout.map(|t| t.get());
    let tune = |limits: &mut super::llm::Limits, retry: &mut super::retry::RetryPolicy| {
        if let Some(t) = timeout {
            limits.timeout = t;
        }
        if let Some(n) = cfg.max_attempts {
            retry.max_attempts = n.max(1);
        }
    };
    match cfg.provider {
        Some(AiProvider::Offline) => Ok(Engine::Offline {
            why: "ai.provider = \"offline\"".into(),
        }),
        Some(AiProvider::Openai) => {
            let base = env_nonempty("OPENAI_BASE_URL")
                .or_else(|| cfg.base_url.clone())
                .unwrap_or_else(|| openai::DEFAULT_BASE_URL.into());
            let model = cfg
                .model
                .clone()
                .or_else(|| env_nonempty("OPENAI_MODEL"))
                .unwrap_or_else(|| "gpt-4o-mini".into());
            // Self-hosted servers often need no key.
            let (key, hint) = key_from("OPENAI_API_KEY")?
                .unwrap_or_else(|| (ApiKey::new("none"), "$OPENAI_API_KEY (unset)".into()));
            let mut c = OpenAiClient::new(&base, key, &hint, &model).map_err(|e| e.to_string())?;
            tune(&mut c.limits, &mut c.retry);
            Ok(Engine::Remote(Arc::new(c)))
        }
        Some(AiProvider::Anthropic) | None => match key_from("ANTHROPIC_API_KEY")? {
            None => Ok(Engine::Offline {
                why: "no ANTHROPIC_API_KEY and no ai.key_file; the offline engine answers".into(),
            }),
            Some((key, hint)) => {
                let base = env_nonempty("ANTHROPIC_BASE_URL")
                    .or_else(|| cfg.base_url.clone())
                    .unwrap_or_else(|| anthropic::DEFAULT_BASE_URL.into());
                let model = cfg
                    .model
                    .clone()
                    .or_else(|| env_nonempty("ANTHROPIC_MODEL"))
                    .unwrap_or_else(|| anthropic::DEFAULT_MODEL.into());
                let mut c =
                    AnthropicClient::new(&base, key, &hint, &model).map_err(|e| e.to_string())?;
                tune(&mut c.limits, &mut c.retry);
                Ok(Engine::Remote(Arc::new(c)))
            }
        },
    }
}

fn max_tokens(cfg: &Config) -> u32 {
    cfg.ai.max_tokens.unwrap_or(4096).clamp(256, 32_000)
}

/// The outcome of a natural-language request.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum NlResult {
    /// A vetted experiment.
    Proposal {
        /// The experiment and its YAML.
        vetted: Box<Vetted>,
        /// What it does and what was assumed.
        explanation: String,
    },
    /// More information is needed.
    Clarify {
        /// The question, with what was understood.
        message: String,
    },
    /// The proposal broke a rule.
    Refused {
        /// Every rule it broke.
        refused: Refused,
        /// The engine's explanation of what it tried.
        explanation: String,
    },
}

/// An answer, with the engine that produced it.
#[derive(Clone, Debug, Serialize)]
pub struct Answer<T> {
    /// The engine label (`offline`, `anthropic (model)`, ...).
    pub engine: String,
    /// Why the engine is not the configured one, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The result.
    pub result: T,
}

/// The offline engine's answer to a request.
pub fn nl_offline(text: &str, cfg: &Config) -> NlResult {
    match nl::parse_request(text) {
        Err(u) => NlResult::Clarify { message: u.message },
        Ok(p) => {
            let mut explanation = format!("Understood: {}.", p.understood.join("; "));
            if !p.assumptions.is_empty() {
                explanation.push_str(&format!(" Assumed: {}.", p.assumptions.join("; ")));
            }
            match vet::vet_doc(&p.doc, cfg) {
                Ok(v) => NlResult::Proposal {
                    vetted: Box::new(v),
                    explanation,
                },
                Err(refused) => NlResult::Refused {
                    refused,
                    explanation,
                },
            }
        }
    }
}

/// Natural language → experiment, by the given engine; an unreachable or failing model falls
/// back to the offline engine (said in `note`). With `events`, a model's answer is streamed.
pub async fn nl(
    engine: &Engine,
    text: &str,
    cfg: &Config,
    events: Option<&mpsc::Sender<StreamEvent>>,
) -> Answer<NlResult> {
    let client = match engine {
        Engine::Offline { why } => {
            return Answer {
                engine: engine.label(),
                note: Some(why.clone()),
                result: nl_offline(text, cfg),
            };
        }
        Engine::Remote(c) => c,
    };
    match nl_remote(client.as_ref(), text, cfg, events).await {
        Ok(r) => Answer {
            engine: engine.label(),
            note: None,
            result: r,
        },
        Err(e) => Answer {
            engine: "offline".into(),
            note: Some(format!(
                "{} could not answer ({e}); the offline engine answered",
                engine.label()
            )),
            result: nl_offline(text, cfg),
        },
    }
}

/// Sends a prompt that must be answered through its tool; returns the tool's name and input.
async fn ask_tool(
    client: &dyn LlmClient,
    (system, user, tool): (String, String, super::llm::ToolSpec),
    cfg: &Config,
    events: Option<&mpsc::Sender<StreamEvent>>,
) -> Result<(String, serde_json::Value), AiError> {
    let name = tool.name.clone();
    let req = ChatRequest {
        system,
        user,
        tool: Some(tool),
        max_tokens: max_tokens(cfg),
    };
    let resp = client.send(&req, events).await?;
    let input = resp
        .tool_input
        .ok_or(AiError::NoToolUse { tool: name.clone() })?;
    Ok((name, input))
}

/// Reads a tool's input as its schema's type.
fn tool_value<T: serde::de::DeserializeOwned>(
    name: &str,
    input: serde_json::Value,
) -> Result<T, AiError> {
    serde_json::from_value(input).map_err(|e| AiError::Schema {
        tool: name.to_string(),
        message: e.to_string(),
    })
}

/// The model's answer, or the offline engine's when the model failed (said in `note`).
fn or_offline<T>(
    engine: &Engine,
    got: Result<T, AiError>,
    offline: impl FnOnce() -> T,
) -> Answer<T> {
    match got {
        Ok(r) => Answer {
            engine: engine.label(),
            note: None,
            result: r,
        },
        Err(e) => Answer {
            engine: "offline".into(),
            note: Some(format!(
                "{} could not answer ({e}); the offline engine answered",
                engine.label()
            )),
            result: offline(),
        },
    }
}

/// Natural language → experiment by a model; errors are the model's (the caller falls back).
pub async fn nl_remote(
    client: &dyn LlmClient,
    text: &str,
    cfg: &Config,
    events: Option<&mpsc::Sender<StreamEvent>>,
) -> Result<NlResult, AiError> {
    let (name, input) = ask_tool(
        client,
        prompt::nl(text, &cfg.guardrails.protected_namespaces),
        cfg,
        events,
    )
    .await?;
    let explanation = input
        .get("explanation")
        .and_then(|e| e.as_str())
        .map(|s| nl::truncate_chars(&super::redact::redact(s), 1000))
        .unwrap_or_default();
    if let Some(q) = input.get("clarification").and_then(|c| c.as_str())
        && !q.trim().is_empty()
        && input.get("experiment").is_none_or(|e| e.is_null())
    {
        return Ok(NlResult::Clarify {
            message: nl::truncate_chars(&super::redact::redact(q), 1000),
        });
    }
    let Some(doc) = input.get("experiment").filter(|e| !e.is_null()) else {
        return Err(AiError::Schema {
            tool: name,
            message: "neither `experiment` nor `clarification` was given".into(),
        });
    };
    Ok(match vet::vet_value(doc, cfg) {
        Ok(v) => NlResult::Proposal {
            vetted: Box::new(v),
            explanation,
        },
        Err(refused) => NlResult::Refused {
            refused,
            explanation,
        },
    })
}

/// An analysis with its Markdown.
#[derive(Clone, Debug, Serialize)]
pub struct AnalysisResult {
    /// The structured analysis.
    pub body: AnalysisBody,
    /// The resilience score (stored, by the documented formula).
    pub score: Option<u8>,
    /// How the score follows from the formula.
    pub score_explanation: String,
    /// The rendered section.
    pub markdown: String,
}

/// Analyses an experiment's evidence; a failing model falls back to the offline engine.
pub async fn analyze(
    engine: &Engine,
    ev: &Evidence,
    cfg: &Config,
    events: Option<&mpsc::Sender<StreamEvent>>,
) -> Answer<AnalysisResult> {
    let (label, note, body) = match engine {
        Engine::Offline { why } => (
            "offline".to_string(),
            Some(why.clone()),
            analysis::offline(ev),
        ),
        Engine::Remote(c) => match analyze_remote(c.as_ref(), ev, cfg, events).await {
            Ok(b) => (engine.label(), None, b),
            Err(e) => (
                "offline".to_string(),
                Some(format!(
                    "{} could not answer ({e}); the offline engine answered",
                    engine.label()
                )),
                analysis::offline(ev),
            ),
        },
    };
    let markdown = analysis::markdown(ev, &body, &label);
    Answer {
        engine: label,
        note,
        result: AnalysisResult {
            score: ev.score,
            score_explanation: ev.score_explanation(),
            body,
            markdown,
        },
    }
}

/// A model's analysis, checked against its schema and ranges.
pub async fn analyze_remote(
    client: &dyn LlmClient,
    ev: &Evidence,
    cfg: &Config,
    events: Option<&mpsc::Sender<StreamEvent>>,
) -> Result<AnalysisBody, AiError> {
    let (name, input) = ask_tool(client, prompt::analysis(ev), cfg, events).await?;
    let mut body: AnalysisBody = tool_value(&name, input)?;
    body.check().map_err(|m| AiError::Schema {
        tool: name,
        message: m,
    })?;
    body.likely_cause = super::redact::redact(&body.likely_cause);
    Ok(body)
}

/// A report and the analysis it holds.
#[derive(Clone, Debug, Serialize)]
pub struct ReportResult {
    /// The whole report, Markdown.
    pub markdown: String,
    /// The analysis inside it (to store).
    pub analysis: AnalysisResult,
}

/// A Markdown report; with a model, a streamed executive summary heads it.
pub async fn report(
    engine: &Engine,
    ev: &Evidence,
    cfg: &Config,
    events: Option<&mpsc::Sender<StreamEvent>>,
) -> Answer<ReportResult> {
    let a = analyze(engine, ev, cfg, None).await;
    let mut md = report::markdown(ev, &a.result.body, &a.engine);
    let mut note = a.note.clone();
    if let Engine::Remote(c) = engine
        && a.engine != "offline"
    {
        let (system, user) = prompt::narrative(ev, &a.result.body);
        let req = ChatRequest {
            system,
            user,
            tool: None,
            max_tokens: 1024,
        };
        match c.send(&req, events).await {
            Ok(r) if !r.text.trim().is_empty() => {
                let summary = nl::truncate_chars(&super::redact::redact(r.text.trim()), 4000);
                let insert = format!("## Executive summary ({})\n\n{summary}\n\n", a.engine);
                match md.find("## Summary") {
                    Some(i) => md.insert_str(i, &insert),
                    None => md.push_str(&insert),
                }
            }
            Ok(_) => {}
            Err(e) => note = Some(format!("no executive summary: {e}")),
        }
    }
    Answer {
        engine: a.engine,
        note,
        result: ReportResult {
            markdown: md,
            analysis: a.result,
        },
    }
}

/// Suggested experiments, each vetted; refused ones are dropped and said in the notes.
#[derive(Clone, Debug, Serialize)]
pub struct Suggestions {
    /// The vetted suggestions.
    pub items: Vec<(String, Vetted)>,
    /// What was dropped and why.
    pub dropped: Vec<String>,
    /// The trend per namespace.
    pub trends: Vec<suggest::Trend>,
}

/// Suggestions for a namespace from the stored experiments.
pub async fn suggestions(
    engine: &Engine,
    recs: &[ExperimentRecord],
    namespace: Option<&str>,
    cfg: &Config,
) -> Answer<Suggestions> {
    let trends = suggest::trends(recs, namespace);
    let offline_items = || suggest::offline(recs, namespace);
    let (label, note, raw): (String, Option<String>, Vec<(String, serde_json::Value)>) =
        match engine {
            Engine::Offline { why } => (
                "offline".into(),
                Some(why.clone()),
                to_values(offline_items()),
            ),
            Engine::Remote(c) => {
                let history: Vec<serde_json::Value> = recs
                .iter()
                .take(50)
                .map(|r| {
                    serde_json::json!({
                        "name": r.name, "fault": r.fault, "target": r.target, "status": r.status,
                        "verdict": r.verdict.as_ref().map(|v| v.kind),
                        "score": r.verdict.as_ref().and_then(|v| v.score),
                    })
                })
                .collect();
                let (system, user, tool) = prompt::suggest(namespace, &history);
                let name = tool.name.clone();
                let req = ChatRequest {
                    system,
                    user,
                    tool: Some(tool),
                    max_tokens: max_tokens(cfg),
                };
                let got = c.send(&req, None).await.and_then(|r| {
                    let input = r
                        .tool_input
                        .ok_or(AiError::NoToolUse { tool: name.clone() })?;
                    let items = input.get("suggestions").and_then(|s| s.as_array()).ok_or(
                        AiError::Schema {
                            tool: name,
                            message: "no `suggestions` array".into(),
                        },
                    )?;
                    Ok(items
                        .iter()
                        .take(10)
                        .map(|i| {
                            (
                                i.get("why")
                                    .and_then(|w| w.as_str())
                                    .unwrap_or("")
                                    .to_string(),
                                i.get("experiment").cloned().unwrap_or_default(),
                            )
                        })
                        .collect::<Vec<_>>())
                });
                match got {
                    Ok(v) => (engine.label(), None, v),
                    Err(e) => (
                        "offline".into(),
                        Some(format!(
                            "{} could not answer ({e}); the offline engine answered",
                            engine.label()
                        )),
                        to_values(offline_items()),
                    ),
                }
            }
        };
    let mut items = Vec::new();
    let mut dropped = Vec::new();
    for (why, v) in raw {
        match vet::vet_value(&v, cfg) {
            Ok(vt) => items.push((nl::truncate_chars(&super::redact::redact(&why), 500), vt)),
            Err(r) => dropped.push(format!("dropped a suggestion: {r}")),
        }
    }
    Answer {
        engine: label,
        note,
        result: Suggestions {
            items,
            dropped,
            trends,
        },
    }
}

fn to_values(s: Vec<Suggestion>) -> Vec<(String, serde_json::Value)> {
    s.into_iter()
        .map(|x| (x.why, serde_json::to_value(&x.doc).unwrap_or_default()))
        .collect()
}

/// Steady-state review before injection: the offline heuristic always runs; a model's findings
/// are added to it (it can never remove an offline critical finding), and a failing model falls
/// back to the offline review. `proceed` is decided by the program.
pub async fn review(
    engine: &Engine,
    doc: &crate::domain::ExperimentDoc,
    context: &super::review::TargetContext,
    samples: &[crate::store::records::ProbeSample],
    cfg: &Config,
    events: Option<&mpsc::Sender<StreamEvent>>,
) -> Answer<super::review::Review> {
    let offline = super::review::offline(doc, context, samples);
    let client = match engine {
        Engine::Offline { why } => {
            return Answer {
                engine: engine.label(),
                note: Some(why.clone()),
                result: offline,
            };
        }
        Engine::Remote(c) => c,
    };
    let prompt = prompt::review(doc, context, &samples, &offline);
    let got = async {
        let (name, input) = ask_tool(client.as_ref(), prompt, cfg, events).await?;
        let parsed: super::review::ReviewToolInput = tool_value(&name, input)?;
        super::review::merge(parsed, &offline).map_err(|m| AiError::Schema {
            tool: name.clone(),
            message: m,
        })
    }
    .await;
    or_offline(engine, got, || offline)
}

/// A hypothesis and why.
#[derive(Clone, Debug, Serialize)]
pub struct HypothesisResult {
    /// The testable statement.
    pub hypothesis: String,
    /// Why, from the topology.
    pub rationale: String,
}

/// The offline hypothesis from the templates and the topology around the target.
pub fn hypothesis_offline(
    doc: &crate::domain::ExperimentDoc,
    context: &super::review::TargetContext,
) -> HypothesisResult {
    let s = super::hypothesis::Surroundings::from_context(context);
    let text = super::hypothesis::with_surroundings(
        doc.spec.fault.kind(),
        &doc.spec.target,
        &doc.spec.fault,
        doc.spec.duration,
        &s,
    );
    let mut why = Vec::new();
    if !s.workloads.is_empty() {
        why.push(format!("target workloads: {}", s.workloads.join(", ")));
    }
    if !s.services.is_empty() {
        why.push(format!("Services selecting it: {}", s.services.join(", ")));
    }
    if s.nodes > 0 {
        why.push(format!(
            "{} node(s){}",
            s.nodes,
            if s.zones.is_empty() {
                String::new()
            } else {
                format!(" in zone(s) {}", s.zones.join(", "))
            }
        ));
    }
    if !context.known {
        why.push("no topology was available; the template uses the fault and target only".into());
    }
    HypothesisResult {
        hypothesis: text,
        rationale: if why.is_empty() {
            "From the fault kind and its parameters.".into()
        } else {
            format!("From the topology: {}.", why.join("; "))
        },
    }
}

/// A hypothesis for a planned experiment from the topology around its target; a failing model
/// falls back to the offline templates.
pub async fn hypothesis(
    engine: &Engine,
    doc: &crate::domain::ExperimentDoc,
    context: &super::review::TargetContext,
    cfg: &Config,
    events: Option<&mpsc::Sender<StreamEvent>>,
) -> Answer<HypothesisResult> {
    let client = match engine {
        Engine::Offline { why } => {
            return Answer {
                engine: engine.label(),
                note: Some(why.clone()),
                result: hypothesis_offline(doc, context),
            };
        }
        Engine::Remote(c) => c,
    };
    let got = async {
        let (name, input) = ask_tool(
            client.as_ref(),
            prompt::hypothesis(doc, context),
            cfg,
            events,
        )
        .await?;
        let h: prompt::HypothesisToolInput = tool_value(&name, input)?;
        if h.hypothesis.trim().is_empty() {
            return Err(AiError::Schema {
                tool: name.clone(),
                message: "empty hypothesis".into(),
            });
        }
        let clean = |s: &str, n| nl::truncate_chars(&super::redact::redact(s.trim()), n);
        Ok(HypothesisResult {
            hypothesis: clean(&h.hypothesis, 1000),
            rationale: clean(&h.rationale, 2000),
        })
    }
    .await;
    or_offline(engine, got, || hypothesis_offline(doc, context))
}
