//! `chaosduck ai ...`: natural language → experiment, analysis, report, suggestions. Every text
//! names the engine that wrote it; every proposed experiment is vetted and only printed (or
//! saved): running it goes through `dry-run` and `run` like any file.

use super::{Cli, Exit, fail, open_env};
use crate::ai::assistant::{self, Answer, Engine, NlResult};
use crate::ai::evidence;
use crate::ai::llm::StreamEvent;
use crate::config::Config;
use crate::engine::events::EventSink;
use crate::store::records::Analysis;
use crate::store::{Store, now_ms};
use clap::{Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use tokio::sync::mpsc;

/// Output of `ai nl`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum DocFormat {
    /// The experiment as YAML, with the explanation as comments.
    #[default]
    Yaml,
    /// One JSON object: engine, result, document, explanation.
    Json,
}

/// `chaosduck ai ...`
#[derive(Debug, Subcommand)]
pub enum AiCommand {
    /// Turn a request in English or Korean into a validated experiment document (printed, not
    /// run; `dry-run` it next).
    Nl {
        /// The request, e.g. "add 200ms latency to checkout pods in shop for 2 minutes".
        text: String,
        /// Use the offline engine even when a model is configured.
        #[arg(long)]
        offline: bool,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: DocFormat,
        /// Also write the document to this file.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
    },
    /// Analyse a finished experiment (severity, likely cause, recommendations) and store it.
    Analyze {
        /// Experiment id (a unique prefix is enough).
        id: String,
        /// Use the offline engine.
        #[arg(long)]
        offline: bool,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: super::OutputFormat,
    },
    /// A Markdown report of an experiment.
    Report {
        /// Experiment id (a unique prefix is enough).
        id: String,
        /// Use the offline engine.
        #[arg(long)]
        offline: bool,
        /// Show a model's summary on stderr as it streams in.
        #[arg(long)]
        stream: bool,
    },
    /// Review the steady state around an experiment's target before injecting (pods not ready,
    /// restarts, cordoned nodes, Services without endpoints, probes failing or near their
    /// threshold). Injects nothing; exits 1 when a critical finding says: hold.
    Review {
        /// The experiment file.
        file: PathBuf,
        /// Use the offline engine.
        #[arg(long)]
        offline: bool,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: super::OutputFormat,
    },
    /// A testable hypothesis for an experiment from the topology around its target.
    Hypothesis {
        /// The experiment file.
        file: PathBuf,
        /// Use the offline engine.
        #[arg(long)]
        offline: bool,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: super::OutputFormat,
    },
    /// Experiments worth running next, and the resilience trend per namespace.
    Suggest {
        /// Only this namespace.
        #[arg(long, short)]
        namespace: Option<String>,
        /// Use the offline engine.
        #[arg(long)]
        offline: bool,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: super::OutputFormat,
    },
}

fn engine(cfg: &Config, offline: bool) -> Result<Engine, Exit> {
    assistant::select(&cfg.ai, offline).map_err(|e| fail(Exit::Invalid, e))
}

fn header<T>(a: &Answer<T>) -> String {
    match &a.note {
        Some(n) => format!("engine: {} ({n})", a.engine),
        None => format!("engine: {}", a.engine),
    }
}

