//! The simulated account: VPC resources, instances and RDS, with state transitions that take
//! simulated time, and injectable errors for tests.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Tags of a resource.
pub type Tags = BTreeMap<String, String>;

/// A VPC.
#[derive(Clone, Debug)]
pub struct Vpc {
    /// CIDR.
    pub cidr: String,
    /// Tags.
    pub tags: Tags,
}

/// A subnet.
#[derive(Clone, Debug)]
pub struct Subnet {
    /// Its VPC.
    pub vpc: String,
    /// Zone name.
    pub az: String,
    /// CIDR.
    pub cidr: String,
    /// Tags.
    pub tags: Tags,
}

/// A route: destination and a target `(field, id)`, e.g. `("gatewayId", "igw-1")`.
#[derive(Clone, Debug)]
pub struct Route {
    /// Destination CIDR.
    pub dest: String,
    /// The response field naming the target, and the target id.
    pub target: (String, String),
    /// `CreateRouteTable` for the local route, else `CreateRoute`.
    pub origin: &'static str,
}

/// A route table.
#[derive(Clone, Debug)]
pub struct RouteTable {
    /// Its VPC.
    pub vpc: String,
    /// Routes.
    pub routes: Vec<Route>,
    /// (association id, subnet, main).
    pub associations: Vec<(String, Option<String>, bool)>,
    /// Tags.
    pub tags: Tags,
}

/// A network interface.
#[derive(Clone, Debug)]
pub struct Eni {
    /// Subnet.
    pub subnet: String,
    /// Description.
    pub description: String,
    /// The instance it is attached to.
    pub attached_to: Option<String>,
    /// Tags.
    pub tags: Tags,
}

/// A network ACL.
#[derive(Clone, Debug)]
pub struct Acl {
    /// Its VPC.
    pub vpc: String,
    /// The VPC's default ACL.
    pub default: bool,
    /// (association id, subnet).
    pub associations: Vec<(String, String)>,
    /// Tags.
    pub tags: Tags,
}

/// A state change that completes at `at`.
#[derive(Clone, Debug)]
pub struct Pending {
    /// When it completes.
    pub at: Instant,
    /// The state then.
    pub to: String,
}

/// An EC2 instance.
#[derive(Clone, Debug)]
pub struct Instance {
    /// Subnet.
    pub subnet: String,
    /// Type.
    pub instance_type: String,
    /// Image.
    pub image: String,
    /// State name.
    pub state: String,
    /// A transition under way.
    pub pending: Option<Pending>,
    /// Its primary interface.
    pub eni: String,
    /// Tags.
    pub tags: Tags,
}

/// An RDS cluster.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// Engine.
    pub engine: String,
    /// (instance id, writer).
    pub members: Vec<(String, bool)>,
    /// Status.
    pub status: String,
    /// A failover under way: when it completes and the new writer.
    pub failover: Option<(Instant, String)>,
    /// Tags.
    pub tags: Tags,
}

/// An RDS instance.
#[derive(Clone, Debug)]
pub struct DbInstance {
    /// Cluster, if a member.
    pub cluster: Option<String>,
    /// Engine.
    pub engine: String,
    /// Class.
    pub class: String,
    /// Multi-AZ.
    pub multi_az: bool,
    /// Primary zone.
    pub az: String,
    /// Standby zone.
    pub secondary_az: Option<String>,
    /// Status.
    pub status: String,
    /// A reboot under way (completes at).
    pub reboot: Option<(Instant, bool)>,
    /// Tags.
    pub tags: Tags,
}

/// An error the next matching calls return.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InjectedError {
    /// The API action, e.g. `StopInstances` (`*` for any).
    pub action: String,
    /// The error code, e.g. `RequestLimitExceeded`.
    pub code: String,
    /// The HTTP status.
    #[serde(default = "default_status")]
    pub status: u16,
    /// How many calls fail.
    #[serde(default = "one")]
    pub count: u32,
    /// The message.
    #[serde(default)]
    pub message: String,
}

