//! A file-backed simulated world for trying ChaosDuck without a cluster and for crash tests.
//!
//! `DIR/world.json` lists pods (namespace, name, labels) and nodes (name, labels). Injecting a
//! fault writes a marker file `DIR/<experiment>-<n>.fault`; reverting removes it and appends the
//! marker name to `DIR/undo.log`, only when it really removed one, so a test can check that each
//! undo took effect exactly once. Two optional files make it misbehave on purpose:
//! `DIR/fail-apply` (target names whose injection fails) and `DIR/fail-revert` (lines
//! `NAME COUNT` or `NAME always`: that many reverts of NAME fail before one succeeds).

use super::plan::{Action, Plan, PlannedStep, TargetRef};
use super::{EngineError, FaultBackend, PlanContext, RevertOutcome};
use crate::domain::target::Target;
use crate::domain::{ExperimentDoc, FaultKind, LabelSelector};
use crate::safety::journal::UndoRecord;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The world file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    /// Simulated pods.
    #[serde(default)]
    pub pods: Vec<WorldPod>,
    /// Simulated nodes.
    #[serde(default)]
    pub nodes: Vec<WorldNode>,
}

/// A simulated pod.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldPod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A simulated node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldNode {
    /// Name.
    pub name: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The test-world backend, bound to one directory.
pub struct TestWorld {
    dir: PathBuf,
}

impl TestWorld {
    /// A backend for `dir` (which must hold `world.json` to plan; reverts need only the dir).
    pub fn new(dir: &Path) -> Self {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        TestWorld { dir }
    }

    async fn world(&self) -> Result<World, EngineError> {
        let p = self.dir.join("world.json");
        let text = tokio::fs::read_to_string(&p)
            .await
            .map_err(|e| EngineError::Plan(format!("cannot read {}: {e}", p.display())))?;
        serde_json::from_str(&text).map_err(|e| EngineError::Plan(format!("{}: {e}", p.display())))
    }
}

fn select<'a, T>(
    items: impl Iterator<Item = &'a T>,
    name: impl Fn(&T) -> &str,
    labels: impl Fn(&T) -> &BTreeMap<String, String>,
    selector: Option<&LabelSelector>,
    names: &[String],
) -> Vec<&'a T>
where
    T: 'a,
{
    items
        .filter(|it| {
            names.iter().any(|n| n == name(it))
                || selector.is_some_and(|s| !s.is_empty() && s.matches(labels(it)))
        })
        .collect()
}

