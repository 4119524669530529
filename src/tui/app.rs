//! The dashboard's state and its one mutator, `App::update(msg) -> Vec<Effect>`. No I/O here:
//! the driver executes the effects and sends the results back as messages.

use super::form::FormState;
use super::keymap::{Action, EMERGENCY, KeyChord, Keymap};
use super::layout;
use super::msg::{Detail, Effect, Msg, NlOutcome, PreviewReady, SuggestionList};
use super::theme::{Theme, Tier};
use super::tree::{self, Node, Row, TargetHint};
use crate::domain::{Phase, Status, parse_experiment};
use crate::engine::events::RunEvent;
use crate::safety::journal::JournalEntry;
use crate::store::records::{ExperimentRecord, PhaseEvent};
use crate::topology::aws::AwsTopology;
use crate::topology::k8s::K8sTopology;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui_textarea::TextArea;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Probe samples kept per experiment in the UI (the store keeps its own bound).
pub const MAX_UI_SAMPLES: usize = 4_000;

/// The panes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    /// The topology tree.
    Topology,
    /// Experiments and the phase timeline.
    Experiments,
    /// Probe sparklines.
    Probes,
    /// The journal.
    Journal,
    /// AI analysis.
    Ai,
}

impl Pane {
    /// Every pane in focus order.
    pub const ALL: [Pane; 5] = [
        Pane::Topology,
        Pane::Experiments,
        Pane::Probes,
        Pane::Journal,
        Pane::Ai,
    ];

    /// Its title.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Topology => "Topology",
            Pane::Experiments => "Experiments",
            Pane::Probes => "Probes",
            Pane::Journal => "Journal",
            Pane::Ai => "Analysis",
        }
    }
}

/// Which topology the tree shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Kubernetes.
    K8s,
    /// AWS.
    Aws,
}

/// A modal on top of the panes.
#[derive(Debug)]
pub enum Modal {
    /// Key help, generated from the keymap.
    Help,
    /// `:` command line.
    Command(TextArea<'static>),
    /// `/` filter.
    Filter(TextArea<'static>),
    /// The natural-language prompt box.
    Prompt {
        /// What the operator types.
        input: TextArea<'static>,
        /// Waiting for the engine.
        busy: bool,
        /// The engine's last message (a question or a refusal).
        message: Option<String>,
    },
    /// An experiment document being edited.
    Editor {
        /// The YAML.
        text: TextArea<'static>,
        /// Where it came from.
        source: Option<String>,
        /// What the validator said.
        errors: Vec<String>,
        /// A note above it (the AI's explanation).
        note: Option<String>,
    },
    /// The experiment form.
    Form(Box<FormState>),
    /// Experiment files to open.
    Picker {
        /// The files (None while listing).
        files: Option<Vec<PathBuf>>,
        /// The selected one.
        sel: usize,
    },
    /// Waiting for a dry run.
    Planning(String),
    /// A dry run to read before confirming.
    Preview {
        /// The dry run.
        ready: Box<PreviewReady>,
        /// Scroll offset.
        scroll: u16,
    },
    /// The last step before a run.
    Confirm {
        /// The dry run.
        ready: Box<PreviewReady>,
        /// The protected namespace to type, if any.
        needs_ns: Option<String>,
        /// What has been typed.
        input: TextArea<'static>,
        /// A wrong answer.
        error: Option<String>,
    },
    /// Quit with active faults.
    QuitConfirm,
    /// Suggested experiments (None while the engine works).
    Suggestions {
        /// The list.
        list: Option<SuggestionList>,
        /// The selected one.
        sel: usize,
    },
}

/// An emergency stop in progress.
#[derive(Clone, Debug, PartialEq)]
pub struct Stopping {
    /// When the key was pressed (unix ms).
    pub since: i64,
    /// Journal entries reverted since.
    pub reverted: usize,
    /// Journal entries that failed since.
    pub failed: usize,
}

/// The dashboard's whole state.
pub struct App {
    /// Colours.
    pub theme: Theme,
    /// Keys.
    pub keymap: Keymap,
    /// No mutating action is offered.
    pub read_only: bool,
    /// The kube context shown.
    pub context: String,
    /// The AWS profile/region shown.
    pub aws_label: String,
    /// Terminal size.
    pub size: (u16, u16),
    /// Focused pane.
    pub focus: Pane,
    /// Kubernetes topology.
    pub k8s: Option<Arc<K8sTopology>>,
    /// AWS topology.
    pub aws: Option<Arc<AwsTopology>>,
    /// Which tree is shown.
    pub source: Source,
    /// Expanded rows (by id).
    pub expanded: HashSet<String>,
    expanded_init: HashSet<Source>,
    /// The topology filter.
    pub filter: String,
    /// The one namespace shown (`:ns NAME`), if any.
    pub namespace: Option<String>,
    roots: Vec<Node>,
    /// Visible rows.
    pub rows: Vec<Row>,
    /// Selected row.
    pub topo_sel: usize,
    /// First row on screen.
    pub topo_offset: usize,
    /// Experiments, newest first.
    pub experiments: Vec<ExperimentRecord>,
    /// Selected experiment.
    pub exp_sel: usize,
    select_next: Option<String>,
    /// The selected experiment's detail.
    pub detail: Option<Detail>,
    /// Runs of this process.
    pub live: HashSet<String>,
    /// AI text as it streams, by experiment.
    pub ai_stream: HashMap<String, String>,
    /// AI errors, by experiment.
    pub ai_error: HashMap<String, String>,
    /// Scroll of the journal and analysis panes.
    pub scroll: HashMap<&'static str, u16>,
    /// Open journal entries (active faults).
    pub open_faults: usize,
    /// The emergency-stop latch.
    pub latched: Option<String>,
    /// An emergency stop in progress.
    pub stopping: Option<Stopping>,
    /// The modal, if any.
    pub modal: Option<Modal>,
    /// A one-line note and when it expires (unix ms).
    pub toast: Option<(String, i64)>,
    /// Config and theme problems, shown until dismissed.
    pub warnings: Vec<String>,
    /// Rolling back before exit, and why.
    pub quitting: Option<String>,
    /// The terminal is gone: draw nothing more.
    pub terminal_lost: bool,
    /// Exit the loop.
    pub should_exit: bool,
    /// Something changed since the last draw.
    pub dirty: bool,
    /// Now (unix ms), for durations of running phases.
    pub now_ms: i64,
    /// Where `now_ms` comes from (tests pin it).
    pub clock: fn() -> i64,
    /// Theme directory and tier, for `:theme`.
    pub theme_dir: Option<PathBuf>,
    /// The terminal's colour tier.
    pub tier: Tier,
    /// No colours (NO_COLOR).
    pub no_color: bool,
    /// Contexts of the kubeconfig (`:ctx` switches among them).
    pub contexts: Vec<String>,
    /// Reopen the dashboard on this context after exit.
    pub switch_to: Option<String>,
}

fn line_input(placeholder: &str) -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_placeholder_text(placeholder.to_string());
    t.set_cursor_line_style(ratatui::style::Style::default());
    t
}

fn to_input(k: &KeyEvent) -> ratatui_textarea::Input {
    ratatui_textarea::Input::from(*k)
}

impl App {
    /// A new dashboard state.
    pub fn new(
        theme: Theme,
        keymap: Keymap,
        read_only: bool,
        context: String,
        aws_label: String,
    ) -> App {
        App {
            theme,
            keymap,
            read_only,
            context,
            aws_label,
            size: (80, 24),
            focus: Pane::Topology,
            k8s: None,
            aws: None,
            source: Source::K8s,
            expanded: HashSet::new(),
            expanded_init: HashSet::new(),
            filter: String::new(),
            namespace: None,
            roots: Vec::new(),
            rows: Vec::new(),
            topo_sel: 0,
            topo_offset: 0,
            experiments: Vec::new(),
            exp_sel: 0,
            select_next: None,
            detail: None,
            live: HashSet::new(),
            ai_stream: HashMap::new(),
            ai_error: HashMap::new(),
            scroll: HashMap::new(),
            open_faults: 0,
            latched: None,
            stopping: None,
            modal: None,
            toast: None,
            warnings: Vec::new(),
            quitting: None,
            terminal_lost: false,
            should_exit: false,
            dirty: true,
            now_ms: 0,
            clock: crate::store::now_ms,
            theme_dir: None,
            tier: Tier::TrueColor,
            no_color: false,
            contexts: Vec::new(),
            switch_to: None,
        }
    }

