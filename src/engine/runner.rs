//! The runner: drives the lifecycle machine, executing each command against the engines, the
//! journal and the probes, and turning stops, timeouts and failures into inputs.

use super::events::{EventSink, RunEvent};
use super::lifecycle::{self, Command, Ending, Input, State};
use super::plan::Plan;
use super::{EngineError, Engines, PlanContext};
use crate::config::Config;
use crate::domain::{ExperimentDoc, Phase, ProbeMode, ProbeSpec, Status, Verdict};
use crate::probe;
use crate::safety::emergency::StopReason;
use crate::safety::failpoint;
use crate::safety::guardrails::{self, GuardContext, RuleVerdict};
use crate::safety::journal::{JournalEntry, JournalState};
use crate::safety::rollback::{persist, rollback};
use crate::store::records::{ExperimentRecord, PhaseEvent};
use crate::store::{Store, StoreError, now_ms};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What the runner needs.
#[derive(Clone)]
pub struct RunContext {
    /// The store.
    pub store: Store,
    /// The engines.
    pub engines: Engines,
    /// Policy.
    pub config: Arc<Config>,
    /// Where events go.
    pub events: EventSink,
}

/// A request to run (or preview) an experiment.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// The document.
    pub doc: ExperimentDoc,
    /// The file it came from.
    pub source: Option<String>,
    /// `--confirm-namespace`.
    pub confirm_namespace: Option<String>,
}

/// Failures that stop a run before it starts or that the store causes.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Planning failed; nothing was changed.
    #[error("planning failed, nothing was changed: {0}")]
    Plan(#[from] EngineError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A dry run: the plan and every guardrail verdict.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Preview {
    /// What would be done.
    pub plan: Plan,
    /// Each rule's verdict.
    pub guardrails: Vec<RuleVerdict>,
}

/// How a run ended.
#[derive(Clone, Debug)]
pub enum RunOutcome {
    /// A guardrail refused; nothing was changed.
    Refused {
        /// The stored record (status failed).
        record: Box<ExperimentRecord>,
        /// Each rule's verdict.
        guardrails: Vec<RuleVerdict>,
    },
    /// The run went through its lifecycle.
    Finished {
        /// The final record.
        record: Box<ExperimentRecord>,
        /// Its journal.
        journal: Vec<JournalEntry>,
    },
}

async fn blocking<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let s = store.clone();
    tokio::task::spawn_blocking(move || f(&s))
        .await
        .map_err(|e| StoreError::Db(format!("store task failed: {e}")))?
}

/// A new time-ordered experiment id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Plans and checks guardrails without changing anything.
pub async fn preview(ctx: &RunContext, id: &str, req: &RunRequest) -> Result<Preview, RunError> {
    let backend = ctx.engines.for_fault(req.doc.fault_kind())?;
    let plan = backend
        .plan(
            &req.doc,
            &PlanContext {
                experiment_id: id.to_string(),
            },
        )
        .await?;
    let (active, latched) = blocking(&ctx.store, |s| {
        Ok((s.open_journal()?.len(), s.emergency_latch()?))
    })
    .await?;
    let gctx = GuardContext {
        confirm_namespace: req.confirm_namespace.as_deref(),
        active_faults: active,
        latched,
    };
    let verdicts = guardrails::check(&req.doc, &plan, &ctx.config, &gctx);
    Ok(Preview {
        plan,
        guardrails: verdicts,
    })
}