#[async_trait]
impl FaultBackend for TestWorld {
    fn name(&self) -> &'static str {
        "test-world"
    }

    fn handles(&self, kind: FaultKind) -> bool {
        kind.is_kubernetes()
    }

    fn handles_undo(&self, undo: &UndoRecord) -> bool {
        matches!(undo, UndoRecord::TestWorldUnmark { .. })
    }

    async fn plan(&self, doc: &ExperimentDoc, ctx: &PlanContext) -> Result<Plan, EngineError> {
        let world = self.world().await?;
        let (namespace, eligible, mut matched): (Option<String>, usize, Vec<TargetRef>) =
            match &doc.spec.target {
                Target::Pods(t) => {
                    let in_ns: Vec<&WorldPod> = world
                        .pods
                        .iter()
                        .filter(|p| p.namespace == t.namespace)
                        .collect();
                    let m = select(
                        in_ns.iter().copied(),
                        |p| &p.name,
                        |p| &p.labels,
                        t.selector.as_ref(),
                        &t.names,
                    );
                    let refs = m
                        .into_iter()
                        .map(|p| TargetRef {
                            kind: "pod".into(),
                            name: format!("{}/{}", p.namespace, p.name),
                            labels: p.labels.clone(),
                        })
                        .collect();
                    (Some(t.namespace.clone()), in_ns.len(), refs)
                }
                Target::Nodes(t) => {
                    let m = select(
                        world.nodes.iter(),
                        |n| &n.name,
                        |n| &n.labels,
                        t.selector.as_ref(),
                        &t.names,
                    );
                    let refs = m
                        .into_iter()
                        .map(|n| TargetRef {
                            kind: "node".into(),
                            name: n.name.clone(),
                            labels: n.labels.clone(),
                        })
                        .collect();
                    (None, world.nodes.len(), refs)
                }
                other => {
                    return Err(EngineError::Plan(format!(
                        "the test world has no {}",
                        other.kind()
                    )));
                }
            };
        matched.sort();
        let n_matched = matched.len();
        if let Some(c) = doc.spec.target.count() {
            matched.truncate(c.of(n_matched));
        }
        let fault =
            serde_json::to_string(&doc.spec.fault).map_err(|e| EngineError::Plan(e.to_string()))?;
        let steps = matched
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let marker = format!("{}-{}.fault", ctx.experiment_id, i + 1);
                PlannedStep {
                    target: t.clone(),
                    action: Action::TestWorldMark {
                        world: self.dir.clone(),
                        marker: marker.clone(),
                        content: format!("{}\n{fault}\n", t.name),
                    },
                    undo: UndoRecord::TestWorldUnmark {
                        world: self.dir.clone(),
                        marker,
                    },
                    summary: format!("{} on {t}", doc.fault_kind()),
                }
            })
            .collect();
        Ok(Plan {
            engine: self.name().into(),
            namespace,
            eligible,
            matched: n_matched,
            targets: matched,
            steps,
            notes: vec![
                "the test world picks the first targets by name; real engines pick at random"
                    .into(),
            ],
        })
    }

    async fn apply(&self, step: &PlannedStep) -> Result<(), EngineError> {
        let Action::TestWorldMark {
            world,
            marker,
            content,
        } = &step.action
        else {
            return Err(EngineError::Apply(format!(
                "the test world cannot apply {:?}",
                step.action
            )));
        };
        let fail = tokio::fs::read_to_string(world.join("fail-apply"))
            .await
            .unwrap_or_default();
        if fail.lines().any(|l| l.trim() == step.target.name) {
            return Err(EngineError::Apply(format!(
                "simulated injection failure on {}",
                step.target
            )));
        }
        tokio::fs::write(world.join(marker), content)
            .await
            .map_err(|e| EngineError::Apply(format!("cannot write marker {marker}: {e}")))
    }

    async fn revert(&self, undo: &UndoRecord) -> Result<RevertOutcome, EngineError> {
        let UndoRecord::TestWorldUnmark { world, marker } = undo else {
            return Err(EngineError::NoUndoBackend(undo.summary()));
        };
        if !marker.ends_with(".fault") || marker.contains('/') {
            return Err(EngineError::Revert(format!(
                "refusing to remove {marker:?}: not a test-world marker"
            )));
        }
        let path = world.join(marker);
        let content = match tokio::fs::read_to_string(&path).await {
            Ok(c) => c,
            // Never applied, or already reverted: nothing to do.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(RevertOutcome::default());
            }
            Err(e) => {
                return Err(EngineError::Revert(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let target = content.lines().next().unwrap_or_default().to_string();
        let fr = world.join("fail-revert");
        if let Ok(text) = tokio::fs::read_to_string(&fr).await {
            let mut fail = false;
            let lines: Vec<String> = text
                .lines()
                .map(|l| {
                    let mut parts = l.split_whitespace();
                    match (parts.next(), parts.next()) {
                        (Some(n), Some("always")) if n == target => {
                            fail = true;
                            l.to_string()
                        }
                        (Some(n), Some(c)) if n == target => match c.parse::<u32>() {
                            Ok(k) if k > 0 => {
                                fail = true;
                                format!("{n} {}", k - 1)
                            }
                            _ => l.to_string(),
                        },
                        _ => l.to_string(),
                    }
                })
                .collect();
            if fail {
                let _ = tokio::fs::write(&fr, lines.join("\n") + "\n").await;
                return Err(EngineError::Revert(format!(
                    "simulated revert failure on {target}"
                )));
            }
        }
        tokio::fs::remove_file(&path)
            .await
            .map_err(|e| EngineError::Revert(format!("cannot remove {}: {e}", path.display())))?;
        use tokio::io::AsyncWriteExt;
        let mut log = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(world.join("undo.log"))
            .await
            .map_err(|e| EngineError::Revert(format!("cannot open undo.log: {e}")))?;
        log.write_all(format!("{marker}\n").as_bytes())
            .await
            .map_err(|e| EngineError::Revert(format!("cannot write undo.log: {e}")))?;
        log.sync_all()
            .await
            .map_err(|e| EngineError::Revert(e.to_string()))?;
        // Verify: the marker is gone.
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Err(EngineError::Revert(format!(
                "{} is still there after removal",
                path.display()
            )));
        }
        Ok(RevertOutcome {
            note: Some(format!("{target} clean")),
        })
    }
}
