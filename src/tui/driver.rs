//! Executes the UI's effects on tasks (never on the UI task) and sends results back as
//! messages. Read-only mode is enforced here, in one place.

use super::msg::{Detail, Effect, Msg, NlOutcome, PreviewReady};
use crate::ai::assistant::{self, Engine, NlResult};
use crate::config::Config;
use crate::engine::runner::{self, RunOutcome, RunRequest};
use crate::engine::supervisor::Supervisor;
use crate::safety::emergency::StopReason;
use crate::store::records::Analysis;
use crate::store::{Store, now_ms};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{Notify, mpsc};

/// Largest experiment file the dashboard opens.
const MAX_FILE: u64 = 1 << 20;

/// The effect executor.
#[derive(Clone)]
pub struct Driver {
    sup: Arc<Supervisor>,
    store: Store,
    config: Arc<Config>,
    tx: mpsc::Sender<Msg>,
    read_only: bool,
    dirs: Vec<PathBuf>,
    safety: Arc<Notify>,
}

impl Driver {
    /// A driver; `dirs` are searched for experiment files.
    pub fn new(
        sup: Arc<Supervisor>,
        config: Arc<Config>,
        tx: mpsc::Sender<Msg>,
        read_only: bool,
        dirs: Vec<PathBuf>,
    ) -> Driver {
        let store = sup.context().store.clone();
        let d = Driver {
            sup,
            store,
            config,
            tx,
            read_only,
            dirs,
            safety: Arc::new(Notify::new()),
        };
        tokio::spawn(d.clone().safety_loop());
        d
    }

    /// Asks for a fresh count of open journal entries and the latch (coalesced).
    pub fn refresh_safety(&self) {
        self.safety.notify_one();
    }