/// Runs an experiment to its end. `stop` delivers early-stop reasons (emergency stop, signals).
pub async fn execute(
    ctx: &RunContext,
    id: String,
    req: RunRequest,
    stop: watch::Receiver<Option<StopReason>>,
) -> Result<RunOutcome, RunError> {
    let Preview {
        plan,
        guardrails: verdicts,
    } = preview(ctx, &id, &req).await?;
    ctx.events.emit(RunEvent::Planned {
        id: id.clone(),
        plan: Box::new(plan.clone()),
    });
    let mut rec = ExperimentRecord {
        id: id.clone(),
        name: req.doc.metadata.name.clone(),
        fault: req.doc.fault_kind(),
        target: req.doc.spec.target.summary(),
        doc: req.doc.clone(),
        source: req.source.clone(),
        status: Status::Pending,
        phase: None,
        verdict: None,
        error: None,
        abort_reason: None,
        plan: Some(plan.clone()),
        created_at: now_ms(),
        started_at: None,
        finished_at: None,
        pid: std::process::id(),
    };
    if let Some(r) = guardrails::first_refusal(&verdicts) {
        rec.status = Status::Failed;
        rec.error = Some(format!("refused by guardrail {}: {}", r.rule, r.message));
        rec.finished_at = Some(now_ms());
        let r2 = rec.clone();
        blocking(&ctx.store, move |s| s.put_experiment(&r2)).await?;
        return Ok(RunOutcome::Refused {
            record: Box::new(rec),
            guardrails: verdicts,
        });
    }
    let r2 = rec.clone();
    blocking(&ctx.store, move |s| s.put_experiment(&r2)).await?;
    failpoint::hit("after-plan");
    let mut run = Run {
        ctx: ctx.clone(),
        rec,
        plan,
        stop,
        deadline: Instant::now() + req.doc.spec.effective_timeout(),
        probes_all: CancellationToken::new(),
        probes_chaos: CancellationToken::new(),
        abort_tx: None,
        abort_rx: None,
        verdict: None,
        ending: Ending::Normal,
        phase: watch::Sender::new(Phase::SteadyState),
    };
    let (tx, rx) = mpsc::channel(16);
    run.abort_tx = Some(tx);
    run.abort_rx = Some(rx);
    let result = run.drive().await;
    run.probes_all.cancel();
    run.probes_chaos.cancel();
    result?;
    let idc = id.clone();
    let journal = blocking(&ctx.store, move |s| s.journal(&idc)).await?;
    Ok(RunOutcome::Finished {
        record: Box::new(run.rec),
        journal,
    })
}

struct Run {
    ctx: RunContext,
    rec: ExperimentRecord,
    plan: Plan,
    stop: watch::Receiver<Option<StopReason>>,
    deadline: Instant,
    probes_all: CancellationToken,
    probes_chaos: CancellationToken,
    abort_tx: Option<mpsc::Sender<String>>,
    abort_rx: Option<mpsc::Receiver<String>>,
    verdict: Option<Verdict>,
    ending: Ending,
    phase: watch::Sender<Phase>,
}

impl Run {
    fn id(&self) -> String {
        self.rec.id.clone()
    }

    fn probes(&self) -> &[ProbeSpec] {
        &self.rec.doc.spec.probes
    }

    /// A stop already requested, or the deadline passed.
    fn pending_stop(&self) -> Option<StopReason> {
        if let Some(r) = self.stop.borrow().clone() {
            return Some(r);
        }
        if Instant::now() >= self.deadline {
            return Some(self.timeout_reason());
        }
        None
    }

    fn timeout_reason(&self) -> StopReason {
        StopReason::Timeout(
            humantime::format_duration(self.rec.doc.spec.effective_timeout()).to_string(),
        )
    }

    async fn save(&self) -> Result<(), StoreError> {
        let r = self.rec.clone();
        blocking(&self.ctx.store, move |s| s.put_experiment(&r)).await
    }

    async fn event(&self, phase: Option<Phase>, message: String) -> Result<(), StoreError> {
        let id = self.id();
        let ev = PhaseEvent {
            at: now_ms(),
            phase,
            status: self.rec.status,
            message: message.clone(),
        };
        blocking(&self.ctx.store, move |s| s.append_event(&id, &ev)).await?;
        self.ctx.events.emit(RunEvent::Message {
            id: self.id(),
            text: message,
        });
        Ok(())
    }