/// Runs an `ai` subcommand.
pub async fn dispatch(cli: &Cli, cmd: &AiCommand) -> Exit {
    let cfg = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(Exit::Invalid, e),
    };
    match cmd {
        AiCommand::Nl {
            text,
            offline,
            output,
            save,
        } => {
            let eng = match engine(&cfg, *offline) {
                Ok(e) => e,
                Err(x) => return x,
            };
            let (tx, printer) = streamer(&eng);
            let a = assistant::nl(&eng, text, &cfg, tx.as_ref()).await;
            finish_stream(tx, printer).await;
            print_nl(&a, *output, save.as_deref())
        }
        AiCommand::Analyze {
            id,
            offline,
            output,
        } => {
            let eng = match engine(&cfg, *offline) {
                Ok(e) => e,
                Err(x) => return x,
            };
            let env = match open_env(cli, EventSink::none()).await {
                Ok(e) => e,
                Err(x) => return x,
            };
            let (ev, _) = match load(&env.store, id).await {
                Ok(x) => x,
                Err(x) => return x,
            };
            let (tx, printer) = streamer(&eng);
            let a = assistant::analyze(&eng, &ev, &cfg, tx.as_ref()).await;
            finish_stream(tx, printer).await;
            let rec = Analysis {
                at: now_ms(),
                engine: a.engine.clone(),
                text: a.result.markdown.clone(),
            };
            if let Err(x) = store_analysis(&env.store, &ev.id, rec).await {
                return x;
            }
            match output {
                super::OutputFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&a).unwrap_or_default())
                }
                super::OutputFormat::Text => {
                    println!("<!-- {} -->", header(&a));
                    print!("{}", a.result.markdown);
                }
            }
            Exit::Ok
        }
        AiCommand::Report {
            id,
            offline,
            stream,
        } => {
            let eng = match engine(&cfg, *offline) {
                Ok(e) => e,
                Err(x) => return x,
            };
            let env = match open_env(cli, EventSink::none()).await {
                Ok(e) => e,
                Err(x) => return x,
            };
            let (ev, stored) = match load(&env.store, id).await {
                Ok(x) => x,
                Err(x) => return x,
            };
            let (tx, printer) = if *stream {
                let (tx, mut rx) = mpsc::channel::<StreamEvent>(64);
                let h = tokio::spawn(async move {
                    let mut err = std::io::stderr();
                    while let Some(ev) = rx.recv().await {
                        if let StreamEvent::Text(t) = ev {
                            let _ = err.write_all(t.as_bytes());
                            let _ = err.flush();
                        }
                    }
                    let _ = writeln!(err);
                });
                (Some(tx), Some(h))
            } else {
                (None, None)
            };
            let a = assistant::report(&eng, &ev, &cfg, tx.as_ref()).await;
            drop(tx);
            if let Some(h) = printer {
                let _ = h.await;
            }
            if stored.is_empty() {
                let rec = Analysis {
                    at: now_ms(),
                    engine: a.engine.clone(),
                    text: a.result.analysis.markdown.clone(),
                };
                if let Err(x) = store_analysis(&env.store, &ev.id, rec).await {
                    return x;
                }
            }
            println!("<!-- {} -->", header(&a));
            print!("{}", a.result.markdown);
            Exit::Ok
        }
        AiCommand::Review {
            file,
            offline,
            output,
        } => {
            let (eng, doc, ctx, sandbox) = match planned(cli, &cfg, file, *offline).await {
                Ok(x) => x,
                Err(x) => return x,
            };
            let samples = futures::future::join_all(
                doc.spec
                    .probes
                    .iter()
                    .map(|p| crate::probe::sample(p, crate::domain::Phase::SteadyState)),
            )
            .await;
            let (tx, printer) = streamer(&eng);
            let a = assistant::review(&eng, &doc, &ctx, &samples, &cfg, tx.as_ref()).await;
            finish_stream(tx, printer).await;
            if let Some(sb) = sandbox {
                sb.shutdown().await;
            }
            match output {
                super::OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "engine": a.engine, "note": a.note, "review": a.result, "context": ctx,
                    }))
                    .unwrap_or_default()
                ),
                super::OutputFormat::Text => {
                    println!("# {}", header(&a));
                    print!("{}", crate::ai::review::render(&a.result));
                }
            }
            if a.result.proceed {
                Exit::Ok
            } else {
                Exit::Violated
            }
        }
        AiCommand::Hypothesis {
            file,
            offline,
            output,
        } => {
            let (eng, doc, ctx, sandbox) = match planned(cli, &cfg, file, *offline).await {
                Ok(x) => x,
                Err(x) => return x,
            };
            let (tx, printer) = streamer(&eng);
            let a = assistant::hypothesis(&eng, &doc, &ctx, &cfg, tx.as_ref()).await;
            finish_stream(tx, printer).await;
            if let Some(sb) = sandbox {
                sb.shutdown().await;
            }
            match output {
                super::OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "engine": a.engine, "note": a.note, "hypothesis": a.result.hypothesis,
                        "rationale": a.result.rationale, "context": ctx,
                    }))
                    .unwrap_or_default()
                ),
                super::OutputFormat::Text => {
                    println!("# {}", header(&a));
                    println!("{}", a.result.hypothesis);
                    println!("# {}", a.result.rationale);
                }
            }
            Exit::Ok
        }
        AiCommand::Suggest {
            namespace,
            offline,
            output,
        } => {
            let eng = match engine(&cfg, *offline) {
                Ok(e) => e,
                Err(x) => return x,
            };
            let env = match open_env(cli, EventSink::none()).await {
                Ok(e) => e,
                Err(x) => return x,
            };
            let s = env.store.clone();
            let recs = match tokio::task::spawn_blocking(move || s.experiments()).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => return fail(Exit::Failed, e),
                Err(e) => return fail(Exit::Failed, e),
            };
            let a = assistant::suggestions(&eng, &recs, namespace.as_deref(), &cfg).await;
            match output {
                super::OutputFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&a).unwrap_or_default())
                }
                super::OutputFormat::Text => print_suggestions(&a),
            }
            Exit::Ok
        }
    }
}

