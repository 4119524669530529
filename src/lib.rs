//! ChaosDuck: chaos engineering for Kubernetes and AWS from the terminal.

pub mod sandbox;