    /// The selected experiment.
    pub fn selected_experiment(&self) -> Option<&ExperimentRecord> {
        self.experiments.get(self.exp_sel)
    }

    /// The selected topology row.
    pub fn selected_row(&self) -> Option<&Row> {
        self.rows.get(self.topo_sel)
    }

    /// Whether anything is running or rolling back (the clock matters then).
    pub fn busy(&self) -> bool {
        !self.live.is_empty()
            || self.stopping.is_some()
            || self.quitting.is_some()
            || !self.ai_stream.is_empty()
    }

    fn toast(&mut self, text: impl Into<String>) {
        self.toast = Some((text.into(), self.now_ms + 6_000));
    }

    /// Applies one message; returns what the driver must do.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        // A message that changes nothing must not clear what an earlier one marked for drawing.
        let was = self.dirty;
        let fx = self.apply(msg);
        self.dirty |= was;
        fx
    }

    /// Applies one message; `dirty` says whether it changed what is drawn.
    fn apply(&mut self, msg: Msg) -> Vec<Effect> {
        let mut fx = Vec::new();
        self.dirty = true;
        match msg {
            Msg::Key(k) => {
                if k.kind != KeyEventKind::Release {
                    self.on_key(k, &mut fx);
                } else {
                    self.dirty = false;
                }
            }
            Msg::Paste(text) => self.on_paste(&text),
            Msg::Resize(w, h) => {
                self.size = (w, h);
                self.clamp_topology();
            }
            Msg::InputLost(why) => {
                self.terminal_lost = true;
                self.begin_shutdown(format!("terminal lost ({why})"), &mut fx);
            }
            Msg::Signal(name) => self.begin_shutdown(format!("{name} received"), &mut fx),
            Msg::Tick => {
                self.now_ms = (self.clock)();
                let expired = self
                    .toast
                    .as_ref()
                    .is_some_and(|(_, until)| *until <= self.now_ms);
                if expired {
                    self.toast = None;
                }
                self.dirty = self.busy() || expired;
            }
            Msg::K8s(t) => {
                if self.k8s.as_ref().is_some_and(|old| **old == *t) {
                    // A watch event that changed nothing shown: nothing to draw.
                    self.dirty = false;
                    return fx;
                }
                self.k8s = Some(t);
                if self.source == Source::K8s {
                    self.rebuild_tree();
                } else {
                    self.dirty = false;
                }
            }
            Msg::Aws(t) => {
                if self.aws.as_ref().is_some_and(|old| **old == *t) {
                    self.dirty = false;
                    return fx;
                }
                self.aws = Some(t);
                if self.source == Source::Aws {
                    self.rebuild_tree();
                } else {
                    self.dirty = false;
                }
            }
            Msg::Run(ev) => self.on_run_event(ev, &mut fx),
            Msg::Experiments(list) => {
                let keep = self
                    .select_next
                    .take()
                    .or_else(|| self.selected_experiment().map(|e| e.id.clone()));
                self.experiments = list;
                let found = keep
                    .as_ref()
                    .and_then(|id| self.experiments.iter().position(|e| &e.id == id));
                if let (None, Some(id)) = (found, keep.as_ref())
                    && self.live.contains(id)
                {
                    // Not stored yet: keep waiting for it.
                    self.select_next = Some(id.clone());
                }
                self.exp_sel =
                    found.unwrap_or(self.exp_sel.min(self.experiments.len().saturating_sub(1)));
                self.ensure_detail(&mut fx);
            }
            Msg::Detail(d) => {
                if self.selected_experiment().is_some_and(|e| e.id == d.id) {
                    self.detail = Some(*d);
                } else {
                    self.dirty = false;
                }
            }
            Msg::Preview(res) => {
                if !matches!(self.modal, Some(Modal::Planning(_))) {
                    self.dirty = false;
                    return fx; // cancelled while planning
                }
                self.modal = match res {
                    Ok(mut ready) => Some(Modal::Preview {
                        ready: {
                            self.review_preview(&mut ready);
                            Box::new(ready)
                        },
                        scroll: 0,
                    }),
                    Err(e) => {
                        self.toast(format!("dry run failed: {e}"));
                        None
                    }
                };
            }
            Msg::RunStarted(id) => {
                self.live.insert(id.clone());
                self.select_next = Some(id);
                self.focus = Pane::Experiments;
                fx.push(Effect::LoadExperiments);
            }
            Msg::RunFailed(e) => {
                self.toast(e);
                fx.push(Effect::LoadExperiments);
            }
            Msg::Files(files) => {
                if let Some(Modal::Picker { files: f, .. }) = &mut self.modal {
                    *f = Some(files);
                }
            }
            Msg::FileLoaded(res) => match res {
                Ok((path, text)) => {
                    let origin = path.display().to_string();
                    match parse_experiment(&origin, &text) {
                        Ok(doc) => {
                            self.modal = Some(Modal::Planning(format!("dry run of {origin}")));
                            fx.push(Effect::Preview {
                                doc: Box::new(doc),
                                source: Some(origin),
                            });
                        }
                        Err(ds) => {
                            self.modal = Some(Modal::Editor {
                                text: TextArea::from(text.lines()),
                                source: Some(origin),
                                errors: ds.iter().map(|d| d.to_string()).collect(),
                                note: None,
                            });
                        }
                    }
                }
                Err(e) => {
                    self.modal = None;
                    self.toast(e);
                }
            },
            Msg::Nl(out) => {
                if let Some(Modal::Prompt { busy, message, .. }) = &mut self.modal {
                    *busy = false;
                    match out {
                        NlOutcome::Proposal {
                            yaml,
                            explanation,
                            engine,
                        } => {
                            self.modal = Some(Modal::Editor {
                                text: TextArea::from(yaml.lines()),
                                source: None,
                                errors: vec![],
                                note: Some(format!("[{engine}] {explanation}")),
                            });
                        }
                        NlOutcome::Message { text, engine } => {
                            *message = Some(format!("[{engine}] {text}"));
                        }
                    }
                } else {
                    self.dirty = false;
                }
            }
            Msg::AiChunk { id, text } => {
                self.ai_stream.entry(id).or_default().push_str(&text);
            }
            Msg::AiDone { id, analysis } => {
                self.ai_stream.remove(&id);
                if let Some(d) = &mut self.detail
                    && d.id == id
                {
                    d.analyses.push(analysis);
                }
            }
            Msg::AiFailed { id, error } => {
                self.ai_stream.remove(&id);
                self.ai_error.insert(id, error);
            }
            Msg::SafetyState { open, latched } => {
                self.open_faults = open;
                self.latched = latched;
            }
            Msg::StopDone(res) => {
                self.stopping = None;
                match res {
                    Ok((stopped, open)) => self.toast(if open == 0 {
                        format!("emergency stop: {stopped} run(s) stopped, every fault reverted; latched until :reset")
                    } else {
                        format!("emergency stop: {open} journal step(s) could NOT be reverted — see the journal; latched until :reset")
                    }),
                    Err(e) => self.toast(format!("emergency stop failed: {e}; run `chaosduck recover`")),
                }
                fx.push(Effect::LoadExperiments);
            }
            Msg::Toast(t) => self.toast(t),
            Msg::ShutdownDone => self.should_exit = true,
            Msg::Suggestions(list) => {
                if let Some(Modal::Suggestions { list: l, .. }) = &mut self.modal {
                    *l = Some(list);
                } else {
                    self.dirty = false;
                }
            }
        }
        fx
    }

