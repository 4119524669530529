//! Shared printing helpers.

use crate::engine::runner::Preview;
use crate::safety::journal::JournalEntry;
use crate::store::records::ExperimentRecord;

/// A short id for tables.
pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// "3m ago" from unix ms.
pub fn age(ms: i64) -> String {
    let now = crate::store::now_ms();
    let secs = u64::try_from((now - ms).max(0) / 1000).unwrap_or(0);
    let d = std::time::Duration::from_secs(secs);
    let s = humantime::format_duration(d).to_string();
    // Keep the largest unit only: "2h 3m 4s" -> "2h".
    format!("{} ago", s.split(' ').next().unwrap_or("0s"))
}

/// Prints a plan with its undo steps and guardrail verdicts.
pub fn print_preview(p: &Preview) {
    let plan = &p.plan;
    println!(
        "plan ({}): {} target(s) chosen of {} matched, {} eligible",
        plan.engine,
        plan.targets.len(),
        plan.matched,
        plan.eligible
    );
    for (i, s) in plan.steps.iter().enumerate() {
        println!("  {:>2}. {}", i + 1, s.summary);
        println!("      undo: {}", s.undo.summary());
    }
    for n in &plan.notes {
        println!("  note: {n}");
    }
    println!("guardrails:");
    for r in &p.guardrails {
        println!(
            "  {} {:<20} {}",
            if r.passed { "ok  " } else { "DENY" },
            r.rule,
            r.message
        );
    }
}

/// One journal line.
pub fn journal_line(e: &JournalEntry) -> String {
    let mut s = format!("#{:<3} {:<8} {}", e.seq, e.state.to_string(), e.summary);
    if e.attempts > 0 {
        s.push_str(&format!(
            " ({} attempt{})",
            e.attempts,
            if e.attempts == 1 { "" } else { "s" }
        ));
    }
    if let Some(n) = &e.note {
        s.push_str(&format!(" — {n}"));
    }
    if let Some(err) = &e.error {
        s.push_str(&format!(" — error: {err}"));
    }
    s
}

/// The JSON object `run --output json` and `show --output json` print.
pub fn record_json(rec: &ExperimentRecord, journal: &[JournalEntry]) -> serde_json::Value {
    serde_json::json!({
        "id": rec.id,
        "name": rec.name,
        "fault": rec.fault,
        "target": rec.target,
        "status": rec.status,
        "phase": rec.phase,
        "verdict": rec.verdict,
        "error": rec.error,
        "abort_reason": rec.abort_reason,
        "created_at": rec.created_at,
        "started_at": rec.started_at,
        "finished_at": rec.finished_at,
        "plan": rec.plan,
        "journal": journal,
    })
}
