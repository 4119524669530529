//! Safety: guardrails checked before any side effect, the write-ahead journal, LIFO rollback,
//! the emergency stop, recovery of what a dead process left, and failpoints for crash tests.

pub mod control;
pub mod emergency;
pub mod failpoint;
pub mod guardrails;
pub mod journal;
pub mod recovery;
pub mod rollback;
pub mod signals;
