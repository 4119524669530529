//! Topology: what the operator sees and targets — the Kubernetes graph from watch caches, and the
//! AWS graph from paged describe calls.

pub mod aws;
pub mod k8s;
