//! `run` and `dry-run`, with live progress.

use super::output::{journal_line, print_preview, record_json};
use super::{Cli, Exit, OutputFormat, fail, open_env};
use crate::domain::{Status, VerdictKind, load_experiment_file};
use crate::engine::events::{EventSink, RunEvent};
use crate::engine::runner::{self, RunContext, RunOutcome, RunRequest};
use crate::safety::control;
use crate::safety::emergency::StopReason;
use std::path::Path;
use std::time::Instant;
use tokio::sync::mpsc;

fn load(file: &Path) -> Result<crate::domain::ExperimentDoc, Exit> {
    load_experiment_file(file).map_err(|ds| {
        for d in &ds {
            eprintln!("{d}");
        }
        Exit::Invalid
    })
}

/// `dry-run FILE`: the plan and guardrail verdicts; nothing changes.
pub async fn dry_run(
    cli: &Cli,
    file: &Path,
    confirm: Option<String>,
    output: OutputFormat,
) -> Exit {
    let doc = match load(file) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let env = match open_env(cli, EventSink::none()).await {
        Ok(e) => e,
        Err(e) => return e,
    };
    let req = RunRequest {
        doc,
        source: Some(file.display().to_string()),
        confirm_namespace: confirm,
    };
    let ctx: &RunContext = env.sup.context();
    match runner::preview(ctx, "dry-run", &req).await {
        Ok(p) => {
            let refused = p.guardrails.iter().any(|r| !r.passed);
            match output {
                OutputFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&p).unwrap_or_default())
                }
                OutputFormat::Text => {
                    println!(
                        "dry run of {} ({}) — nothing will be changed",
                        req.doc.metadata.name,
                        req.doc.fault_kind()
                    );
                    print_preview(&p);
                    println!(
                        "{}",
                        if refused {
                            "verdict: a real run would be REFUSED"
                        } else {
                            "verdict: a real run may proceed"
                        }
                    );
                }
            }
            if refused { Exit::Refused } else { Exit::Ok }
        }
        Err(e) => fail(Exit::Failed, e),
    }
}

