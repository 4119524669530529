//! `list`, `show`, `export`.

use super::output::{age, journal_line, record_json, short};
use super::{Cli, Exit, ExportFormat, OutputFormat, fail, open_env};
use crate::engine::events::EventSink;
use crate::safety::journal::JournalEntry;
use crate::store::records::{Analysis, ExperimentRecord, PhaseEvent, ProbeSample};
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;

struct Full {
    rec: ExperimentRecord,
    events: Vec<PhaseEvent>,
    journal: Vec<JournalEntry>,
    samples: Vec<ProbeSample>,
    analyses: Vec<Analysis>,
}

async fn load_full(store: &Store, id: &str) -> Result<Full, StoreError> {
    let (s, id) = (store.clone(), id.to_string());
    tokio::task::spawn_blocking(move || {
        let id = s.resolve_id(&id)?;
        Ok(Full {
            rec: s.experiment(&id)?,
            events: s.events(&id)?,
            journal: s.journal(&id)?,
            samples: s.samples(&id)?,
            analyses: s.analyses(&id)?,
        })
    })
    .await
    .map_err(|e| StoreError::Db(e.to_string()))?
}

/// `list`.
pub async fn list(cli: &Cli, output: OutputFormat) -> Exit {
    let env = match open_env(cli, EventSink::none()).await {
        Ok(e) => e,
        Err(e) => return e,
    };
    let s = env.store.clone();
    let recs = match tokio::task::spawn_blocking(move || s.experiments()).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return fail(Exit::Failed, e),
        Err(e) => return fail(Exit::Failed, e),
    };
    match output {
        OutputFormat::Json => {
            let v: Vec<serde_json::Value> = recs
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.id, "name": r.name, "fault": r.fault, "target": r.target,
                        "status": r.status, "verdict": r.verdict.as_ref().map(|v| v.kind),
                        "created_at": r.created_at, "finished_at": r.finished_at,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        OutputFormat::Text => {
            if recs.is_empty() {
                println!(
                    "no experiments yet; try `chaosduck run experiments/pod-delete.yaml --dry-run`"
                );
            } else {
                println!(
                    "{:<12}  {:<24} {:<17} {:<18} {:<12} AGE",
                    "ID", "NAME", "FAULT", "STATUS", "VERDICT"
                );
                for r in &recs {
                    println!(
                        "{:<12}  {:<24} {:<17} {:<18} {:<12} {}",
                        short(&r.id),
                        r.name,
                        r.fault.as_str(),
                        r.status.as_str(),
                        r.verdict
                            .as_ref()
                            .map_or("-".to_string(), |v| v.kind.to_string()),
                        age(r.created_at)
                    );
                }
            }
        }
    }
    Exit::Ok
}

/// `show ID`.
pub async fn show(cli: &Cli, id: &str, output: OutputFormat) -> Exit {
    let env = match open_env(cli, EventSink::none()).await {
        Ok(e) => e,
        Err(e) => return e,
    };
    let f = match load_full(&env.store, id).await {
        Ok(f) => f,
        Err(e) => return fail(Exit::Invalid, e),
    };
    match output {
        OutputFormat::Json => {
            let mut v = record_json(&f.rec, &f.journal);
            v["events"] = serde_json::to_value(&f.events).unwrap_or_default();
            v["samples"] = serde_json::to_value(&f.samples).unwrap_or_default();
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        OutputFormat::Text => print!("{}", markdown(&f)),
    }
    Exit::Ok
}

/// `export ID --format`.
pub async fn export(cli: &Cli, id: &str, format: ExportFormat) -> Exit {
    let env = match open_env(cli, EventSink::none()).await {
        Ok(e) => e,
        Err(e) => return e,
    };
    let f = match load_full(&env.store, id).await {
        Ok(f) => f,
        Err(e) => return fail(Exit::Invalid, e),
    };
    match format {
        ExportFormat::Json => {
            let mut v = record_json(&f.rec, &f.journal);
            v["document"] = serde_json::to_value(&f.rec.doc).unwrap_or_default();
            v["events"] = serde_json::to_value(&f.events).unwrap_or_default();
            v["samples"] = serde_json::to_value(&f.samples).unwrap_or_default();
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        ExportFormat::Markdown => print!("{}", markdown(&f)),
    }
    Exit::Ok
}

fn ts(ms: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

fn markdown(f: &Full) -> String {
    use std::fmt::Write;
    let r = &f.rec;
    let mut s = String::new();
    let _ = writeln!(s, "# Experiment {}\n", r.name);
    let _ = writeln!(s, "- id: `{}`", r.id);
    let _ = writeln!(s, "- fault: `{}` on {}", r.fault, r.target);
    let _ = writeln!(s, "- status: **{}**", r.status);
    if let Some(v) = &r.verdict {
        let _ = writeln!(s, "- hypothesis: **{}**", v.kind);
    }
    if let Some(h) = &r.doc.spec.hypothesis {
        let _ = writeln!(s, "- hypothesis text: {h}");
    }
    if let Some(a) = &r.abort_reason {
        let _ = writeln!(s, "- stopped early: {a}");
    }
    if let Some(e) = &r.error {
        let _ = writeln!(s, "- error: {e}");
    }
    let _ = writeln!(s, "- created: {}", ts(r.created_at));
    if let Some(v) = &r.verdict {
        let _ = writeln!(s, "\n## Verdict\n");
        for reason in &v.reasons {
            let _ = writeln!(s, "- {reason}");
        }
    }
    let _ = writeln!(s, "\n## Timeline\n");
    for e in &f.events {
        let _ = writeln!(s, "- {} {}", ts(e.at), e.message);
    }
    let _ = writeln!(s, "\n## Journal\n");
    if f.journal.is_empty() {
        let _ = writeln!(s, "(nothing was injected)");
    }
    for e in &f.journal {
        let _ = writeln!(s, "- {}", journal_line(e));
    }
    if !f.samples.is_empty() {
        let _ = writeln!(s, "\n## Probes\n");
        let mut by: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for smp in &f.samples {
            let e = by.entry(smp.probe.as_str()).or_default();
            e.0 += 1;
            if smp.passed {
                e.1 += 1;
            }
        }
        for (p, (n, ok)) in by {
            let _ = writeln!(s, "- {p}: {ok} of {n} samples passed");
        }
    }
    // The stored analyses (`chaosduck ai analyze`), each naming its engine.
    for a in &f.analyses {
        let _ = writeln!(
            s,
            "\n<!-- analysis stored {} by the {} engine -->\n",
            ts(a.at),
            a.engine
        );
        s.push_str(a.text.trim_end());
        s.push('\n');
    }
    s
}
