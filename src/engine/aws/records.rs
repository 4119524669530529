//! Data carried by AWS actions and undo records: what a route pointed at, and the marks
//! (tags) ChaosDuck writes on everything it creates or changes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Tag naming the experiment that created or changed a resource.
pub const TAG_EXPERIMENT: &str = "chaosduck:experiment";
/// Tag holding the time (RFC 3339) after which no live run can still own the change.
pub const TAG_EXPIRES_AT: &str = "chaosduck:expires-at";
/// Instance tag: the state it was in before ChaosDuck stopped it.
pub const TAG_PRIOR_STATE: &str = "chaosduck:prior-state";
/// Blackhole interface tag: the route table it blackholes.
pub const TAG_ROUTE_TABLE: &str = "chaosduck:route-table";
/// Blackhole interface tag: the destination CIDR it blackholes.
pub const TAG_DESTINATION: &str = "chaosduck:destination";
/// Blackhole interface tag: the route's original target (see [`RouteTargetSpec::encode`]).
pub const TAG_ORIGINAL_TARGET: &str = "chaosduck:original-target";
/// Route table tag prefix: `chaosduck:original-route:<cidr>` = the original target.
pub const TAG_ORIGINAL_ROUTE_PREFIX: &str = "chaosduck:original-route:";
/// Subnet tag: the network ACL it was associated with before the swap.
pub const TAG_ORIGINAL_ACL: &str = "chaosduck:original-acl";
/// Deny-all ACL tags: the VPC and zone it cuts off.
pub const TAG_VPC: &str = "chaosduck:vpc";
/// See [`TAG_VPC`].
pub const TAG_ZONE: &str = "chaosduck:zone";
/// RDS tag: the writer before the failover.
pub const TAG_ORIGINAL_WRITER: &str = "chaosduck:original-writer";
/// RDS tag: whether the revert fails back to the original writer.
pub const TAG_FAIL_BACK: &str = "chaosduck:fail-back";
/// Value written where no route existed before ChaosDuck created one.
pub const NO_ROUTE: &str = "none";

/// The experiment and expiry written as tags on every artefact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsMark {
    /// The experiment id.
    pub experiment: String,
    /// RFC 3339 time after which the change is stale (the run's hard timeout has passed).
    pub expires_at: String,
}

/// What a route pointed at: every kind of target a route can have.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum RouteTargetSpec {
    /// Internet or virtual private gateway (`igw-`, `vgw-`).
    Gateway(String),
    /// NAT gateway (`nat-`).
    NatGateway(String),
    /// Transit gateway (`tgw-`).
    TransitGateway(String),
    /// VPC peering connection (`pcx-`).
    VpcPeering(String),
    /// Network interface (`eni-`).
    NetworkInterface(String),
    /// Instance (`i-`).
    Instance(String),
    /// Egress-only internet gateway (`eigw-`).
    EgressOnlyGateway(String),
    /// Gateway Load Balancer VPC endpoint (`vpce-`).
    VpcEndpoint(String),
    /// Local gateway (`lgw-`).
    LocalGateway(String),
    /// Carrier gateway (`cagw-`).
    CarrierGateway(String),
    /// Cloud WAN core network (ARN).
    CoreNetwork(String),
}

impl RouteTargetSpec {
    /// `kind:id`, as stored in tags.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.kind(), self.id())
    }

    /// Parses [`encode`](Self::encode)'s form.
    pub fn decode(s: &str) -> Option<RouteTargetSpec> {
        let (kind, id) = s.split_once(':')?;
        let id = id.to_string();
        if id.is_empty() {
            return None;
        }
        Some(match kind {
            "gateway" => RouteTargetSpec::Gateway(id),
            "nat-gateway" => RouteTargetSpec::NatGateway(id),
            "transit-gateway" => RouteTargetSpec::TransitGateway(id),
            "vpc-peering" => RouteTargetSpec::VpcPeering(id),
            "network-interface" => RouteTargetSpec::NetworkInterface(id),
            "instance" => RouteTargetSpec::Instance(id),
            "egress-only-gateway" => RouteTargetSpec::EgressOnlyGateway(id),
            "vpc-endpoint" => RouteTargetSpec::VpcEndpoint(id),
            "local-gateway" => RouteTargetSpec::LocalGateway(id),
            "carrier-gateway" => RouteTargetSpec::CarrierGateway(id),
            "core-network" => RouteTargetSpec::CoreNetwork(id),
            _ => return None,
        })
    }

    /// The kind, as in [`encode`](Self::encode).
    pub fn kind(&self) -> &'static str {
        match self {
            RouteTargetSpec::Gateway(_) => "gateway",
            RouteTargetSpec::NatGateway(_) => "nat-gateway",
            RouteTargetSpec::TransitGateway(_) => "transit-gateway",
            RouteTargetSpec::VpcPeering(_) => "vpc-peering",
            RouteTargetSpec::NetworkInterface(_) => "network-interface",
            RouteTargetSpec::Instance(_) => "instance",
            RouteTargetSpec::EgressOnlyGateway(_) => "egress-only-gateway",
            RouteTargetSpec::VpcEndpoint(_) => "vpc-endpoint",
            RouteTargetSpec::LocalGateway(_) => "local-gateway",
            RouteTargetSpec::CarrierGateway(_) => "carrier-gateway",
            RouteTargetSpec::CoreNetwork(_) => "core-network",
        }
    }

    /// The resource id (or ARN).
    pub fn id(&self) -> &str {
        match self {
            RouteTargetSpec::Gateway(s)
            | RouteTargetSpec::NatGateway(s)
            | RouteTargetSpec::TransitGateway(s)
            | RouteTargetSpec::VpcPeering(s)
            | RouteTargetSpec::NetworkInterface(s)
            | RouteTargetSpec::Instance(s)
            | RouteTargetSpec::EgressOnlyGateway(s)
            | RouteTargetSpec::VpcEndpoint(s)
            | RouteTargetSpec::LocalGateway(s)
            | RouteTargetSpec::CarrierGateway(s)
            | RouteTargetSpec::CoreNetwork(s) => s,
        }
    }
}

impl fmt::Display for RouteTargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.id())
    }
}

/// `original` as a tag value (`none` when the route did not exist).
pub fn encode_original(original: &Option<RouteTargetSpec>) -> String {
    original
        .as_ref()
        .map_or_else(|| NO_ROUTE.to_string(), RouteTargetSpec::encode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_targets_round_trip_through_tags() {
        for t in [
            RouteTargetSpec::Gateway("igw-1".into()),
            RouteTargetSpec::NatGateway("nat-1".into()),
            RouteTargetSpec::CoreNetwork("arn:aws:networkmanager::1:core-network/x".into()),
            RouteTargetSpec::Instance("i-1".into()),
        ] {
            assert_eq!(RouteTargetSpec::decode(&t.encode()), Some(t.clone()));
        }
        assert_eq!(RouteTargetSpec::decode("none"), None);
        assert_eq!(RouteTargetSpec::decode("gateway:"), None);
        assert_eq!(RouteTargetSpec::decode("bogus:x"), None);
    }
}