/// With a model, its answer streams to stderr as it arrives (text as is, a tool's structured
/// input as a dot per piece), flushed; stdout keeps only the final, valid document.
fn streamer(
    eng: &Engine,
) -> (
    Option<mpsc::Sender<StreamEvent>>,
    Option<tokio::task::JoinHandle<()>>,
) {
    if !matches!(eng, Engine::Remote(_)) {
        return (None, None);
    }
    let (tx, mut rx) = mpsc::channel::<StreamEvent>(64);
    let h = tokio::spawn(async move {
        let mut err = std::io::stderr();
        let mut any = false;
        while let Some(ev) = rx.recv().await {
            let piece = match ev {
                StreamEvent::Started(model) => format!("chaosduck: {model} answering: "),
                StreamEvent::Text(t) => t,
                StreamEvent::ToolInput(_) => ".".into(),
                StreamEvent::Ping | StreamEvent::Stopped(_) => continue,
            };
            any = true;
            let _ = err.write_all(piece.as_bytes());
            let _ = err.flush();
        }
        if any {
            let _ = writeln!(err);
        }
    });
    (Some(tx), Some(h))
}

async fn finish_stream(
    tx: Option<mpsc::Sender<StreamEvent>>,
    printer: Option<tokio::task::JoinHandle<()>>,
) {
    drop(tx);
    if let Some(h) = printer {
        let _ = h.await;
    }
}

fn load_doc(file: &std::path::Path) -> Option<crate::domain::ExperimentDoc> {
    match crate::domain::load_experiment_file(file) {
        Ok(d) => Some(d),
        Err(ds) => {
            for d in &ds {
                eprintln!("{d}");
            }
            None
        }
    }
}

/// What `ai review` and `ai hypothesis` start from: the engine, the document, and the topology
/// around its target (with the sandbox that serves it, when `--sandbox`).
async fn planned(
    cli: &Cli,
    cfg: &Config,
    file: &std::path::Path,
    offline: bool,
) -> Result<
    (
        Engine,
        crate::domain::ExperimentDoc,
        crate::ai::review::TargetContext,
        Option<crate::sandbox::Sandbox>,
    ),
    Exit,
> {
    let eng = engine(cfg, offline)?;
    let doc = load_doc(file).ok_or(Exit::Invalid)?;
    let (ctx, sandbox) = around(cli, cfg, &doc).await?;
    Ok((eng, doc, ctx, sandbox))
}

/// The topology around a pods target, from a watch-cache snapshot of the current cluster (or
/// `--sandbox`); an unknown context when there is no cluster or the target is not pods. Also
/// connects the clients the steady-state probes use.
async fn around(
    cli: &Cli,
    cfg: &Config,
    doc: &crate::domain::ExperimentDoc,
) -> Result<
    (
        crate::ai::review::TargetContext,
        Option<crate::sandbox::Sandbox>,
    ),
    Exit,