    async fn drive(&mut self) -> Result<(), RunError> {
        let mut state = State::Pending;
        let mut queue: VecDeque<Input> = VecDeque::from([Input::Start]);
        while let Some(input) = queue.pop_front() {
            if let Input::Stop(r) = &input
                && let State::RollingBack(_) | State::In(_) = state
            {
                tracing::info!(experiment = %self.rec.id, reason = %r, "stopping early");
            }
            let (next, cmds) = lifecycle::step(&state, input);
            state = next;
            if let State::RollingBack(e) | State::Verifying(e, _) = &state {
                self.ending = e.clone();
            }
            for c in cmds {
                if let Some(i) = self.exec(c).await? {
                    queue.push_back(i);
                }
            }
            // A stop that arrived while rolling back upgrades the outcome (emergency stop).
            if let State::RollingBack(e) = &state
                && !matches!(e, Ending::Stopped(StopReason::EmergencyStop(_)))
                && let Some(r @ StopReason::EmergencyStop(_)) = self.stop.borrow().clone()
            {
                queue.push_front(Input::Stop(r));
            }
        }
        Ok(())
    }

    async fn exec(&mut self, c: Command) -> Result<Option<Input>, RunError> {
        match c {
            Command::EnterPhase(p) => {
                self.rec.phase = Some(p);
                self.phase.send_replace(p);
                self.rec.status = Status::Running;
                if self.rec.started_at.is_none() {
                    self.rec.started_at = Some(now_ms());
                }
                self.save().await?;
                let id = self.id();
                let ev = PhaseEvent {
                    at: now_ms(),
                    phase: Some(p),
                    status: Status::Running,
                    message: format!("entered {p}"),
                };
                blocking(&self.ctx.store, move |s| s.append_event(&id, &ev)).await?;
                self.ctx.events.emit(RunEvent::PhaseChanged {
                    id: self.id(),
                    phase: p,
                    at: now_ms(),
                });
                Ok(None)
            }
            Command::CheckSteadyState => Ok(Some(self.steady_state().await?)),
            Command::RecordHypothesis => {
                let h = self
                    .rec
                    .doc
                    .spec
                    .hypothesis
                    .clone()
                    .unwrap_or_else(|| "(no hypothesis written)".into());
                self.event(Some(Phase::Hypothesis), format!("hypothesis: {h}"))
                    .await?;
                Ok(Some(match self.pending_stop() {
                    Some(r) => Input::Stop(r),
                    None => Input::HypothesisRecorded,
                }))
            }
            Command::Inject => Ok(Some(self.inject().await?)),
            Command::Observe => Ok(Some(self.observe().await)),
            Command::Rollback => {
                self.probes_chaos.cancel();
                let id = self.id();
                let entries = blocking(&self.ctx.store, move |s| s.journal(&id)).await?;
                let open: Vec<JournalEntry> =
                    entries.into_iter().filter(|e| e.state.is_open()).collect();
                let sum = rollback(
                    &self.ctx.store,
                    &self.ctx.engines,
                    open,
                    &self.ctx.config.rollback,
                    &self.ctx.events,
                )
                .await;
                self.event(
                    Some(Phase::Rollback),
                    format!(
                        "rollback: {} step(s) reverted, {} failed",
                        sum.reverted, sum.failed
                    ),
                )
                .await?;
                Ok(Some(Input::RolledBack { failed: sum.failed }))
            }
            Command::Verify => {
                if !matches!(self.ending, Ending::SteadyStateFailed(_)) {
                    for p in self
                        .probes()
                        .iter()
                        .filter(|p| p.runs_at_end())
                        .cloned()
                        .collect::<Vec<_>>()
                    {
                        self.record_sample(probe::sample(&p, Phase::Rollback).await)
                            .await?;
                    }
                }
                self.probes_all.cancel();
                let id = self.id();
                let (samples, journal) = blocking(&self.ctx.store, move |s| {
                    Ok((s.samples(&id)?, s.journal(&id)?))
                })
                .await?;
                let tally = lifecycle::RollbackTally {
                    reverted: journal
                        .iter()
                        .filter(|e| e.state == JournalState::Reverted)
                        .count(),
                    steps: journal.len(),
                };
                self.verdict = Some(lifecycle::verdict(
                    &self.ending,
                    self.probes(),
                    &samples,
                    tally,
                ));
                Ok(Some(Input::Verified))
            }
            Command::Finish {
                status,
                abort_reason,
                error,
            } => {
                self.rec.status = status;
                self.rec.abort_reason = abort_reason;
                self.rec.error = error;
                self.rec.verdict = self.verdict.clone();
                self.rec.finished_at = Some(now_ms());
                failpoint::hit("before-finish");
                self.save().await?;
                crate::metrics::metrics()
                    .experiment_finished(self.rec.fault.as_str(), status.as_str());
                let v = self
                    .rec
                    .verdict
                    .as_ref()
                    .map_or("none".to_string(), |v| v.kind.to_string());
                self.event(None, format!("finished: {status}, hypothesis {v}"))
                    .await?;
                self.ctx.events.emit(RunEvent::Finished {
                    id: self.id(),
                    status,
                    verdict: self.rec.verdict.clone(),
                });
                Ok(None)
            }
        }
    }

