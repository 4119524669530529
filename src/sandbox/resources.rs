//! The resource kinds the sandbox serves, and `Obj`, the typed object stored for each of them.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// One kind of object the sandbox stores and serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// core/v1 Namespace
    Namespace,
    /// core/v1 Node
    Node,
    /// core/v1 Pod
    Pod,
    /// core/v1 Service
    Service,
    /// core/v1 Event
    Event,
    /// apps/v1 Deployment
    Deployment,
    /// apps/v1 ReplicaSet
    ReplicaSet,
    /// apps/v1 StatefulSet
    StatefulSet,
    /// apps/v1 DaemonSet
    DaemonSet,
    /// discovery.k8s.io/v1 EndpointSlice
    EndpointSlice,
    /// networking.k8s.io/v1 NetworkPolicy
    NetworkPolicy,
    /// coordination.k8s.io/v1 Lease
    Lease,
    /// policy/v1 PodDisruptionBudget
    PodDisruptionBudget,
}

/// Static facts about a kind, used by routing and discovery.
#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    /// API group ("" for core).
    pub group: &'static str,
    /// API version inside the group.
    pub version: &'static str,
    /// URL plural ("pods").
    pub plural: &'static str,
    /// Singular name for discovery.
    pub singular: &'static str,
    /// Kind name ("Pod").
    pub kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// Subresources served (for discovery).
    pub subresources: &'static [&'static str],
}

impl Kind {
    /// Every kind, in discovery order.
    pub const ALL: [Kind; 13] = [
        Kind::Namespace,
        Kind::Node,
        Kind::Pod,
        Kind::Service,
        Kind::Event,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::EndpointSlice,
        Kind::NetworkPolicy,
        Kind::Lease,
        Kind::PodDisruptionBudget,
    ];

    /// Static facts about this kind.
    pub fn info(self) -> KindInfo {
        let (group, version, plural, singular, kind, namespaced, short_names, subresources): (
            &str,
            &str,
            &str,
            &str,
            &str,
            bool,
            &[&str],
            &[&str],
        ) = match self {
            Kind::Namespace => (
                "",
                "v1",
                "namespaces",
                "namespace",
                "Namespace",
                false,
                &["ns"],
                &["status"],
            ),
            Kind::Node => (
                "",
                "v1",
                "nodes",
                "node",
                "Node",
                false,
                &["no"],
                &["status"],
            ),
            Kind::Pod => (
                "",
                "v1",
                "pods",
                "pod",
                "Pod",
                true,
                &["po"],
                &["status", "ephemeralcontainers", "eviction", "exec"],
            ),
            Kind::Service => (
                "",
                "v1",
                "services",
                "service",
                "Service",
                true,
                &["svc"],
                &["status"],
            ),
            Kind::Event => ("", "v1", "events", "event", "Event", true, &["ev"], &[]),
            Kind::Deployment => (
                "apps",
                "v1",
                "deployments",
                "deployment",
                "Deployment",
                true,
                &["deploy"],
                &["status", "scale"],
            ),
            Kind::ReplicaSet => (
                "apps",
                "v1",
                "replicasets",
                "replicaset",
                "ReplicaSet",
                true,
                &["rs"],
                &["status", "scale"],
            ),
            Kind::StatefulSet => (
                "apps",
                "v1",
                "statefulsets",
                "statefulset",
                "StatefulSet",
                true,
                &["sts"],
                &["status", "scale"],
            ),
            Kind::DaemonSet => (
                "apps",
                "v1",
                "daemonsets",
                "daemonset",
                "DaemonSet",
                true,
                &["ds"],
                &["status"],
            ),
            Kind::EndpointSlice => (
                "discovery.k8s.io",
                "v1",
                "endpointslices",
                "endpointslice",
                "EndpointSlice",
                true,
                &[],
                &[],
            ),
            Kind::NetworkPolicy => (
                "networking.k8s.io",
                "v1",
                "networkpolicies",
                "networkpolicy",
                "NetworkPolicy",
                true,
                &["netpol"],
                &[],
            ),
            Kind::PodDisruptionBudget => (
                "policy",
                "v1",
                "poddisruptionbudgets",
                "poddisruptionbudget",
                "PodDisruptionBudget",
                true,
                &["pdb"],
                &["status"],
            ),
            Kind::Lease => (
                "coordination.k8s.io",
                "v1",
                "leases",
                "lease",
                "Lease",
                true,
                &[],
                &[],
            ),
        };
        KindInfo {
            group,
            version,
            plural,
            singular,
            kind,
            namespaced,
            short_names,
            subresources,
        }
    }

    /// `apiVersion` string ("v1", "apps/v1").
    pub fn api_version(self) -> String {
        let i = self.info();
        if i.group.is_empty() {
            i.version.to_string()
        } else {
            format!("{}/{}", i.group, i.version)
        }
    }

    /// Finds the kind served at `group`/`version`/`plural`.
    pub fn from_path(group: &str, version: &str, plural: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| {
            let i = k.info();
            i.group == group && i.version == version && i.plural == plural
        })
    }
}

macro_rules! objs {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// A stored object: one k8s-openapi type per kind.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Obj {
            $(#[doc = stringify!($variant)] $variant($ty),)*
        }

        impl Obj {
            /// The kind of this object.
            pub fn kind(&self) -> Kind {
                match self { $(Obj::$variant(_) => Kind::$variant,)* }
            }
            /// Object metadata.
            pub fn meta(&self) -> &ObjectMeta {
                match self { $(Obj::$variant(o) => &o.metadata,)* }
            }
            /// Mutable object metadata.
            pub fn meta_mut(&mut self) -> &mut ObjectMeta {
                match self { $(Obj::$variant(o) => &mut o.metadata,)* }
            }
            /// Serialises to JSON (with apiVersion and kind).
            pub fn to_value(&self) -> Value {
                let r = match self { $(Obj::$variant(o) => serde_json::to_value(o),)* };
                // Serialising these types cannot fail (no maps with non-string keys).
                r.unwrap_or(Value::Null)
            }
            /// Parses JSON as an object of `kind`.
            pub fn from_value(kind: Kind, v: Value) -> Result<Obj, serde_json::Error> {
                Ok(match kind { $(Kind::$variant => Obj::$variant(serde_json::from_value(v)?),)* })
            }
        }
    };
}

objs!(
    Namespace(Namespace),
    Node(Node),
    Pod(Pod),
    Service(Service),
    Event(Event),
    Deployment(Deployment),
    ReplicaSet(ReplicaSet),
    StatefulSet(StatefulSet),
    DaemonSet(DaemonSet),
    EndpointSlice(EndpointSlice),
    NetworkPolicy(NetworkPolicy),
    Lease(Lease),
    PodDisruptionBudget(PodDisruptionBudget),
);

impl Obj {
    /// Name of the object ("" when unset).
    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or("")
    }
    /// Namespace of the object ("" when cluster-scoped).
    pub fn namespace(&self) -> &str {
        self.meta().namespace.as_deref().unwrap_or("")
    }
    /// The pod, if this is one.
    pub fn as_pod(&self) -> Option<&Pod> {
        match self {
            Obj::Pod(p) => Some(p),
            _ => None,
        }
    }
}
