//! The Markdown report of an experiment: what ran, what happened, the verdict and score (with
//! the formula explained), the rollback, and the analysis. Every report names its engine.

use super::analysis::{self, AnalysisBody};
use super::evidence::Evidence;
use std::fmt::Write;

/// Renders the whole report.
pub fn markdown(ev: &Evidence, body: &AnalysisBody, engine: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Chaos experiment report: {}\n", ev.name);
    let _ = writeln!(
        s,
        "_Written by the {engine} engine from the recorded data._\n"
    );
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(s, "- id: `{}`", ev.id);
    let _ = writeln!(s, "- fault: `{}` on {}", ev.fault, ev.target);
    let _ = writeln!(s, "- held for: {}s", ev.duration_s);
    let _ = writeln!(s, "- status: **{}**", ev.status);
    let _ = writeln!(
        s,
        "- hypothesis: **{}**",
        ev.verdict
            .map_or("not judged".to_string(), |v| v.to_string())
    );
    if let Some(h) = &ev.hypothesis {
        let _ = writeln!(s, "- hypothesis text: {h}");
    }
    let _ = writeln!(
        s,
        "- resilience score: {}",
        ev.score
            .map_or("none (no evidence)".to_string(), |x| format!("**{x}/100**"))
    );
    let _ = writeln!(s, "- severity: **{}**\n", body.severity);
    let _ = writeln!(s, "## Impact\n");
    let failing = ev.failing_probes();
    if failing.is_empty() {
        let _ = writeln!(s, "No probe failed.");
    }
    for p in failing {
        let _ = writeln!(
            s,
            "- {} failed {} of {} samples{}",
            p.name,
            p.samples - p.passed,
            p.samples,
            p.first_failure_s
                .map(|t| format!(", first at {t:.1}s"))
                .unwrap_or_default()
        );
    }
    if !ev.recovery_s.is_empty() {
        let times: Vec<String> = ev.recovery_s.iter().map(|r| format!("{r:.1}s")).collect();
        let _ = writeln!(s, "- recovery time(s): {}", times.join(", "));
    }
    let _ = writeln!(s, "\n## Rollback\n");
    if ev.steps.is_empty() {
        let _ = writeln!(s, "Nothing was injected.");
    }
    for st in &ev.steps {
        let _ = writeln!(
            s,
            "- #{} {} — {}{}{}",
            st.seq,
            st.state,
            st.summary,
            st.note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
            st.error
                .as_deref()
                .map(|e| format!(" error: {e}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(s);
    s.push_str(&analysis::markdown(ev, body, engine));
    s
}
