//! What reaches the UI task (`Msg`) and what it asks the driver to do (`Effect`). Both are data:
//! the only place state changes is `App::update`, and anything risky leaves it as an `Effect`.

use crate::domain::ExperimentDoc;
use crate::engine::events::RunEvent;
use crate::engine::runner::Preview;
use crate::safety::journal::JournalEntry;
use crate::store::records::{Analysis, ExperimentRecord, PhaseEvent, ProbeSample};
use crate::topology::aws::AwsTopology;
use crate::topology::k8s::K8sTopology;
use crossterm::event::KeyEvent;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything the selected experiment's panes show, read from the store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Detail {
    /// Experiment id.
    pub id: String,
    /// Phase timeline.
    pub events: Vec<PhaseEvent>,
    /// Probe samples (bounded by the store).
    pub samples: Vec<ProbeSample>,
    /// Journal entries.
    pub journal: Vec<JournalEntry>,
    /// Stored analyses, oldest first.
    pub analyses: Vec<Analysis>,
}

/// A dry run ready to show: the plan, the guardrails, and what a run needs.
#[derive(Clone, Debug)]
pub struct PreviewReady {
    /// The document previewed.
    pub doc: Box<ExperimentDoc>,
    /// Its file, if any.
    pub source: Option<String>,
    /// Plan and guardrail verdicts.
    pub preview: Box<Preview>,
    /// The offline engine's steady-state review of the targets (filled in by the app from the
    /// topology it holds).
    pub review: Option<crate::ai::review::Review>,
    /// What the app added to the document (e.g. a hypothesis from the topology).
    pub notes: Vec<String>,
}

/// What the natural-language engine made of a sentence.
#[derive(Clone, Debug)]
pub enum NlOutcome {
    /// An experiment (YAML), vetted, with the explanation.
    Proposal {
        /// The document as YAML, ready to edit.
        yaml: String,
        /// What was understood and assumed.
        explanation: String,
        /// Which engine answered.
        engine: String,
    },
    /// The engine needs more, or refused; the text says why.
    Message {
        /// The message.
        text: String,
        /// Which engine answered.
        engine: String,
    },
}

/// A message to the UI task.
#[derive(Clone, Debug)]
pub enum Msg {
    /// A key press.
    Key(KeyEvent),
    /// Pasted text (bracketed paste).
    Paste(String),
    /// The terminal was resized.
    Resize(u16, u16),
    /// The terminal is gone (input EOF or error): roll back and exit.
    InputLost(String),
    /// SIGHUP, SIGINT or SIGTERM: roll back and exit.
    Signal(&'static str),
    /// A clock tick (only redraws when something runs).
    Tick,
    /// A new Kubernetes topology.
    K8s(Arc<K8sTopology>),
    /// A new AWS topology.
    Aws(Arc<AwsTopology>),
    /// Something happened in a run.
    Run(RunEvent),
    /// The experiment list, newest first.
    Experiments(Vec<ExperimentRecord>),
    /// The selected experiment's detail.
    Detail(Box<Detail>),
    /// A dry run finished.
    Preview(Result<PreviewReady, String>),
    /// A run was handed to the supervisor (its id).
    RunStarted(String),
    /// A run could not start or failed.
    RunFailed(String),
    /// Experiment files found under `experiments/`.
    Files(Vec<PathBuf>),
    /// An experiment file's text, or why it could not be read.
    FileLoaded(Result<(PathBuf, String), String>),
    /// The natural-language engine answered.
    Nl(NlOutcome),
    /// A piece of streamed AI text for an experiment.
    AiChunk {
        /// Experiment id.
        id: String,
        /// The text.
        text: String,
    },
    /// The AI analysis is complete (and stored).
    AiDone {
        /// Experiment id.
        id: String,
        /// The stored analysis.
        analysis: Analysis,
    },
    /// The AI analysis failed.
    AiFailed {
        /// Experiment id.
        id: String,
        /// Why.
        error: String,
    },
    /// Open journal entries and the latch, refreshed after changes.
    SafetyState {
        /// Journal entries still open (active faults).
        open: usize,
        /// The emergency-stop latch.
        latched: Option<String>,
    },
    /// The emergency stop (or a shutdown) finished rolling back.
    StopDone(Result<(usize, usize), String>),
    /// A note for the status line.
    Toast(String),
    /// A shutdown's rollback is complete: exit now.
    ShutdownDone,
    /// Suggested experiments.
    Suggestions(SuggestionList),
}

/// Suggested experiments, vetted, with the resilience trend they come from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SuggestionList {
    /// Which engine answered (and why, for the offline engine).
    pub engine: String,
    /// (why, YAML) of each vetted suggestion.
    pub items: Vec<(String, String)>,
    /// One line per namespace: experiments, mean score, change.
    pub trends: Vec<String>,
}

/// Something the driver does for the UI.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Reload the experiment list.
    LoadExperiments,
    /// Load one experiment's detail.
    LoadDetail(String),
    /// Plan and check guardrails; change nothing.
    Preview {
        /// The document.
        doc: Box<ExperimentDoc>,
        /// Its file.
        source: Option<String>,
    },
    /// Run an experiment (after a preview and a confirmation).
    Run {
        /// The document.
        doc: Box<ExperimentDoc>,
        /// Its file.
        source: Option<String>,
        /// The protected namespace typed by the operator.
        confirm_namespace: Option<String>,
    },
    /// Roll back one experiment now (stop its run, or revert its open entries).
    Rollback(String),
    /// Roll back everything, latch.
    EmergencyStop,
    /// Clear the latch.
    Reset,
    /// Analyse an experiment (streamed).
    Analyze(String),
    /// Turn a sentence into an experiment.
    Nl(String),
    /// List experiment files.
    ListFiles,
    /// Read an experiment file.
    LoadFile(PathBuf),
    /// Roll back everything, then exit.
    Shutdown(String),
    /// Suggest experiments for a namespace (all when none).
    Suggest(Option<String>),
}

impl Effect {
    /// Whether the effect changes the systems under test (read-only mode refuses these).
    /// Rollbacks and stops only restore, so they stay allowed.
    pub fn is_mutating(&self) -> bool {
        matches!(self, Effect::Run { .. })
    }
}