/// `run FILE`.
pub async fn run(cli: &Cli, file: &Path, confirm: Option<String>, output: OutputFormat) -> Exit {
    let doc = match load(file) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let (sink, rx) = EventSink::channel(1024);
    let env = match open_env(cli, sink).await {
        Ok(e) => e,
        Err(e) => return e,
    };
    let sup = env.sup.clone();
    let metrics = match cli.metrics_addr {
        Some(addr) => match crate::metrics::serve(addr).await {
            Ok((bound, task)) => {
                eprintln!("chaosduck: metrics on http://{bound}/metrics");
                Some(task)
            }
            Err(e) => {
                return fail(
                    Exit::Invalid,
                    format!("cannot serve metrics on {addr}: {e}"),
                );
            }
        },
        None => None,
    };
    let sock = control::socket_path(env.store.path());
    let server = match control::serve(sup.clone(), sock.clone()).await {
        Ok(h) => Some(h),
        Err(e) => {
            eprintln!(
                "chaosduck: control socket {} unavailable ({e}); `chaosduck stop` will not reach this run",
                sock.display()
            );
            None
        }
    };
    let signals = tokio::spawn(watch_signals(sup.clone()));
    let printer = (output == OutputFormat::Text).then(|| tokio::spawn(print_events(rx)));
    let req = RunRequest {
        doc,
        source: Some(file.display().to_string()),
        confirm_namespace: confirm,
    };
    let result = sup.run(req).await;
    // A stop from another shell may be finishing its recovery: let it answer before exiting.
    let control_done = sup.control_lock().lock().await;
    drop(control_done);
    signals.abort();
    if let Some(m) = metrics {
        m.abort();
    }
    if let Some(s) = server {
        s.abort();
        let _ = std::fs::remove_file(&sock);
    }
    // Let the printer drain what the run sent.
    drop(sup);
    drop(env);
    if let Some(p) = printer {
        if matches!(result, Ok(RunOutcome::Finished { .. })) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), p).await;
        } else {
            p.abort();
        }
    }
    match result {
        Err(e) => fail(Exit::Failed, e),
        Ok(RunOutcome::Refused { record, guardrails }) => {
            match output {
                OutputFormat::Json => {
                    let mut v = record_json(&record, &[]);
                    v["guardrails"] = serde_json::to_value(&guardrails).unwrap_or_default();
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                }
                OutputFormat::Text => {
                    eprintln!("chaosduck: {}", record.error.clone().unwrap_or_default());
                    eprintln!("nothing was changed.");
                }
            }
            Exit::Refused
        }
        Ok(RunOutcome::Finished { record, journal }) => {
            match output {
                OutputFormat::Json => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&record_json(&record, &journal))
                            .unwrap_or_default()
                    )
                }
                OutputFormat::Text => {
                    println!(
                        "experiment {} ({}) finished: {}",
                        record.name, record.id, record.status
                    );
                    if let Some(r) = &record.abort_reason {
                        println!("  stopped early: {r}");
                    }
                    if let Some(e) = &record.error {
                        println!("  error: {e}");
                    }
                    if let Some(v) = &record.verdict {
                        println!("  hypothesis {}", v.kind);
                        for r in &v.reasons {
                            println!("    - {r}");
                        }
                    }
                    println!("  journal:");
                    for e in &journal {
                        println!("    {}", journal_line(e));
                    }
                }
            }
            match (record.status, record.verdict.as_ref().map(|v| v.kind)) {
                (Status::Completed, Some(VerdictKind::Held)) => Exit::Ok,
                (Status::Completed, Some(VerdictKind::Violated)) => Exit::Violated,
                (Status::Completed, _) => Exit::Inconclusive,
                (Status::Aborted | Status::EmergencyStopped, _) => Exit::Aborted,
                _ => Exit::Failed,
            }
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP stop every run (each rolls back); the process exits when done.
async fn watch_signals(sup: std::sync::Arc<crate::engine::supervisor::Supervisor>) {
    let Ok(mut signals) = crate::safety::signals::ExitSignals::install() else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        let name = signals.recv().await;
        eprintln!(
            "chaosduck: {name} received: rolling back; the process exits when rollback is done (kill -9 leaves the journal for `chaosduck recover`)"
        );
        sup.stop_all(StopReason::Signal(name.into()));
    }
}

async fn print_events(mut rx: mpsc::Receiver<RunEvent>) {
    let start = Instant::now();
    let t = |s: &Instant| format!("[{:>6.1}s]", s.elapsed().as_secs_f64());
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
    tick.tick().await;
    let mut observing: Option<Instant> = None;
    loop {
        let ev = tokio::select! {
            ev = rx.recv() => match ev { Some(e) => e, None => return },
            _ = tick.tick() => {
                if let Some(o) = observing {
                    println!("{} observing for {:.0}s", t(&start), o.elapsed().as_secs_f64());
                }
                continue;
            }
        };
        match ev {
            RunEvent::Planned { id, plan } => {
                println!(
                    "{} experiment {id}: {} target(s) planned by {}",
                    t(&start),
                    plan.targets.len(),
                    plan.engine
                )
            }
            RunEvent::PhaseChanged { phase, .. } => {
                observing = (phase == crate::domain::Phase::Observe).then(Instant::now);
                println!("{} {phase}", t(&start));
            }
            RunEvent::Journal { entry } => {
                println!("{} journal {}", t(&start), journal_line(&entry))
            }
            RunEvent::ProbeSample { sample, .. } => {
                let v = sample
                    .value
                    .map(|v| format!(" value {v:.1}"))
                    .unwrap_or_default();
                let verdict = if sample.skipped {
                    "not evaluated"
                } else if sample.passed {
                    "pass"
                } else {
                    "FAIL"
                };
                let err = sample.error.map(|e| format!(" ({e})")).unwrap_or_default();
                println!("{} probe {} {verdict}{v}{err}", t(&start), sample.probe);
            }
            RunEvent::RollbackRetry {
                seq,
                attempts,
                error,
                ..
            } => {
                println!(
                    "{} rollback #{seq} attempt {attempts} failed, retrying: {error}",
                    t(&start)
                )
            }
            RunEvent::Message { text, .. } => println!("{} {text}", t(&start)),
            RunEvent::Finished { .. } => return,
        }
    }
}
