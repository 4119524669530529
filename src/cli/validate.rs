//! `validate`, `schema`.

use super::{Exit, OutputFormat};
use crate::domain::{Diagnostic, ExperimentDoc, load_experiment_file};
use std::path::PathBuf;

/// Validates every file; reports every problem; exits 2 if any.
pub fn validate(files: &[PathBuf], output: OutputFormat) -> Exit {
    let mut all: Vec<Diagnostic> = Vec::new();
    let mut ok = Vec::new();
    for f in files {
        match load_experiment_file(f) {
            Ok(doc) => ok.push((
                f.display().to_string(),
                doc.metadata.name.clone(),
                doc.fault_kind(),
            )),
            Err(d) => all.extend(d),
        }
    }
    match output {
        OutputFormat::Json => {
            let v = serde_json::json!({
                "valid": ok.iter().map(|(f, n, k)| serde_json::json!({"file": f, "name": n, "fault": k})).collect::<Vec<_>>(),
                "problems": all,
            });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        OutputFormat::Text => {
            for (f, n, k) in &ok {
                println!("{f}: ok ({n}, {k})");
            }
            for d in &all {
                eprintln!("{d}");
            }
            if !all.is_empty() {
                eprintln!(
                    "{} problem(s) in {} file(s)",
                    all.len(),
                    files.len() - ok.len()
                );
            }
        }
    }
    if all.is_empty() {
        Exit::Ok
    } else {
        Exit::Invalid
    }
}

/// Prints the JSON Schema of experiment documents.
pub fn schema() -> Exit {
    let s = schemars::schema_for!(ExperimentDoc);
    match serde_json::to_string_pretty(&s) {
        Ok(t) => {
            println!("{t}");
            Exit::Ok
        }
        Err(e) => super::fail(Exit::Failed, e),
    }
}
