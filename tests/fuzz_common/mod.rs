//! Shared harness of the `fuzz_*` targets: a proptest runner whose case count comes from
//! `PROPTEST_CASES` (a small default for CI), whose failures are persisted under
//! `proptest-regressions/` (committed, replayed first on every run), and which prints how many
//! inputs it executed and how many crashed, so a long campaign reports its numbers.
//!
//! Each case runs on its own thread under a time limit: a hang is reported as a failure with
//! the input instead of blocking the suite.
#![allow(dead_code)]

pub mod json;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestError, TestRunner};
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs `test` on inputs from `strategy`: `default_cases` of them unless `PROPTEST_CASES` says
/// otherwise. `target` names the regression file (`proptest-regressions/TARGET.txt`).
pub fn run<S>(
    target: &'static str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    // A shrink of a slow input must not itself take forever.
    config.max_shrink_time = 60_000;
    config.source_file = Some("tests/fuzz_common/mod.rs");
    let path: &'static str =
        Box::leak(format!("proptest-regressions/{target}.txt").into_boxed_str());
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(path)));
    let cases = config.cases;
    let executions = AtomicU64::new(0);
    let failures = AtomicU64::new(0);
    let start = Instant::now();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |v| {
        executions.fetch_add(1, Ordering::Relaxed);
        let r = test(v);
        if r.is_err() {
            failures.fetch_add(1, Ordering::Relaxed);
        }
        r
    });
    // Executions include the replayed regressions and the shrinking steps; crashes are the
    // distinct minimal failures (proptest stops at the first one).
    let crashes = u64::from(result.is_err());
    eprintln!(
        "fuzz {target}: {} executions ({cases} cases requested) in {:.1?}, {} failing executions, {crashes} crash found",
        executions.load(Ordering::Relaxed),
        start.elapsed(),
        failures.load(Ordering::Relaxed),
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => {
            panic!("fuzz {target}: {why}\nminimal input: {input:#?}")
        }
        Err(TestError::Abort(why)) => panic!("fuzz {target}: aborted: {why}"),
    }
}

/// The number of cases a run asks for: `PROPTEST_CASES`, else `default_cases`.
pub fn cases(default_cases: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases)
}

/// Runs `f` on a fresh thread and fails the case when it panics or outlasts `limit`.
pub fn within<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TestCaseError> {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("fuzz-case".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| TestCaseError::fail(format!("cannot start the case thread: {e}")))?;
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = handle.join();
            Ok(v)
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let msg = match handle.join() {
                Err(p) => p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic".into()),
                Ok(()) => "the case ended without a result".into(),
            };
            Err(TestCaseError::fail(format!("PANIC: {msg}")))
        }
        // The thread is left behind: a hang is the finding, and the report names the input.
        Err(mpsc::RecvTimeoutError::Timeout) => Err(TestCaseError::fail(format!(
            "HANG: no result within {limit:?}"
        ))),
    }
}
