//! Every experiment an engine proposes (AI or offline) goes through the same validator as a
//! hand-written file and through the guardrails that can be judged without a cluster. What
//! passes is only a proposal: running it still goes through `dry-run` and the full guardrails.

use crate::config::Config;
use crate::domain::{ExperimentDoc, parse_experiment};
use crate::engine::plan::Plan;
use crate::safety::guardrails::{self, GuardContext};
use serde::Serialize;

/// Rules judged on the document alone (the others need the resolved targets).
const DOCUMENT_RULES: [&str; 3] = ["non-empty-selector", "protected-namespace", "max-timeout"];

/// Largest proposal accepted, as YAML text.
pub const MAX_PROPOSAL_BYTES: usize = 64 * 1024;

/// A proposal that passed.
#[derive(Clone, Debug, Serialize)]
pub struct Vetted {
    /// The document, as the validator read it.
    pub doc: ExperimentDoc,
    /// The same document as YAML, ready to save and `dry-run`.
    pub yaml: String,
    /// What the vetting changed or wants the operator to know.
    pub notes: Vec<String>,
}

/// One reason a proposal was refused.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Refusal {
    /// The rule: a guardrail name, or `validate` for document problems.
    pub rule: String,
    /// What it found and how to proceed.
    pub message: String,
}

/// A refused proposal.
#[derive(Clone, Debug, PartialEq, Serialize, thiserror::Error)]
#[error("{}", render(.refusals))]
pub struct Refused {
    /// Every reason.
    pub refusals: Vec<Refusal>,
}

fn render(r: &[Refusal]) -> String {
    let parts: Vec<String> = r
        .iter()
        .map(|x| format!("[{}] {}", x.rule, x.message))
        .collect();
    format!("refused: {}", parts.join("; "))
}

/// Vets a proposal given as JSON (what a model returns).
pub fn vet_value(v: &serde_json::Value, cfg: &Config) -> Result<Vetted, Refused> {
    let yaml = serde_norway::to_string(v).map_err(|e| Refused {
        refusals: vec![Refusal {
            rule: "validate".into(),
            message: format!("the proposal is not a document: {e}"),
        }],
    })?;
    vet_yaml(&yaml, cfg)
}

/// Vets a typed document (what the offline engine makes).
pub fn vet_doc(doc: &ExperimentDoc, cfg: &Config) -> Result<Vetted, Refused> {
    let yaml = serde_norway::to_string(doc).map_err(|e| Refused {
        refusals: vec![Refusal {
            rule: "validate".into(),
            message: format!("cannot write the document: {e}"),
        }],
    })?;
    vet_yaml(&yaml, cfg)
}

/// Vets YAML text through `parse_experiment` (shape and `problems()`) and the document rules.
pub fn vet_yaml(yaml: &str, cfg: &Config) -> Result<Vetted, Refused> {
    if yaml.len() > MAX_PROPOSAL_BYTES {
        return Err(Refused {
            refusals: vec![Refusal {
                rule: "validate".into(),
                message: format!(
                    "the proposal is {} bytes, above the {MAX_PROPOSAL_BYTES}-byte limit",
                    yaml.len()
                ),
            }],
        });
    }
    let mut doc = match parse_experiment("proposal.yaml", yaml) {
        Ok(d) => d,
        Err(diags) => {
            // Guardrail names for the problems that are also guardrails, so a refusal of an
            // empty selector reads the same here as in a dry run.
            let mut refusals: Vec<Refusal> = diags
                .into_iter()
                .map(|d| Refusal {
                    rule: if d.message.contains("selects every") {
                        "non-empty-selector".into()
                    } else {
                        "validate".into()
                    },
                    message: if d.path.is_empty() {
                        d.message
                    } else {
                        format!("{}: {}", d.path, d.message)
                    },
                })
                .collect();
            // Say the protected-namespace rule too: both are reasons, and both should be fixed.
            if let Ok(v) = serde_norway::from_str::<serde_json::Value>(yaml)
                && let Some(ns) = v
                    .pointer("/spec/target/pods/namespace")
                    .and_then(|n| n.as_str())
                && let Some(glob) = protected_glob(cfg, ns)
            {
                refusals.push(protected_refusal(ns, &glob));
            }
            return Err(Refused { refusals });
        }
    };
    let mut notes = Vec::new();
    if doc.spec.safety.confirm_namespace.take().is_some() {
        notes.push(
            "removed spec.safety.confirmNamespace: only the operator confirms a protected namespace, by typing it"
                .into(),
        );
    }
    let empty = Plan {
        engine: "document".into(),
        namespace: doc.spec.target.namespace().map(str::to_string),
        eligible: 0,
        matched: 0,
        targets: Vec::new(),
        steps: Vec::new(),
        notes: Vec::new(),
    };
    let verdicts = guardrails::check(&doc, &empty, cfg, &GuardContext::default());
    let mut refusals: Vec<Refusal> = verdicts
        .into_iter()
        .filter(|v| DOCUMENT_RULES.contains(&v.rule) && !v.passed)
        .map(|v| Refusal {
            rule: v.rule.into(),
            message: v.message,
        })
        .collect();
    // The AI never proposes work in a protected namespace: the typed confirmation belongs to a
    // person who wrote the file, so say so instead of the CLI flag alone.
    for r in refusals
        .iter_mut()
        .filter(|r| r.rule == "protected-namespace")
    {
        r.message = format!(
            "{}. Generated experiments never target protected namespaces; write the file yourself if you must",
            r.message
        );
    }
    if !refusals.is_empty() {
        return Err(Refused { refusals });
    }
    let yaml = serde_norway::to_string(&doc).unwrap_or_else(|_| yaml.to_string());
    notes.push(format!(
        "validated like a hand-written file; nothing runs until you `chaosduck dry-run` and then `run` it (guardrails checked again against the live targets, hard timeout {})",
        humantime::format_duration(doc.spec.effective_timeout())
    ));
    Ok(Vetted { doc, yaml, notes })
}

fn protected_glob(cfg: &Config, ns: &str) -> Option<String> {
    cfg.guardrails
        .protected_namespaces
        .iter()
        .find(|g| {
            globset::Glob::new(g)
                .map(|g| g.compile_matcher().is_match(ns))
                .unwrap_or(false)
        })
        .cloned()
}

fn protected_refusal(ns: &str, glob: &str) -> Refusal {
    Refusal {
        rule: "protected-namespace".into(),
        message: format!(
            "namespace {ns} is protected ({glob}); generated experiments never target protected namespaces — write the file yourself and confirm with --confirm-namespace {ns}"
        ),
    }
}