    async fn record_sample(&self, s: crate::store::records::ProbeSample) -> Result<(), StoreError> {
        record_sample(&self.ctx, &self.rec.id, s).await
    }

    async fn steady_state(&mut self) -> Result<Input, RunError> {
        self.start_periodic(ProbeMode::Continuous, self.probes_all.clone());
        let mut broken = Vec::new();
        for p in self
            .probes()
            .iter()
            .filter(|p| p.runs_at_start())
            .cloned()
            .collect::<Vec<_>>()
        {
            if let Some(r) = self.pending_stop() {
                return Ok(Input::Stop(r));
            }
            let s = probe::sample(&p, Phase::SteadyState).await;
            if !s.passed && !s.skipped {
                broken.push(format!(
                    "{}: {}",
                    p.name,
                    s.error.clone().unwrap_or_default()
                ));
            }
            self.record_sample(s).await?;
        }
        if let Some(r) = self.pending_stop() {
            return Ok(Input::Stop(r));
        }
        Ok(if broken.is_empty() {
            Input::SteadyStateHeld
        } else {
            Input::SteadyStateBroken(broken.join("; "))
        })
    }

    async fn inject(&mut self) -> Result<Input, RunError> {
        let duration = self.rec.doc.spec.duration.get();
        let expires = now_ms() + i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        let backend = self.ctx.engines.for_fault(self.rec.fault)?;
        for (i, step) in self.plan.steps.clone().into_iter().enumerate() {
            // Between steps (never inside one), a stop ends injection; rollback undoes the rest.
            if let Some(r) = self.pending_stop() {
                return Ok(Input::Stop(r));
            }
            let seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let mut step = step;
            backend.stamp(&mut step.undo, now_ms());
            let mut entry = JournalEntry::intent(
                &self.rec.id,
                Some(self.rec.fault),
                seq,
                &step,
                now_ms(),
                Some(expires),
            );
            entry.scope = backend.scope();
            persist(&self.ctx.store, &entry).await?;
            self.ctx.events.emit(RunEvent::Journal {
                entry: Box::new(entry.clone()),
            });
            failpoint::hit("after-intent");
            let applied = backend.apply(&step).await;
            crate::metrics::metrics().injection(self.rec.fault.as_str(), applied.is_ok());
            match applied {
                Ok(()) => {
                    entry.state = JournalState::Applied;
                    entry.updated_at = now_ms();
                    persist(&self.ctx.store, &entry).await?;
                    self.ctx.events.emit(RunEvent::Journal {
                        entry: Box::new(entry),
                    });
                    failpoint::hit("after-apply");
                }
                Err(e) => {
                    // The entry stays `intent`: its undo is idempotent, so rollback covers a
                    // mutation that half-happened.
                    entry.error = Some(e.to_string());
                    entry.updated_at = now_ms();
                    persist(&self.ctx.store, &entry).await?;
                    return Ok(Input::InjectFailed(format!("{}: {e}", step.target)));
                }
            }
        }
        self.start_periodic(ProbeMode::OnChaos, self.probes_chaos.clone());
        Ok(Input::Injected)
    }