    async fn safety_loop(self) {
        loop {
            self.safety.notified().await;
            let s = self.store.clone();
            let r = tokio::task::spawn_blocking(move || {
                Ok::<_, crate::store::StoreError>((s.open_journal_count()?, s.emergency_latch()?))
            })
            .await;
            if let Ok(Ok((open, latched))) = r
                && self
                    .tx
                    .send(Msg::SafetyState { open, latched })
                    .await
                    .is_err()
            {
                return;
            }
            // Coalesce bursts (a rollback writes many entries).
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    fn send(&self, m: Msg) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(m).await;
        });
    }

    /// Executes one effect in the background.
    pub fn handle(&self, e: Effect) {
        if self.read_only && e.is_mutating() {
            self.send(Msg::Toast(
                "read-only mode: nothing that changes the cluster or account can run".into(),
            ));
            return;
        }
        let d = self.clone();
        match e {
            Effect::LoadExperiments => {
                tokio::spawn(async move { d.load_experiments().await });
            }
            Effect::LoadDetail(id) => {
                tokio::spawn(async move { d.load_detail(id).await });
            }
            Effect::Preview { doc, source } => {
                tokio::spawn(async move {
                    let req = RunRequest {
                        doc: (*doc).clone(),
                        source: source.clone(),
                        confirm_namespace: None,
                    };
                    let r = runner::preview(d.sup.context(), "dry-run", &req)
                        .await
                        .map(|p| PreviewReady {
                            doc,
                            source,
                            preview: Box::new(p),
                            review: None,
                            notes: Vec::new(),
                        })
                        .map_err(|e| e.to_string());
                    let _ = d.tx.send(Msg::Preview(r)).await;
                });
            }
            Effect::Run {
                doc,
                source,
                confirm_namespace,
            } => {
                let id = runner::new_id();
                let _ = self.tx.try_send(Msg::RunStarted(id.clone()));
                tokio::spawn(async move {
                    let req = RunRequest {
                        doc: *doc,
                        source,
                        confirm_namespace,
                    };
                    let msg = match d.sup.run_with_id(id, req).await {
                        Err(e) => Some(Msg::RunFailed(format!("run failed: {e}"))),
                        Ok(RunOutcome::Refused { record, .. }) => Some(Msg::RunFailed(format!(
                            "refused, nothing changed: {}",
                            record.error.unwrap_or_default()
                        ))),
                        Ok(RunOutcome::Finished { .. }) => None,
                    };
                    if let Some(m) = msg {
                        let _ = d.tx.send(m).await;
                    }
                    d.refresh_safety();
                });
            }
            Effect::Rollback(id) => {
                tokio::spawn(async move {
                    let text = if d
                        .sup
                        .stop(&id, StopReason::Operator("dashboard rollback key".into()))
                    {
                        "rollback requested: the run reverts its faults now".to_string()
                    } else {
                        match d.sup.recover().await {
                            Ok(r) if r.experiments.is_empty() => {
                                "nothing to roll back: no open journal entries".to_string()
                            }
                            Ok(r) => format!(
                                "rolled back {} experiment(s) left open",
                                r.experiments.len()
                            ),
                            Err(e) => format!("rollback failed: {e}"),
                        }
                    };
                    let _ = d.tx.send(Msg::Toast(text)).await;
                    d.refresh_safety();
                    d.load_experiments().await;
                });
            }
            Effect::EmergencyStop => {
                tokio::spawn(async move {
                    tracing::warn!("emergency stop from the dashboard");
                    let r = d
                        .sup
                        .emergency_stop("dashboard")
                        .await
                        .map(|rep| (rep.stopped.len() + rep.recovered.len(), rep.still_open))
                        .map_err(|e| e.to_string());
                    d.refresh_safety();
                    let _ = d.tx.send(Msg::StopDone(r)).await;
                });
            }
            Effect::Reset => {
                tokio::spawn(async move {
                    let text = match d.sup.reset().await {
                        Ok(()) => "emergency-stop latch cleared: runs are allowed again".into(),
                        Err(e) => format!("reset failed: {e}"),
                    };
                    let _ = d.tx.send(Msg::Toast(text)).await;
                    d.refresh_safety();
                });
            }
            Effect::Analyze(id) => {
                tokio::spawn(async move { d.analyze(id).await });
            }
            Effect::Suggest(ns) => {
                tokio::spawn(async move { d.suggest(ns).await });
            }
            Effect::Nl(text) => {
                tokio::spawn(async move { d.nl(text).await });
            }
            Effect::ListFiles => {
                tokio::spawn(async move {
                    let dirs = d.dirs.clone();
                    let files = tokio::task::spawn_blocking(move || list_files(&dirs))
                        .await
                        .unwrap_or_default();
                    let _ = d.tx.send(Msg::Files(files)).await;
                });
            }
            Effect::LoadFile(p) => {
                tokio::spawn(async move {
                    let p2 = p.clone();
                    let r = tokio::task::spawn_blocking(move || read_file(&p2))
                        .await
                        .unwrap_or_else(|e| Err(e.to_string()));
                    let _ = d.tx.send(Msg::FileLoaded(r.map(|t| (p, t)))).await;
                });
            }
            Effect::Shutdown(reason) => {
                tokio::spawn(async move {
                    tracing::warn!(%reason, "dashboard shutting down: rolling back every run");
                    d.sup.stop_all(StopReason::Signal(reason));
                    d.sup.wait_idle().await;
                    if let Err(e) = d.sup.recover().await {
                        tracing::error!(error = %e, "recovery before exit failed");
                    }
                    let _ = d.tx.send(Msg::ShutdownDone).await;
                });
            }
        }
    }

    async fn load_experiments(&self) {
        let s = self.store.clone();
        if let Ok(Ok(mut list)) = tokio::task::spawn_blocking(move || s.experiments()).await {
            list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
            let _ = self.tx.send(Msg::Experiments(list)).await;
        }
        self.refresh_safety();
    }

    async fn load_detail(&self, id: String) {
        let s = self.store.clone();
        let r = tokio::task::spawn_blocking(move || {
            Ok::<_, crate::store::StoreError>(Detail {
                events: s.events(&id)?,
                samples: s.samples(&id)?,
                journal: s.journal(&id)?,
                analyses: s.analyses(&id)?,
                id,
            })
        })
        .await;
        match r {
            Ok(Ok(d)) => {
                let _ = self.tx.send(Msg::Detail(Box::new(d))).await;
            }
            Ok(Err(e)) => {
                let _ = self
                    .tx
                    .send(Msg::Toast(format!("cannot read the experiment: {e}")))
                    .await;
            }
            Err(_) => {}
        }
    }

    fn engine(&self) -> Engine {
        assistant::select(&self.config.ai, false).unwrap_or_else(|why| Engine::Offline { why })
    }

    /// Forwards streamed text of an answer to the UI as `AiChunk`s.
    fn stream_to(
        &self,
        id: String,
    ) -> (
        mpsc::Sender<crate::ai::llm::StreamEvent>,
        tokio::task::JoinHandle<()>,
    ) {
        let (stx, mut srx) = mpsc::channel(256);
        let tx = self.tx.clone();
        let h = tokio::spawn(async move {
            while let Some(ev) = srx.recv().await {
                if let crate::ai::llm::StreamEvent::Text(text) = ev
                    && tx
                        .send(Msg::AiChunk {
                            id: id.clone(),
                            text,
                        })
                        .await
                        .is_err()
                {
                    return;
                }
            }
        });
        (stx, h)
    }

    async fn analyze(&self, id: String) {
        let s = self.store.clone();
        let id2 = id.clone();
        let ev =
            match tokio::task::spawn_blocking(move || crate::ai::evidence::load(&s, &id2)).await {
                Ok(Ok((ev, _))) => ev,
                Ok(Err(e)) => {
                    let _ = self
                        .tx
                        .send(Msg::AiFailed {
                            id,
                            error: e.to_string(),
                        })
                        .await;
                    return;
                }
                Err(_) => return,
            };
        let engine = self.engine();
        let (stx, fwd) = self.stream_to(id.clone());
        let a = assistant::analyze(&engine, &ev, &self.config, Some(&stx)).await;
        drop(stx);
        let _ = fwd.await;
        let mut text = a.result.markdown.clone();
        if let Some(n) = &a.note {
            text = format!("({n})\n\n{text}");
        }
        let rec = Analysis {
            at: now_ms(),
            engine: a.engine.clone(),
            text,
        };
        let s = self.store.clone();
        let (rid, r2) = (id.clone(), rec.clone());
        let stored = tokio::task::spawn_blocking(move || s.append_analysis(&rid, &r2)).await;
        if let Ok(Err(e)) = stored {
            tracing::warn!(error = %e, "analysis not stored");
        }
        let _ = self.tx.send(Msg::AiDone { id, analysis: rec }).await;
    }

    async fn suggest(&self, ns: Option<String>) {
        let s = self.store.clone();
        let recs = tokio::task::spawn_blocking(move || s.experiments())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let engine = self.engine();
        let a = assistant::suggestions(&engine, &recs, ns.as_deref(), &self.config).await;
        let mut label = a.engine.clone();
        if let Some(n) = &a.note {
            label.push_str(&format!(" ({n})"));
        }
        let list = super::msg::SuggestionList {
            engine: label,
            items: a
                .result
                .items
                .iter()
                .map(|(why, v)| (why.clone(), v.yaml.clone()))
                .collect(),
            trends: a
                .result
                .trends
                .iter()
                .map(|t| {
                    format!(
                        "{}: {} experiment(s), mean {}{}",
                        t.scope,
                        t.points.len(),
                        t.mean.map_or("-".into(), |m| format!("{m:.0}")),
                        t.change
                            .map(|c| format!(", change {c:+.0} (newer half vs older half)"))
                            .unwrap_or_default()
                    )
                })
                .collect(),
        };
        let _ = self.tx.send(Msg::Suggestions(list)).await;
    }

    async fn nl(&self, text: String) {
        let engine = self.engine();
        let a = assistant::nl(&engine, &text, &self.config, None).await;
        let out = match a.result {
            NlResult::Proposal {
                vetted,
                explanation,
            } => {
                let mut explanation = explanation;
                for n in &vetted.notes {
                    explanation.push_str(&format!(" {n}"));
                }
                NlOutcome::Proposal {
                    yaml: vetted.yaml.clone(),
                    explanation,
                    engine: a.engine,
                }
            }
            NlResult::Clarify { message } => NlOutcome::Message {
                text: message,
                engine: a.engine,
            },
            NlResult::Refused {
                refused,
                explanation,
            } => NlOutcome::Message {
                text: format!(
                    "refused: {}. {explanation}",
                    refused
                        .refusals
                        .iter()
                        .map(|r| format!("[{}] {}", r.rule, r.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                engine: a.engine,
            },
        };
        let _ = self.tx.send(Msg::Nl(out)).await;
    }
}

/// `*.yaml` and `*.yml` files in the folders, sorted.
pub fn list_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_file() && matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out.truncate(1000);
    out
}

fn read_file(p: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(p).map_err(|e| format!("cannot open {}: {e}", p.display()))?;
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{} is {} bytes; experiment files are at most 1 MiB",
            p.display(),
            meta.len()
        ));
    }
    std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}