    fn begin_shutdown(&mut self, why: String, fx: &mut Vec<Effect>) {
        if self.quitting.is_none() {
            self.quitting = Some(why.clone());
            self.modal = None;
            fx.push(Effect::Shutdown(why));
        }
    }

    fn on_paste(&mut self, text: &str) {
        match &mut self.modal {
            Some(Modal::Prompt { input, .. })
            | Some(Modal::Command(input))
            | Some(Modal::Filter(input))
            | Some(Modal::Editor { text: input, .. })
            | Some(Modal::Confirm { input, .. }) => {
                input.insert_str(text);
            }
            _ => self.dirty = false,
        }
    }

    fn on_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let chord = KeyChord::from_event(&k);
        // The emergency stop comes before any routing: every mode, every modal, no confirmation.
        if chord == EMERGENCY {
            if self.stopping.is_none() {
                self.now_ms = (self.clock)();
                self.stopping = Some(Stopping {
                    since: self.now_ms,
                    reverted: 0,
                    failed: 0,
                });
                self.modal = None;
                fx.push(Effect::EmergencyStop);
            }
            return;
        }
        if chord.code == KeyCode::Char('c') && chord.mods == KeyModifiers::CONTROL {
            // Ctrl-C is SIGINT's key in raw mode: the same as the signal.
            self.begin_shutdown("Ctrl-C pressed".into(), fx);
            return;
        }
        if self.quitting.is_some() {
            return; // only the emergency stop matters while rolling back to exit
        }
        if self.modal.is_some() {
            self.on_modal_key(k, chord, fx);
            return;
        }
        let Some(action) = self.keymap.action(&chord) else {
            self.dirty = false;
            return;
        };
        self.on_action(action, fx);
    }

    fn on_action(&mut self, action: Action, fx: &mut Vec<Effect>) {
        match action {
            Action::Quit => {
                if self.open_faults > 0 || !self.live.is_empty() {
                    self.modal = Some(Modal::QuitConfirm);
                } else {
                    self.should_exit = true;
                }
            }
            Action::Help => self.modal = Some(Modal::Help),
            Action::Command => {
                self.modal = Some(Modal::Command(line_input(
                    "ctx NAME | ns NAME | theme NAME | run FILE | reset | q",
                )))
            }
            Action::Filter => {
                let mut t = line_input("filter by name");
                t.insert_str(&self.filter);
                self.focus = Pane::Topology;
                self.modal = Some(Modal::Filter(t));
            }
            Action::FocusNext | Action::FocusPrev => {
                let i = Pane::ALL.iter().position(|p| *p == self.focus).unwrap_or(0);
                let n = Pane::ALL.len();
                let j = if action == Action::FocusNext {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.focus = Pane::ALL[j];
            }
            Action::Pane1 => self.focus = Pane::Topology,
            Action::Pane2 => self.focus = Pane::Experiments,
            Action::Pane3 => self.focus = Pane::Probes,
            Action::Pane4 => self.focus = Pane::Journal,
            Action::Pane5 => self.focus = Pane::Ai,
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => self.on_move(action, fx),
            Action::Expand => match self.focus {
                Pane::Topology => self.toggle_expand(Some(true)),
                Pane::Experiments => self.focus = Pane::Probes,
                _ => {}
            },
            Action::Collapse => {
                if self.focus == Pane::Topology {
                    self.toggle_expand(Some(false));
                }
            }
            Action::TopologySource => {
                self.source = match self.source {
                    Source::K8s => Source::Aws,
                    Source::Aws => Source::K8s,
                };
                self.topo_sel = 0;
                self.topo_offset = 0;
                self.rebuild_tree();
            }
            Action::NewExperiment => {
                let target = self
                    .selected_row()
                    .map(|r| r.target.clone())
                    .unwrap_or_default();
                if target == TargetHint::None {
                    self.toast("select a namespace, workload, pod, node, instance, DB cluster, route or subnet in the topology first");
                } else {
                    self.modal = Some(Modal::Form(Box::new(FormState::new(target))));
                }
            }
            Action::Prompt => {
                let mut t = line_input("e.g. add 200ms latency to checkout pods for 2 minutes");
                t.set_cursor_line_style(ratatui::style::Style::default());
                self.modal = Some(Modal::Prompt {
                    input: t,
                    busy: false,
                    message: None,
                });
            }
            Action::OpenFile => {
                self.modal = Some(Modal::Picker {
                    files: None,
                    sel: 0,
                });
                fx.push(Effect::ListFiles);
            }
            Action::Rerun => {
                if let Some(e) = self.selected_experiment() {
                    let doc = Box::new(e.doc.clone());
                    let source = e.source.clone();
                    self.modal = Some(Modal::Planning(format!("dry run of {}", e.name)));
                    fx.push(Effect::Preview { doc, source });
                }
            }
            Action::Rollback => {
                if let Some(e) = self.selected_experiment() {
                    let id = e.id.clone();
                    self.toast(format!("rolling back {}", e.name));
                    fx.push(Effect::Rollback(id));
                }
            }
            Action::Suggest => {
                let ns = self
                    .selected_row()
                    .and_then(|r| match &r.target {
                        TargetHint::Namespace(ns)
                        | TargetHint::Workload { ns, .. }
                        | TargetHint::Pod { ns, .. } => Some(ns.clone()),
                        _ => None,
                    })
                    .or_else(|| self.namespace.clone());
                self.modal = Some(Modal::Suggestions { list: None, sel: 0 });
                fx.push(Effect::Suggest(ns));
            }
            Action::Analyze => {
                if let Some(e) = self.selected_experiment() {
                    if e.status.is_terminal() {
                        let id = e.id.clone();
                        self.ai_error.remove(&id);
                        self.ai_stream.insert(id.clone(), String::new());
                        self.focus = Pane::Ai;
                        fx.push(Effect::Analyze(id));
                    } else {
                        self.toast("the analysis needs a finished experiment");
                    }
                }
            }
        }
    }

    fn on_move(&mut self, a: Action, fx: &mut Vec<Effect>) {
        let page = 10usize;
        let step = |cur: usize, len: usize| -> usize {
            if len == 0 {
                return 0;
            }
            match a {
                Action::Up => cur.saturating_sub(1),
                Action::Down => (cur + 1).min(len - 1),
                Action::PageUp => cur.saturating_sub(page),
                Action::PageDown => (cur + page).min(len - 1),
                Action::Top => 0,
                _ => len - 1,
            }
        };
        match self.focus {
            Pane::Topology => {
                self.topo_sel = step(self.topo_sel, self.rows.len());
                self.clamp_topology();
            }
            Pane::Experiments => {
                let before = self.exp_sel;
                self.exp_sel = step(self.exp_sel, self.experiments.len());
                if before != self.exp_sel {
                    self.detail = None;
                    self.ensure_detail(fx);
                }
            }
            p => {
                let key = match p {
                    Pane::Journal => "journal",
                    Pane::Probes => "probes",
                    _ => "ai",
                };
                let cur = self.scroll.get(key).copied().unwrap_or(0) as usize;
                let v = step(cur, 10_000) as u16;
                self.scroll.insert(key, v);
            }
        }
    }

    fn ensure_detail(&mut self, fx: &mut Vec<Effect>) {
        if let Some(e) = self.selected_experiment() {
            let id = e.id.clone();
            if self.detail.as_ref().is_none_or(|d| d.id != id) {
                self.detail = None;
                fx.push(Effect::LoadDetail(id));
            }
        } else {
            self.detail = None;
        }
    }

    fn on_modal_key(&mut self, k: KeyEvent, chord: KeyChord, fx: &mut Vec<Effect>) {
        let Some(modal) = self.modal.take() else {
            return;
        };
        let esc = chord.code == KeyCode::Esc;
        let enter = chord.code == KeyCode::Enter && chord.mods.is_empty();
        self.modal = match modal {
            Modal::Help => None,
            Modal::QuitConfirm => match chord.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.begin_shutdown("operator quit".into(), fx);
                    None
                }
                _ => None,
            },
            Modal::Planning(s) => (!esc).then_some(Modal::Planning(s)),
            Modal::Command(mut t) => {
                if esc {
                    None
                } else if enter {
                    let line = t.lines().join(" ");
                    self.run_command(line.trim(), fx);
                    // run_command may open another modal; keep it.
                    self.modal.take()
                } else {
                    t.input(to_input(&k));
                    Some(Modal::Command(t))
                }
            }
            Modal::Filter(mut t) => {
                if esc {
                    self.filter.clear();
                    self.rebuild_tree();
                    None
                } else if enter {
                    None
                } else {
                    t.input(to_input(&k));
                    self.filter = t.lines().join("");
                    self.topo_sel = 0;
                    self.topo_offset = 0;
                    self.rebuild_tree();
                    Some(Modal::Filter(t))
                }
            }
            Modal::Prompt {
                mut input,
                busy,
                message,
            } => {
                if esc {
                    None
                } else if enter && !busy {
                    let mut text = input.lines().join(" ");
                    if text.trim().is_empty() {
                        Some(Modal::Prompt {
                            input,
                            busy,
                            message,
                        })
                    } else {
                        if let Some(ns) = self.namespace_hint(&text) {
                            text.push_str(&format!(" in namespace {ns}"));
                        }
                        fx.push(Effect::Nl(text));
                        Some(Modal::Prompt {
                            input,
                            busy: true,
                            message: None,
                        })
                    }
                } else if busy {
                    Some(Modal::Prompt {
                        input,
                        busy,
                        message,
                    })
                } else {
                    input.input(to_input(&k));
                    Some(Modal::Prompt {
                        input,
                        busy,
                        message,
                    })
                }
            }
            Modal::Editor {
                mut text,
                source,
                errors,
                note,
            } => {
                let dry = chord.code == KeyCode::F(5)
                    || (chord.code == KeyCode::Char('t') && chord.mods == KeyModifiers::CONTROL);
                if esc {
                    None
                } else if dry {
                    let yaml = text.lines().join("\n");
                    let origin = source.clone().unwrap_or_else(|| "editor".into());
                    match parse_experiment(&origin, &yaml) {
                        Ok(doc) => {
                            fx.push(Effect::Preview {
                                doc: Box::new(doc),
                                source,
                            });
                            Some(Modal::Planning("dry run".into()))
                        }
                        Err(ds) => Some(Modal::Editor {
                            text,
                            source,
                            errors: ds.iter().map(|d| d.to_string()).collect(),
                            note,
                        }),
                    }
                } else {
                    text.input(to_input(&k));
                    Some(Modal::Editor {
                        text,
                        source,
                        errors,
                        note,
                    })
                }
            }
            Modal::Form(mut f) => {
                let edit_yaml = chord.code == KeyCode::F(2)
                    || (chord.code == KeyCode::Char('e') && chord.mods == KeyModifiers::CONTROL);
                if esc {
                    None
                } else if enter {
                    match f.validate() {
                        Ok(doc) => {
                            fx.push(Effect::Preview {
                                doc: Box::new(doc),
                                source: None,
                            });
                            Some(Modal::Planning("dry run".into()))
                        }
                        Err(_) => Some(Modal::Form(f)),
                    }
                } else if edit_yaml {
                    Some(Modal::Editor {
                        text: TextArea::from(f.to_yaml().lines()),
                        source: None,
                        errors: vec![],
                        note: Some("Edit, then F5 (or Ctrl-T) for the dry run.".into()),
                    })
                } else {
                    match chord.code {
                        KeyCode::Up => f.move_sel(false),
                        KeyCode::Down | KeyCode::Tab => {
                            f.move_sel(!chord.mods.contains(KeyModifiers::SHIFT))
                        }
                        KeyCode::Left => f.cycle(false),
                        KeyCode::Right => f.cycle(true),
                        KeyCode::Backspace => f.backspace(),
                        KeyCode::Char(c) if !chord.mods.contains(KeyModifiers::CONTROL) => {
                            f.type_char(c)
                        }
                        _ => {}
                    }
                    Some(Modal::Form(f))
                }
            }
            Modal::Suggestions { list, mut sel } => {
                let n = list.as_ref().map_or(0, |l| l.items.len());
                if esc {
                    None
                } else if enter {
                    match list.as_ref().and_then(|l| l.items.get(sel)) {
                        Some((why, yaml)) => Some(Modal::Editor {
                            text: TextArea::from(yaml.lines()),
                            source: None,
                            errors: vec![],
                            note: Some(format!(
                                "[{}] {why} — F5/Ctrl-T for the dry run",
                                list.as_ref().map_or("", |l| l.engine.as_str())
                            )),
                        }),
                        None => Some(Modal::Suggestions { list, sel }),
                    }
                } else {
                    match chord.code {
                        KeyCode::Up | KeyCode::Char('k') => sel = sel.saturating_sub(1),
                        KeyCode::Down | KeyCode::Char('j') => {
                            sel = (sel + 1).min(n.saturating_sub(1))
                        }
                        _ => {}
                    }
                    Some(Modal::Suggestions { list, sel })
                }
            }
            Modal::Picker { files, mut sel } => {
                let n = files.as_ref().map_or(0, Vec::len);
                if esc {
                    None
                } else if enter {
                    match files.as_ref().and_then(|f| f.get(sel)) {
                        Some(p) => {
                            fx.push(Effect::LoadFile(p.clone()));
                            Some(Modal::Planning(format!("reading {}", p.display())))
                        }
                        None => Some(Modal::Picker { files, sel }),
                    }
                } else {
                    match chord.code {
                        KeyCode::Up | KeyCode::Char('k') => sel = sel.saturating_sub(1),
                        KeyCode::Down | KeyCode::Char('j') => {
                            sel = (sel + 1).min(n.saturating_sub(1))
                        }
                        _ => {}
                    }
                    Some(Modal::Picker { files, sel })
                }
            }
            Modal::Preview { ready, mut scroll } => {
                if esc || chord.code == KeyCode::Char('n') {
                    None
                } else if chord.code == KeyCode::Char('e') {
                    let yaml = serde_norway::to_string(&*ready.doc).unwrap_or_default();
                    Some(Modal::Editor {
                        text: TextArea::from(yaml.lines()),
                        source: ready.source.clone(),
                        errors: vec![],
                        note: Some("Edit, then F5 (or Ctrl-T) for the dry run.".into()),
                    })
                } else if enter || chord.code == KeyCode::Char('y') {
                    if self.read_only {
                        self.toast(
                            "read-only mode: running is disabled (start without --read-only)",
                        );
                        Some(Modal::Preview { ready, scroll })
                    } else if let Some(r) = blocking_refusal(&ready) {
                        self.toast(format!("refused by {}: {}", r.0, r.1));
                        Some(Modal::Preview { ready, scroll })
                    } else {
                        let needs_ns = ready
                            .preview
                            .guardrails
                            .iter()
                            .find(|g| g.rule == "protected-namespace" && !g.passed)
                            .and_then(|_| ready.preview.plan.namespace.clone());
                        Some(Modal::Confirm {
                            ready,
                            needs_ns,
                            input: line_input("type the namespace"),
                            error: None,
                        })
                    }
                } else {
                    match chord.code {
                        KeyCode::Up | KeyCode::Char('k') => scroll = scroll.saturating_sub(1),
                        KeyCode::Down | KeyCode::Char('j') => scroll = scroll.saturating_add(1),
                        KeyCode::PageDown => scroll = scroll.saturating_add(10),
                        KeyCode::PageUp => scroll = scroll.saturating_sub(10),
                        _ => {}
                    }
                    Some(Modal::Preview { ready, scroll })
                }
            }
            Modal::Confirm {
                ready,
                needs_ns,
                mut input,
                error,
            } => {
                if esc {
                    None
                } else {
                    match needs_ns.clone() {
                        Some(ns) => {
                            if enter {
                                let typed = input.lines().join("");
                                if typed.trim() == ns {
                                    fx.push(Effect::Run {
                                        doc: ready.doc.clone(),
                                        source: ready.source.clone(),
                                        confirm_namespace: Some(ns.clone()),
                                    });
                                    None
                                } else {
                                    Some(Modal::Confirm {
                                        ready,
                                        needs_ns,
                                        input,
                                        error: Some(format!("that is not `{ns}`")),
                                    })
                                }
                            } else {
                                input.input(to_input(&k));
                                Some(Modal::Confirm {
                                    ready,
                                    needs_ns,
                                    input,
                                    error,
                                })
                            }
                        }
                        None => match chord.code {
                            KeyCode::Char('y') | KeyCode::Char('Y') => {
                                fx.push(Effect::Run {
                                    doc: ready.doc.clone(),
                                    source: ready.source.clone(),
                                    confirm_namespace: None,
                                });
                                None
                            }
                            KeyCode::Char('n') => None,
                            _ => Some(Modal::Confirm {
                                ready,
                                needs_ns,
                                input,
                                error,
                            }),
                        },
                    }
                }
            }
        };
    }

    fn run_command(&mut self, line: &str, fx: &mut Vec<Effect>) {
        let (cmd, arg) = line
            .split_once(' ')
            .map_or((line, ""), |(c, a)| (c, a.trim()));
        match cmd {
            "q" | "quit" => self.on_action(Action::Quit, fx),
            "ns" => {
                let known = self
                    .k8s
                    .as_ref()
                    .is_some_and(|t| t.namespaces.iter().any(|n| n.name == arg));
                if arg.is_empty() || arg == "all" || arg == "*" {
                    self.namespace = None;
                    self.toast("showing every namespace");
                } else if known {
                    self.namespace = Some(arg.to_string());
                    self.toast(format!("showing namespace {arg} (:ns all for every one)"));
                } else {
                    self.toast(format!("no namespace `{arg}` in this cluster"));
                    return;
                }
                self.source = Source::K8s;
                self.topo_sel = 0;
                self.topo_offset = 0;
                self.rebuild_tree();
            }
            "ctx" => {
                if arg.is_empty() || arg == self.context {
                    let others = self.contexts.join(", ");
                    self.toast(format!("context: {} (others: {others})", self.context));
                } else if !self.contexts.iter().any(|c| c == arg) {
                    self.toast(format!(
                        "no context `{arg}` in the kubeconfig (known: {})",
                        self.contexts.join(", ")
                    ));
                } else if self.open_faults > 0 || !self.live.is_empty() {
                    self.toast("faults are active here: roll them back (r or Ctrl-G) before switching context");
                } else {
                    // Reopened on the new context; the store and journal stay the same.
                    self.switch_to = Some(arg.to_string());
                    self.should_exit = true;
                }
            }
            "theme" => match super::theme::Theme::load(arg, self.theme_dir.as_deref(), self.tier) {
                Ok(t) if !self.no_color => {
                    self.theme = t;
                    self.toast(format!("theme {arg}"));
                }
                Ok(_) => self.toast("NO_COLOR is set: staying on the mono theme"),
                Err(e) => self.toast(e.to_string()),
            },
            "run" | "open" => {
                if arg.is_empty() {
                    self.toast(":run FILE");
                } else {
                    self.modal = Some(Modal::Planning(format!("reading {arg}")));
                    fx.push(Effect::LoadFile(PathBuf::from(arg)));
                }
            }
            "reset" => fx.push(Effect::Reset),
            "" => {}
            other => self.toast(format!(
                "unknown command `:{other}` (try :ctx, :ns, :theme, :run, :reset, :q)"
            )),
        }
    }

    fn on_run_event(&mut self, ev: RunEvent, fx: &mut Vec<Effect>) {
        match ev {
            RunEvent::Planned { .. } => self.dirty = false,
            RunEvent::PhaseChanged { id, phase, at } => {
                match self.experiments.iter_mut().find(|e| e.id == id) {
                    Some(e) => {
                        e.phase = Some(phase);
                        e.status = Status::Running;
                        e.started_at.get_or_insert(at);
                    }
                    None => fx.push(Effect::LoadExperiments),
                }
                if let Some(d) = self.detail.as_mut().filter(|d| d.id == id) {
                    d.events.push(PhaseEvent {
                        at,
                        phase: Some(phase),
                        status: Status::Running,
                        message: format!("{phase} began"),
                    });
                }
                self.now_ms = self.now_ms.max(at);
            }
            RunEvent::Journal { entry } => {
                if let Some(s) = &mut self.stopping {
                    match entry.state {
                        crate::safety::journal::JournalState::Reverted => s.reverted += 1,
                        crate::safety::journal::JournalState::Failed => s.failed += 1,
                        _ => {}
                    }
                }
                if let Some(d) = self.detail.as_mut().filter(|d| d.id == entry.experiment_id) {
                    upsert(&mut d.journal, *entry);
                }
            }
            RunEvent::ProbeSample { id, sample } => {
                if let Some(d) = self.detail.as_mut().filter(|d| d.id == id) {
                    if d.samples.len() >= MAX_UI_SAMPLES {
                        d.samples.remove(0);
                    }
                    d.samples.push(sample);
                } else {
                    self.dirty = false;
                }
            }
            RunEvent::RollbackRetry {
                seq,
                attempts,
                error,
                ..
            } => self.toast(format!(
                "rollback step #{seq} attempt {attempts} failed, retrying: {error}"
            )),
            RunEvent::Message { text, .. } => self.toast(text),
            RunEvent::Finished {
                id,
                status,
                verdict,
            } => {
                self.live.remove(&id);
                if let Some(e) = self.experiments.iter_mut().find(|e| e.id == id) {
                    e.status = status;
                    e.verdict = verdict;
                }
                fx.push(Effect::LoadExperiments);
                if self.selected_experiment().is_some_and(|e| e.id == id) {
                    fx.push(Effect::LoadDetail(id));
                }
            }
        }
    }

    /// The namespace a sentence that names none most likely means: the only namespace holding a
    /// workload it names, else the selected target's namespace or the `:ns` scope.
    pub fn namespace_hint(&self, text: &str) -> Option<String> {
        let lower = text.to_lowercase();
        if lower.contains("namespace") || lower.contains("네임스페이스") || lower.contains(" ns ")
        {
            return None;
        }
        let t = self.k8s.as_ref()?;
        let words: HashSet<&str> = lower
            .split(|c: char| !(c.is_alphanumeric() || c == '-'))
            .filter(|w| !w.is_empty())
            .collect();
        let named: HashSet<&str> = t
            .namespaces
            .iter()
            .filter(|n| n.workloads.iter().any(|w| words.contains(w.name.as_str())))
            .map(|n| n.name.as_str())
            .collect();
        if named.len() == 1 {
            return named.into_iter().next().map(str::to_string);
        }
        let selected = self.selected_row().and_then(|r| match &r.target {
            TargetHint::Namespace(ns) => Some(ns.clone()),
            TargetHint::Workload { ns, .. } | TargetHint::Pod { ns, .. } => Some(ns.clone()),
            _ => None,
        });
        selected.or_else(|| self.namespace.clone())
    }

    /// Adds the offline steady-state review of the planned pods and, when the document has no
    /// hypothesis, one written from the topology around them.
    fn review_preview(&self, ready: &mut PreviewReady) {
        use crate::ai::{hypothesis, review};
        let crate::domain::Target::Pods(t) = &ready.doc.spec.target else {
            return;
        };
        let Some(topo) = &self.k8s else { return };
        let pods: Vec<String> = ready
            .preview
            .plan
            .targets
            .iter()
            .filter(|r| r.kind == "pod")
            .map(|r| {
                r.name
                    .split_once('/')
                    .map_or(r.name.clone(), |(_, n)| n.to_string())
            })
            .collect();
        let ctx = review::context_from_topology(topo, &t.namespace, &pods);
        ready.review = Some(review::offline(&ready.doc, &ctx, &[]));
        if ready
            .doc
            .spec
            .hypothesis
            .as_deref()
            .is_none_or(|h| h.trim().is_empty())
        {
            let spec = &ready.doc.spec;
            let h = hypothesis::with_surroundings(
                ready.doc.fault_kind(),
                &spec.target,
                &spec.fault,
                spec.duration,
                &hypothesis::Surroundings::from_context(&ctx),
            );
            ready.doc.spec.hypothesis = Some(h);
            ready
                .notes
                .push("hypothesis written by the offline engine from the topology around the targets (e to edit)".into());
        }
    }

    fn rebuild_tree(&mut self) {
        let keep = self.selected_row().map(|r| r.id.clone());
        self.roots = match self.source {
            Source::K8s => self
                .k8s
                .as_ref()
                .map(|t| tree::k8s_tree(t, &self.context, self.namespace.as_deref()))
                .into_iter()
                .collect(),
            Source::Aws => self
                .aws
                .as_ref()
                .map(|t| tree::aws_tree(t))
                .into_iter()
                .collect(),
        };
        if !self.expanded_init.contains(&self.source) && !self.roots.is_empty() {
            self.expanded_init.insert(self.source);
            for r in &self.roots {
                tree::default_expanded(r, &mut self.expanded);
            }
        }
        self.rows = tree::flatten(&self.roots, &self.expanded, &self.filter);
        if let Some(id) = keep
            && let Some(i) = self.rows.iter().position(|r| r.id == id)
        {
            self.topo_sel = i;
        }
        self.clamp_topology();
    }

    fn toggle_expand(&mut self, open: Option<bool>) {
        let Some(row) = self.selected_row().cloned() else {
            return;
        };
        if !self.filter.is_empty() {
            return; // a filtered tree shows every match expanded
        }
        let want = open.unwrap_or(!row.expanded);
        if want && row.expandable && !row.expanded {
            self.expanded.insert(row.id);
        } else if !want && row.expanded {
            self.expanded.remove(&row.id);
        } else if !want {
            // Collapse on a leaf goes to its parent.
            if let Some(p) = (0..self.topo_sel)
                .rev()
                .find(|&i| self.rows[i].depth < row.depth)
            {
                self.topo_sel = p;
            }
        } else {
            return;
        }
        self.rebuild_tree();
    }

    fn clamp_topology(&mut self) {
        let n = self.rows.len();
        self.topo_sel = self.topo_sel.min(n.saturating_sub(1));
        let h = layout::topology_rows(self.size, self.focus).max(1);
        if self.topo_sel < self.topo_offset {
            self.topo_offset = self.topo_sel;
        } else if self.topo_sel >= self.topo_offset + h {
            self.topo_offset = self.topo_sel + 1 - h;
        }
        self.topo_offset = self.topo_offset.min(n.saturating_sub(1));
    }
}

fn upsert(journal: &mut Vec<JournalEntry>, e: JournalEntry) {
    match journal.iter_mut().find(|j| j.seq == e.seq) {
        Some(j) => *j = e,
        None => {
            journal.push(e);
            journal.sort_by_key(|j| j.seq);
        }
    }
}

/// A guardrail refusal that typing the namespace cannot lift.
fn blocking_refusal(r: &PreviewReady) -> Option<(&'static str, String)> {
    r.preview
        .guardrails
        .iter()
        .find(|g| !g.passed && g.rule != "protected-namespace")
        .map(|g| (g.rule, g.message.clone()))
}

/// The phases in order.
pub const PHASES: [Phase; 5] = [
    Phase::SteadyState,
    Phase::Hypothesis,
    Phase::Inject,
    Phase::Observe,
    Phase::Rollback,
];