fn default_status() -> u16 {
    400
}

fn one() -> u32 {
    1
}

/// The whole account.
#[derive(Debug)]
pub struct Account {
    /// Account id.
    pub account_id: String,
    /// Region.
    pub region: String,
    /// How long simulated transitions take.
    pub transition: Duration,
    /// Id counter.
    pub next: u64,
    /// VPCs.
    pub vpcs: BTreeMap<String, Vpc>,
    /// Subnets.
    pub subnets: BTreeMap<String, Subnet>,
    /// Route tables.
    pub route_tables: BTreeMap<String, RouteTable>,
    /// Gateways, NAT gateways, peering connections and other route targets: id -> (kind, vpc).
    pub gateways: BTreeMap<String, (String, Option<String>)>,
    /// Network interfaces.
    pub enis: BTreeMap<String, Eni>,
    /// Network ACLs.
    pub acls: BTreeMap<String, Acl>,
    /// Instances.
    pub instances: BTreeMap<String, Instance>,
    /// RDS clusters.
    pub clusters: BTreeMap<String, Cluster>,
    /// RDS instances.
    pub db_instances: BTreeMap<String, DbInstance>,
    /// Injected errors.
    pub errors: Vec<InjectedError>,
}

impl Account {
    /// An empty account.
    pub fn new(transition: Duration) -> Self {
        Account {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            transition,
            next: 0x1000,
            vpcs: BTreeMap::new(),
            subnets: BTreeMap::new(),
            route_tables: BTreeMap::new(),
            gateways: BTreeMap::new(),
            enis: BTreeMap::new(),
            acls: BTreeMap::new(),
            instances: BTreeMap::new(),
            clusters: BTreeMap::new(),
            db_instances: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    /// A new id with a prefix, e.g. `vpc-0000000000001001`.
    pub fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}-{:017x}", self.next)
    }

    /// Completes transitions whose time has come.
    pub fn tick(&mut self) {
        let now = Instant::now();
        for i in self.instances.values_mut() {
            if let Some(p) = i.pending.clone()
                && p.at <= now
            {
                i.state = p.to;
                i.pending = None;
            }
        }
        for c in self.clusters.values_mut() {
            if let Some((at, writer)) = c.failover.clone()
                && at <= now
            {
                for m in &mut c.members {
                    m.1 = m.0 == writer;
                }
                c.status = "available".into();
                c.failover = None;
            }
        }
        for d in self.db_instances.values_mut() {
            if let Some((at, failover)) = d.reboot
                && at <= now
            {
                if failover && let Some(sec) = d.secondary_az.take() {
                    d.secondary_az = Some(std::mem::replace(&mut d.az, sec));
                }
                d.status = "available".into();
                d.reboot = None;
            }
        }
    }

    /// Takes an injected error for `action`, if one is armed.
    pub fn take_error(&mut self, action: &str) -> Option<InjectedError> {
        let i = self
            .errors
            .iter()
            .position(|e| (e.action == action || e.action == "*") && e.count > 0)?;
        let e = self.errors[i].clone();
        self.errors[i].count -= 1;
        if self.errors[i].count == 0 {
            self.errors.remove(i);
        }
        Some(e)
    }

    /// The VPC of a subnet.
    pub fn vpc_of_subnet(&self, subnet: &str) -> Option<String> {
        self.subnets.get(subnet).map(|s| s.vpc.clone())
    }

    /// The default ACL of a VPC.
    pub fn default_acl(&self, vpc: &str) -> Option<String> {
        self.acls
            .iter()
            .find(|(_, a)| a.vpc == vpc && a.default)
            .map(|(id, _)| id.clone())
    }

