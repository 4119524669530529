//! Kubeconfig rendering for the sandbox (plain HTTP, no credentials).

use super::CONTEXT_NAME;

/// A kubeconfig whose current context `chaosduck-sandbox` points at `server`.
pub fn render(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {CONTEXT_NAME}\n  cluster:\n    server: {server}\ncontexts:\n- name: {CONTEXT_NAME}\n  context:\n    cluster: {CONTEXT_NAME}\n    user: {CONTEXT_NAME}\n    namespace: default\ncurrent-context: {CONTEXT_NAME}\nusers:\n- name: {CONTEXT_NAME}\n  user: {{}}\npreferences: {{}}\n"
    )
}
