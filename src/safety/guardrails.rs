//! Guardrails: rules checked against a plan before any side effect. Every refusal names its
//! rule and says how to proceed.

use crate::config::Config;
use crate::domain::{Amount, ExperimentDoc};
use crate::engine::plan::Plan;
use serde::Serialize;

/// The outcome of one rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleVerdict {
    /// The rule's name, e.g. `blast-radius`.
    pub rule: &'static str,
    /// Whether it lets the run go ahead.
    pub passed: bool,
    /// What it found and, for refusals, how to proceed.
    pub message: String,
}

/// What the rules need besides the plan.
#[derive(Clone, Debug, Default)]
pub struct GuardContext<'a> {
    /// `--confirm-namespace` from the command line.
    pub confirm_namespace: Option<&'a str>,
    /// Faults active now across the store (open journal entries).
    pub active_faults: usize,
    /// The emergency-stop latch, if set.
    pub latched: Option<String>,
}

/// Checks every rule; the run may go ahead only if all pass.
pub fn check(
    doc: &ExperimentDoc,
    plan: &Plan,
    cfg: &Config,
    ctx: &GuardContext<'_>,
) -> Vec<RuleVerdict> {
    let mut v = Vec::new();
    let mut rule = |rule: &'static str, passed: bool, message: String| {
        v.push(RuleVerdict {
            rule,
            passed,
            message,
        })
    };

    match &ctx.latched {
        Some(why) => rule(
            "emergency-stop",
            false,
            format!(
                "the emergency stop is latched ({why}); run `chaosduck reset` once the system is safe"
            ),
        ),
        None => rule("emergency-stop", true, "not latched".into()),
    }

    let target = &doc.spec.target;
    let selector_empty = match target {
        crate::domain::Target::Pods(t) => {
            t.selector.as_ref().is_none_or(|s| s.is_empty()) && t.names.is_empty()
        }
        crate::domain::Target::Nodes(t) => {
            t.selector.as_ref().is_none_or(|s| s.is_empty()) && t.names.is_empty()
        }
        crate::domain::Target::Instances(t) => t.ids.is_empty() && t.tags.is_empty(),
        _ => false,
    };
    rule(
        "non-empty-selector",
        !selector_empty,
        if selector_empty {
            "the target has no selector and no names, which would select everything; add a selector"
                .into()
        } else {
            format!("target: {}", target.summary())
        },
    );

    rule(
        "targets-found",
        !plan.targets.is_empty(),
        if plan.targets.is_empty() {
            format!(
                "nothing matched {} ({} eligible); check the selector and namespace",
                target.summary(),
                plan.eligible
            )
        } else {
            format!(
                "{} of {} matched, {} chosen",
                plan.matched,
                plan.eligible,
                plan.targets.len()
            )
        },
    );

    let limit = doc
        .spec
        .safety
        .blast_radius
        .unwrap_or(cfg.guardrails.default_blast_radius);
    let affected = plan.targets.len();
    let allowed = match limit {
        Amount::Count(n) => usize::try_from(n).unwrap_or(usize::MAX),
        Amount::Percent(_) => limit.of(plan.eligible),
    };
    rule(
        "blast-radius",
        affected <= allowed,
        if affected <= allowed {
            format!(
                "{affected} of {} eligible affected, limit {limit} ({allowed})",
                plan.eligible
            )
        } else {
            format!(
                "{affected} of {} eligible would be affected, more than the limit {limit} ({allowed}); narrow the target, set target.count, or raise spec.safety.blastRadius",
                plan.eligible
            )
        },
    );

    if let Some(ns) = target.namespace() {
        let protected = cfg.guardrails.protected_namespaces.iter().find(|g| {
            globset::Glob::new(g)
                .map(|g| g.compile_matcher().is_match(ns))
                .unwrap_or(false)
        });
        match protected {
            None => rule(
                "protected-namespace",
                true,
                format!("namespace {ns} is not protected"),
            ),
            Some(glob) => {
                let confirmed = ctx.confirm_namespace == Some(ns)
                    || doc.spec.safety.confirm_namespace.as_deref() == Some(ns);
                rule(
                    "protected-namespace",
                    confirmed,
                    if confirmed {
                        format!("namespace {ns} is protected ({glob}) and was confirmed by name")
                    } else {
                        format!(
                            "namespace {ns} is protected ({glob}); confirm by typing it: --confirm-namespace {ns}"
                        )
                    },
                );
            }
        }
    }

    let cap = cfg.guardrails.max_active_faults;
    let total = ctx.active_faults + plan.steps.len();
    rule(
        "max-active-faults",
        total <= cap,
        if total <= cap {
            format!(
                "{} active + {} new ≤ {cap}",
                ctx.active_faults,
                plan.steps.len()
            )
        } else {
            format!(
                "{} faults are active and this run adds {}, above the cap of {cap}; wait for them to end, run `chaosduck recover`, or raise guardrails.max_active_faults",
                ctx.active_faults,
                plan.steps.len()
            )
        },
    );

    let timeout = doc.spec.effective_timeout();
    let max = cfg.guardrails.max_timeout.get();
    rule(
        "max-timeout",
        timeout <= max,
        if timeout <= max {
            format!("hard timeout {}", humantime::format_duration(timeout))
        } else {
            format!(
                "the hard timeout {} is above the cap {}; shorten spec.duration / spec.safety.timeout or raise guardrails.max_timeout",
                humantime::format_duration(timeout),
                humantime::format_duration(max)
            )
        },
    );

    if !doc.fault_kind().is_kubernetes() && !cfg.aws.required_tags.is_empty() {
        let missing: Vec<String> = plan
            .targets
            .iter()
            .filter(|t| {
                cfg.aws
                    .required_tags
                    .iter()
                    .any(|(k, val)| t.labels.get(k) != Some(val))
            })
            .map(|t| t.name.clone())
            .collect();
        rule(
            "required-tags",
            missing.is_empty(),
            if missing.is_empty() {
                "every target carries the required tags".into()
            } else {
                format!(
                    "{} lack the required tags {:?}; tag them or change aws.required_tags",
                    missing.join(", "),
                    cfg.aws.required_tags
                )
            },
        );
    }
    if !doc.fault_kind().is_kubernetes() {
        aws_scope_rule(
            &mut rule,
            plan,
            "allowed-regions",
            crate::engine::aws::LABEL_REGION,
            &cfg.aws.allowed_regions,
            "region",
            "aws.allowed_regions",
        );
        aws_scope_rule(
            &mut rule,
            plan,
            "allowed-accounts",
            crate::engine::aws::LABEL_ACCOUNT,
            &cfg.aws.allowed_accounts,
            "account",
            "aws.allowed_accounts",
        );
    }
    v
}

/// Refuses AWS targets outside the allowed regions or accounts (an empty list allows any). A
/// target whose region or account is unknown is refused when a list is set.
fn aws_scope_rule(
    rule: &mut impl FnMut(&'static str, bool, String),
    plan: &Plan,
    name: &'static str,
    label: &str,
    allowed: &[String],
    what: &str,
    key: &str,
) {
    if allowed.is_empty() {
        return;
    }
    let outside: Vec<String> = plan
        .targets
        .iter()
        .filter(|t| !t.labels.get(label).is_some_and(|v| allowed.contains(v)))
        .map(|t| {
            format!(
                "{} ({what} {})",
                t.name,
                t.labels.get(label).map_or("unknown", String::as_str)
            )
        })
        .collect();
    rule(
        name,
        outside.is_empty(),
        if outside.is_empty() {
            format!(
                "every target is in an allowed {what} ({})",
                allowed.join(", ")
            )
        } else {
            format!(
                "{} outside {key} {:?}; choose targets there or extend {key}",
                outside.join(", "),
                allowed
            )
        },
    );
}

/// The first refusal, if any.
pub fn first_refusal(v: &[RuleVerdict]) -> Option<&RuleVerdict> {
    v.iter().find(|r| !r.passed)
}
