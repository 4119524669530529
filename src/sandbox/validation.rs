//! Validation of created and updated objects: the subset of API-server validation that turns
//! obviously broken objects into `422 Invalid`.

use super::error::ApiError;
use super::resources::{Kind, Obj};
use super::selectors::selector_matches;

/// Whether `s` is a DNS-1123 subdomain (names of most objects).
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Whether `s` is a DNS-1123 label (namespaces, services, container names).
pub fn is_dns_label(s: &str) -> bool {
    is_dns_subdomain(s) && s.len() <= 63 && !s.contains('.')
}

/// Upper bound on workload replicas (the sandbox keeps everything in memory).
pub const MAX_REPLICAS: i32 = 100_000;

/// Validates an object before it is stored.
pub fn validate(obj: &Obj) -> Result<(), ApiError> {
    let kind = obj.kind();
    let kname = kind.info().kind;
    let name = obj.name();
    let label_kinds = matches!(kind, Kind::Namespace | Kind::Service);
    let ok = if label_kinds {
        is_dns_label(name)
    } else {
        is_dns_subdomain(name)
    };
    if !ok {
        return Err(ApiError::invalid(
            kname,
            name,
            format!(
                "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 name must consist of lower case alphanumeric characters, '-' or '.'"
            ),
        ));
    }
    match obj {
        Obj::Pod(p) => {
            let Some(spec) = &p.spec else {
                return Err(ApiError::invalid(kname, name, "spec: Required value"));
            };
            if spec.containers.is_empty() {
                return Err(ApiError::invalid(
                    kname,
                    name,
                    "spec.containers: Required value",
                ));
            }
            let mut seen = std::collections::BTreeSet::new();
            for c in &spec.containers {
                if !is_dns_label(&c.name) {
                    return Err(ApiError::invalid(
                        kname,
                        name,
                        format!("spec.containers.name: Invalid value: {:?}", c.name),
                    ));
                }
                if c.image.as_deref().unwrap_or("").is_empty() {
                    return Err(ApiError::invalid(
                        kname,
                        name,
                        format!("spec.containers[{}].image: Required value", c.name),
                    ));
                }
                if !seen.insert(c.name.as_str()) {
                    return Err(ApiError::invalid(
                        kname,
                        name,
                        format!("spec.containers.name: Duplicate value: {:?}", c.name),
                    ));
                }
            }
            for e in spec.ephemeral_containers.iter().flatten() {
                if !is_dns_label(&e.name) {
                    return Err(ApiError::invalid(
                        kname,
                        name,
                        format!("spec.ephemeralContainers.name: Invalid value: {:?}", e.name),
                    ));
                }
                if e.image.as_deref().unwrap_or("").is_empty() {
                    return Err(ApiError::invalid(
                        kname,
                        name,
                        format!("spec.ephemeralContainers[{}].image: Required value", e.name),
                    ));
                }
                if !seen.insert(e.name.as_str()) {
                    return Err(ApiError::invalid(
                        kname,
                        name,
                        format!(
                            "spec.ephemeralContainers.name: Duplicate value: {:?}",
                            e.name
                        ),
                    ));
                }
            }
        }
        Obj::Deployment(d) => {
            let Some(spec) = &d.spec else {
                return Err(ApiError::invalid(kname, name, "spec: Required value"));
            };
            check_replicas(kname, name, spec.replicas)?;
            check_selector(
                kname,
                name,
                Some(&spec.selector),
                spec.template.metadata.as_ref(),
            )?;
        }
        Obj::ReplicaSet(r) => {
            if let Some(spec) = &r.spec {
                check_replicas(kname, name, spec.replicas)?;
                check_selector(
                    kname,
                    name,
                    Some(&spec.selector),
                    spec.template.as_ref().and_then(|t| t.metadata.as_ref()),
                )?;
            }
        }
        Obj::StatefulSet(s) => {
            if let Some(spec) = &s.spec {
                check_replicas(kname, name, spec.replicas)?;
                check_selector(
                    kname,
                    name,
                    Some(&spec.selector),
                    spec.template.metadata.as_ref(),
                )?;
            }
        }
        Obj::DaemonSet(s) => {
            if let Some(spec) = &s.spec {
                check_selector(
                    kname,
                    name,
                    Some(&spec.selector),
                    spec.template.metadata.as_ref(),
                )?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_replicas(kname: &str, name: &str, r: Option<i32>) -> Result<(), ApiError> {
    if r.is_some_and(|r| !(0..=MAX_REPLICAS).contains(&r)) {
        return Err(ApiError::invalid(
            kname,
            name,
            format!(
                "spec.replicas: Invalid value: must be between 0 and {MAX_REPLICAS} in the sandbox"
            ),
        ));
    }
    Ok(())
}

fn check_selector(
    kname: &str,
    name: &str,
    sel: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    tmeta: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
) -> Result<(), ApiError> {
    let empty = sel.is_none_or(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|m| m.is_empty())
    });
    if empty {
        return Err(ApiError::invalid(
            kname,
            name,
            "spec.selector: Invalid value: empty selector is invalid for this workload",
        ));
    }
    if !selector_matches(sel, tmeta.and_then(|m| m.labels.as_ref())) {
        return Err(ApiError::invalid(
            kname,
            name,
            "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`",
        ));
    }
    Ok(())
}
