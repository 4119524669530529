//! `check FILE`: evaluate the experiment's probes once, now, injecting nothing.

use super::{Exit, OutputFormat};
use crate::domain::{Phase, load_experiment_file};
use std::path::Path;

/// Runs every probe once, concurrently; 0 when all pass, 1 when one fails, 7 when some could not
/// be evaluated here.
pub async fn check(cli: &super::Cli, file: &Path, output: OutputFormat) -> Exit {
    let doc = match load_experiment_file(file) {
        Ok(d) => d,
        Err(ds) => {
            for d in &ds {
                eprintln!("{d}");
            }
            return Exit::Invalid;
        }
    };
    // Connects the Kubernetes client (and, with --sandbox, starts the sandbox) for k8s probes.
    let config = match crate::config::Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return super::fail(Exit::Invalid, e),
    };
    let _engines = match cli.engines(&config).await {
        Ok(e) => e,
        Err(code) => return code,
    };
    let probes = &doc.spec.probes;
    if probes.is_empty() {
        eprintln!(
            "chaosduck: {} defines no probes; nothing to check",
            file.display()
        );
        return Exit::Inconclusive;
    }
    let samples = futures::future::join_all(
        probes
            .iter()
            .map(|p| crate::probe::sample(p, Phase::SteadyState)),
    )
    .await;
    match output {
        OutputFormat::Json => {
            let v: Vec<serde_json::Value> = probes
                .iter()
                .zip(&samples)
                .map(|(p, s)| {
                    serde_json::json!({
                        "name": p.name, "type": s.kind, "mode": p.mode,
                        "passed": s.passed, "evaluated": !s.skipped, "value": s.value, "error": s.error,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "probes": v }))
                    .unwrap_or_default()
            );
        }
        OutputFormat::Text => {
            for (p, s) in probes.iter().zip(&samples) {
                let verdict = if s.skipped {
                    "n/a "
                } else if s.passed {
                    "pass"
                } else {
                    "FAIL"
                };
                let value = s
                    .value
                    .map(|v| format!("{v:.1}"))
                    .unwrap_or_else(|| "-".into());
                let err = s.error.as_deref().unwrap_or("");
                println!(
                    "{verdict}  {:<24} {:<10} {:>10}  {err}",
                    p.name, s.kind, value
                );
            }
        }
    }
    if samples.iter().any(|s| !s.passed && !s.skipped) {
        Exit::Violated
    } else if samples.iter().any(|s| s.skipped) {
        Exit::Inconclusive
    } else {
        Exit::Ok
    }
}
