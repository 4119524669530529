//! Failpoints for crash tests: `CHAOSDUCK_FAILPOINT=STEP[:N][,STEP[:N]...]` kills the process
//! with SIGKILL at the N-th time (default 1st) it reaches STEP, exactly as `kill -9` would.
//!
//! Steps: `after-plan`, `after-intent`, `after-apply`, `mid-observe`, `before-revert`,
//! `after-revert`, `before-finish`. `dashboard-panic:N` instead makes the dashboard panic at its
//! N-th key press (to test that a bug in the UI still rolls every fault back).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Every failpoint name, for documentation and validation.
pub const STEPS: &[&str] = &[
    "after-plan",
    "after-intent",
    "after-apply",
    "mid-observe",
    "before-revert",
    "after-revert",
    "before-finish",
];

struct Armed {
    targets: HashMap<String, u32>,
    hits: Mutex<HashMap<String, u32>>,
}

fn armed() -> &'static Option<Armed> {
    static A: OnceLock<Option<Armed>> = OnceLock::new();
    A.get_or_init(|| {
        let spec = std::env::var("CHAOSDUCK_FAILPOINT").ok()?;
        let mut targets = HashMap::new();
        for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, n) = match part.split_once(':') {
                Some((a, b)) => (a, b.parse().unwrap_or(1)),
                None => (part, 1),
            };
            targets.insert(name.to_string(), n.max(1));
        }
        Some(Armed {
            targets,
            hits: Mutex::new(HashMap::new()),
        })
    })
}

/// Counts a pass through `step`; true exactly at the pass its failpoint names.
pub fn reached(step: &str) -> bool {
    let Some(a) = armed() else { return false };
    let Some(&want) = a.targets.get(step) else {
        return false;
    };
    let n = {
        let mut hits = a.hits.lock().unwrap_or_else(|e| e.into_inner());
        let c = hits.entry(step.to_string()).or_insert(0);
        *c += 1;
        *c
    };
    n == want
}

/// Marks that the process reached `step`; dies here if a failpoint says so.
pub fn hit(step: &str) {
    if reached(step) {
        tracing::warn!(step, "failpoint: killing the process");
        // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