    /// Tags of any EC2 resource, mutable.
    pub fn ec2_tags_mut(&mut self, id: &str) -> Option<&mut Tags> {
        if let Some(v) = self.vpcs.get_mut(id) {
            return Some(&mut v.tags);
        }
        if let Some(v) = self.subnets.get_mut(id) {
            return Some(&mut v.tags);
        }
        if let Some(v) = self.route_tables.get_mut(id) {
            return Some(&mut v.tags);
        }
        if let Some(v) = self.enis.get_mut(id) {
            return Some(&mut v.tags);
        }
        if let Some(v) = self.acls.get_mut(id) {
            return Some(&mut v.tags);
        }
        if let Some(v) = self.instances.get_mut(id) {
            return Some(&mut v.tags);
        }
        None
    }

    /// Creates a VPC with its main route table (local route) and default ACL.
    pub fn create_vpc(&mut self, cidr: &str, tags: Tags) -> String {
        let vpc = self.id("vpc");
        self.vpcs.insert(
            vpc.clone(),
            Vpc {
                cidr: cidr.into(),
                tags,
            },
        );
        let rtb = self.id("rtb");
        let assoc = self.id("rtbassoc");
        self.route_tables.insert(
            rtb,
            RouteTable {
                vpc: vpc.clone(),
                routes: vec![Route {
                    dest: cidr.into(),
                    target: ("gatewayId".into(), "local".into()),
                    origin: "CreateRouteTable",
                }],
                associations: vec![(assoc, None, true)],
                tags: Tags::new(),
            },
        );
        let acl = self.id("acl");
        self.acls.insert(
            acl,
            Acl {
                vpc: vpc.clone(),
                default: true,
                associations: vec![],
                tags: Tags::new(),
            },
        );
        vpc
    }

    /// Creates a subnet, associated with the VPC's default ACL.
    pub fn create_subnet(&mut self, vpc: &str, cidr: &str, az: &str, tags: Tags) -> String {
        let id = self.id("subnet");
        self.subnets.insert(
            id.clone(),
            Subnet {
                vpc: vpc.into(),
                az: az.into(),
                cidr: cidr.into(),
                tags,
            },
        );
        let assoc = self.id("aclassoc");
        if let Some(acl) = self.default_acl(vpc)
            && let Some(a) = self.acls.get_mut(&acl)
        {
            a.associations.push((assoc, id.clone()));
        }
        id
    }

    /// Creates a route table.
    pub fn create_route_table(&mut self, vpc: &str, tags: Tags) -> Option<String> {
        let cidr = self.vpcs.get(vpc)?.cidr.clone();
        let id = self.id("rtb");
        self.route_tables.insert(
            id.clone(),
            RouteTable {
                vpc: vpc.into(),
                routes: vec![Route {
                    dest: cidr,
                    target: ("gatewayId".into(), "local".into()),
                    origin: "CreateRouteTable",
                }],
                associations: vec![],
                tags,
            },
        );
        Some(id)
    }

    /// Creates a network interface.
    pub fn create_eni(&mut self, subnet: &str, description: &str, tags: Tags) -> String {
        let id = self.id("eni");
        self.enis.insert(
            id.clone(),
            Eni {
                subnet: subnet.into(),
                description: description.into(),
                attached_to: None,
                tags,
            },
        );
        id
    }

    /// Launches a running instance with its own interface.
    pub fn run_instance(
        &mut self,
        subnet: &str,
        instance_type: &str,
        image: &str,
        tags: Tags,
    ) -> String {
        let id = self.id("i");
        let eni = self.create_eni(subnet, "Primary network interface", Tags::new());
        if let Some(e) = self.enis.get_mut(&eni) {
            e.attached_to = Some(id.clone());
        }
        self.instances.insert(
            id.clone(),
            Instance {
                subnet: subnet.into(),
                instance_type: instance_type.into(),
                image: image.into(),
                state: "running".into(),
                pending: None,
                eni,
                tags,
            },
        );
        id
    }

    /// The ARN of an RDS resource.
    pub fn rds_arn(&self, kind: &str, id: &str) -> String {
        format!(
            "arn:aws:rds:{}:{}:{kind}:{id}",
            self.region, self.account_id
        )
    }
}