> {
    use crate::ai::review::{TargetContext, context_from_topology};
    use crate::engine::k8s::targets;
    let super::Built { sandbox, kube, .. } = cli.engines(cfg).await?;
    let crate::domain::Target::Pods(t) = &doc.spec.target else {
        return Ok((TargetContext::default(), sandbox));
    };
    let unknown = TargetContext {
        namespace: Some(t.namespace.clone()),
        ..Default::default()
    };
    let Some((client, _)) = kube else {
        eprintln!("chaosduck: no cluster to read the topology from; probes only");
        return Ok((unknown, sandbox));
    };
    let pods = match targets::pods(&client, &t.namespace, t.selector.as_ref(), &t.names, None).await
    {
        Ok(r) => r
            .chosen
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect::<Vec<_>>(),
        Err(e) => {
            eprintln!("chaosduck: cannot resolve the target pods ({e}); probes only");
            return Ok((unknown, sandbox));
        }
    };
    let w = crate::topology::k8s::K8sWatch::start(client);
    if let Err(e) = w.ready(std::time::Duration::from_secs(60)).await {
        eprintln!("chaosduck: {e}; probes only");
        return Ok((unknown, sandbox));
    }
    let ctx = context_from_topology(&w.snapshot(), &t.namespace, &pods);
    Ok((ctx, sandbox))
}

async fn load(store: &Store, id: &str) -> Result<(evidence::Evidence, Vec<Analysis>), Exit> {
    let (s, id) = (store.clone(), id.to_string());
    match tokio::task::spawn_blocking(move || evidence::load(&s, &id)).await {
        Ok(Ok(x)) => Ok(x),
        Ok(Err(e)) => Err(fail(Exit::Invalid, e)),
        Err(e) => Err(fail(Exit::Failed, e)),
    }
}

async fn store_analysis(store: &Store, id: &str, a: Analysis) -> Result<(), Exit> {
    let (s, id) = (store.clone(), id.to_string());
    match tokio::task::spawn_blocking(move || s.append_analysis(&id, &a)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(fail(Exit::Failed, e)),
        Err(e) => Err(fail(Exit::Failed, e)),
    }
}

fn comment(s: &str) -> String {
    s.lines().map(|l| format!("# {l}\n")).collect()
}

fn print_nl(a: &Answer<NlResult>, output: DocFormat, save: Option<&std::path::Path>) -> Exit {
    if output == DocFormat::Json {
        println!("{}", serde_json::to_string_pretty(a).unwrap_or_default());
    }
    match &a.result {
        NlResult::Proposal {
            vetted,
            explanation,
        } => {
            if output == DocFormat::Yaml {
                print!("{}", comment(&header(a)));
                print!("{}", comment(explanation));
                for n in &vetted.notes {
                    print!("{}", comment(n));
                }
                print!("{}", vetted.yaml);
            }
            if let Some(p) = save {
                let body = format!(
                    "{}{}{}",
                    comment(&header(a)),
                    comment(explanation),
                    vetted.yaml
                );
                if let Err(e) = std::fs::write(p, body) {
                    return fail(Exit::Failed, format!("cannot write {}: {e}", p.display()));
                }
                eprintln!(
                    "chaosduck: wrote {}; next: chaosduck dry-run {}",
                    p.display(),
                    p.display()
                );
            }
            Exit::Ok
        }
        NlResult::Clarify { message } => {
            if output == DocFormat::Yaml {
                eprintln!("chaosduck: {} — {message}", header(a));
            }
            Exit::Invalid
        }
        NlResult::Refused {
            refused,
            explanation,
        } => {
            if output == DocFormat::Yaml {
                eprintln!("chaosduck: {} — the request was refused:", header(a));
                for r in &refused.refusals {
                    eprintln!("  DENY {:<20} {}", r.rule, r.message);
                }
                if !explanation.is_empty() {
                    eprintln!("  ({explanation})");
                }
            }
            Exit::Refused
        }
    }
}

fn print_suggestions(a: &Answer<assistant::Suggestions>) {
    println!("# {}", header(a));
    let s = &a.result;
    if !s.trends.is_empty() {
        println!("# resilience trend (documented score, one point per experiment):");
        for t in &s.trends {
            println!(
                "#   {:<20} {} experiment(s), mean {}{}",
                t.scope,
                t.points.len(),
                t.mean.map_or("-".into(), |m| format!("{m:.0}")),
                t.change
                    .map(|c| format!(", change {c:+.0} (newer half vs older half)"))
                    .unwrap_or_default()
            );
        }
    }
    for d in &s.dropped {
        println!("# {d}");
    }
    for (why, v) in &s.items {
        println!("---");
        print!("{}", comment(why));
        print!("{}", v.yaml);
    }
}
