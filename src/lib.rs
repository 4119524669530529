//! ChaosDuck: chaos engineering for Kubernetes and AWS from the terminal, with a crash-safe
//! rollback journal and faults that expire on their own.

pub mod ai;
pub mod cli;
pub mod config;
pub mod domain;
pub mod engine;
pub mod metrics;
pub mod probe;
pub mod safety;
pub mod sandbox;
pub mod store;
pub mod topology;
pub mod tui;