    async fn observe(&mut self) -> Input {
        failpoint::hit("mid-observe");
        let end = (Instant::now() + self.rec.doc.spec.duration.get()).min(self.deadline);
        let timed_out = end >= self.deadline;
        let mut abort_rx = self.abort_rx.take();
        let input = loop {
            if let Some(r) = self.stop.borrow_and_update().clone() {
                break Input::Stop(r);
            }
            tokio::select! {
                _ = tokio::time::sleep_until(end) => {
                    break if timed_out { Input::Stop(self.timeout_reason()) } else { Input::ObserveElapsed };
                }
                changed = self.stop.changed() => {
                    if changed.is_err() {
                        // The supervisor is gone: treat as lost operator.
                        break Input::Stop(StopReason::OperatorLost);
                    }
                }
                Some(name) = async { match abort_rx.as_mut() { Some(rx) => rx.recv().await, None => None } } => {
                    break Input::Stop(StopReason::ProbeFailed(name));
                }
            }
        };
        self.abort_rx = abort_rx;
        input
    }

    fn start_periodic(&self, mode: ProbeMode, token: CancellationToken) {
        for p in self.probes().iter().filter(|p| p.mode == mode).cloned() {
            let ctx = self.ctx.clone();
            let id = self.rec.id.clone();
            let token = token.clone();
            let abort = self.abort_tx.clone();
            let phase = self.phase.subscribe();
            tokio::spawn(async move { periodic(ctx, id, p, token, abort, phase).await });
        }
    }
}

async fn record_sample(
    ctx: &RunContext,
    id: &str,
    s: crate::store::records::ProbeSample,
) -> Result<(), StoreError> {
    let result = if s.skipped {
        "unevaluated"
    } else if s.passed {
        "pass"
    } else {
        "fail"
    };
    crate::metrics::metrics().probe_sample(&s.kind, result);
    let (idc, sc) = (id.to_string(), s.clone());
    blocking(&ctx.store, move |st| {
        st.append_samples(&idc, std::slice::from_ref(&sc))
    })
    .await?;
    ctx.events.emit(RunEvent::ProbeSample {
        id: id.to_string(),
        sample: s,
    });
    Ok(())
}

/// Samples a periodic probe until cancelled; reports a crossed failure threshold once.
async fn periodic(
    ctx: RunContext,
    id: String,
    p: ProbeSpec,
    token: CancellationToken,
    abort: Option<mpsc::Sender<String>>,
    phase: watch::Receiver<Phase>,
) {
    let interval = p
        .interval
        .map_or(std::time::Duration::from_secs(1), |i| i.get());
    let threshold = p.failure_threshold.unwrap_or(1);
    let mut consecutive = 0u32;
    let mut reported = false;
    let mut next = Instant::now();
    loop {
        let phase = *phase.borrow();
        let s = tokio::select! {
            _ = token.cancelled() => return,
            s = probe::sample(&p, phase) => s,
        };
        if s.passed || s.skipped {
            consecutive = 0;
        } else {
            consecutive += 1;
        }
        let skipped = s.skipped;
        if let Err(e) = record_sample(&ctx, &id, s).await {
            tracing::warn!(error = %e, "probe sample not stored");
        }
        if p.abort_on_failure && !reported && consecutive >= threshold {
            reported = true;
            if let Some(a) = &abort {
                let _ = a.send(p.name.clone()).await;
            }
        }
        if skipped {
            return; // A probe this build cannot evaluate is reported once.
        }
        next += interval;
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep_until(next) => {}
        }
    }
}
