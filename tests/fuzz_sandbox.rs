//! Fuzz target: the sandboxes' request handling, over raw TCP so nothing is cleaned up first.
//!
//! The Kubernetes sandbox gets random methods, paths under `/api/v1` and `/apis/...`, query
//! strings (labelSelector, fieldSelector, limit, continue, watch, resourceVersion, ...), headers,
//! mutated objects, patches and garbage bodies, and Content-Length lies in both directions. The
//! AWS sandbox account gets random `Action=` forms (real actions with random ids, filters and
//! globs, and garbage). Property: every complete request is answered with an HTTP status within
//! a time limit, nothing in the process panics, and a valid request is still served afterwards.
//!
//! The campaign (see `fuzz/README.md`):
//!
//! ```sh
//! PROPTEST_CASES=20000 cargo test --release --test fuzz_sandbox -- --nocapture
//! ```

mod fuzz_common;

use chaosduck::sandbox::{Sandbox, SandboxOptions, aws};
use fuzz_common::json::mutate;
use fuzz_common::run;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// How long a complete request may wait for its status line.
const ANSWER: Duration = Duration::from_secs(5);

/// Panics anywhere in this process (the sandboxes run in it), counted by a hook.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            prev(info);
        }));
    });
}

/// The two targets run in parallel; each checks the counter around its own cases, so they
/// take turns.
static TURN: Mutex<()> = Mutex::new(());

/// What came back for one request.
#[derive(Debug, PartialEq)]
enum Outcome {
    Status(u16),
    /// The server closed without a status line (fine only for a request that was not whole).
    Closed,
    /// Nothing within the time limit.
    Silent,
}

/// Sends raw bytes; reads until the status line. `half_close` ends our side after writing.
fn exchange(addr: SocketAddr, bytes: &[u8], half_close: bool) -> Outcome {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, ANSWER) else {
        return Outcome::Silent;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(250)));
    let _ = s.set_write_timeout(Some(ANSWER));
    // The server may answer (and close) before reading a whole body: a write error is fine.
    let _ = s.write_all(bytes);
    if half_close {
        let _ = s.shutdown(Shutdown::Write);
    }
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while start.elapsed() < ANSWER {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(2).any(|w| w == b"\r\n") || got.len() > 64 {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let line = String::from_utf8_lossy(&got);
    if let Some(code) = line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| line.strip_prefix("HTTP/1.0 "))
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
    {
        return Outcome::Status(code);
    }
    if got.is_empty() && start.elapsed() >= ANSWER {
        Outcome::Silent
    } else {
        Outcome::Closed
    }
}

/// How the request's length is told.
#[derive(Clone, Debug)]
enum Length {
    Exact,
    /// Claims more than is sent: the request is never whole.
    More(usize),
    /// Claims less: the rest reads as the next request.
    Less(usize),
    Absent,
    /// `Transfer-Encoding: chunked` with the body sent as one (possibly broken) chunk.
    Chunked {
        broken: bool,
    },
    /// Two Content-Length headers that disagree.
    Twice,
}

#[derive(Clone)]
struct RawRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    length: Length,
}

impl std::fmt::Debug for RawRequest {
    // The body as text, so a failing case reads as the request it was.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRequest")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("length", &self.length)
            .finish()
    }
}

impl RawRequest {
    /// The bytes, and whether the request is whole (must be answered).
    fn bytes(&self) -> (Vec<u8>, bool) {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\n",
            self.method, self.target
        );
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        let mut whole = true;
        let body: Vec<u8> = match &self.length {
            Length::Exact => {
                head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
                self.body.clone()
            }
            Length::More(n) => {
                head.push_str(&format!("Content-Length: {}\r\n", self.body.len() + n));
                whole = false;
                self.body.clone()
            }
            Length::Less(n) => {
                head.push_str(&format!(
                    "Content-Length: {}\r\n",
                    self.body.len().saturating_sub(*n)
                ));
                self.body.clone()
            }
            Length::Absent => Vec::new(),
            Length::Chunked { broken } => {
                head.push_str("Transfer-Encoding: chunked\r\n");
                let mut b = if *broken {
                    format!("{:x}\r\n", self.body.len() + 3).into_bytes()
                } else {
                    format!("{:x}\r\n", self.body.len()).into_bytes()
                };
                b.extend_from_slice(&self.body);
                b.extend_from_slice(b"\r\n0\r\n\r\n");
                b
            }
            Length::Twice => {
                head.push_str(&format!(
                    "Content-Length: {}\r\nContent-Length: {}\r\n",
                    self.body.len(),
                    self.body.len() + 1
                ));
                self.body.clone()
            }
        };
        head.push_str("Connection: close\r\n\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(&body);
        (out, whole)
    }
}

fn length() -> impl Strategy<Value = Length> {
    prop_oneof![
        6 => Just(Length::Exact),
        1 => (1usize..5000).prop_map(Length::More),
        1 => (1usize..50).prop_map(Length::Less),
        1 => Just(Length::Absent),
        1 => any::<bool>().prop_map(|broken| Length::Chunked { broken }),
        1 => Just(Length::Twice),
    ]
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec!["GET", "GET", "GET", "POST", "PUT", "PATCH", "DELETE"]),
        1 => prop::sample::select(vec!["HEAD", "OPTIONS", "TRACE", "CONNECT", "BREW", "get", "G\u{0}T"]),
    ]
    .prop_map(str::to_string)
}

/// Percent-encodes what a request target cannot hold as it is.
fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---- Kubernetes ------------------------------------------------------------------------------

const PREFIXES: &[&str] = &[
    "/api/v1",
    "/api/v1",
    "/apis/apps/v1",
    "/apis/policy/v1",
    "/apis/discovery.k8s.io/v1",
    "/apis/coordination.k8s.io/v1",
    "/apis/events.k8s.io/v1",
    "/apis/apps/v2",
    "/apis/x/y",
    "/api",
    "/apis",
    "/apis/apps",
    "/",
    "/version",
    "/openapi/v2",
    "/healthz",
    "//api//v1",
];

const SEGMENTS: &[&str] = &[
    "namespaces",
    "namespaces",
    "shop",
    "shop",
    "default",
    "kube-system",
    "pods",
    "pods",
    "deployments",
    "replicasets",
    "statefulsets",
    "daemonsets",
    "services",
    "endpoints",
    "nodes",
    "events",
    "configmaps",
    "leases",
    "poddisruptionbudgets",
    "endpointslices",
    "status",
    "scale",
    "eviction",
    "log",
    "exec",
    "ephemeralcontainers",
    "binding",
    "checkout",
    "web",
    "frontend",
    "node-1",
    "sandbox-node-1",
    "%2F",
    "..",
    ".",
    "%00",
    "%",
    "%E2%82",
    "한",
    "a:b",
    "",
];

fn k8s_path() -> impl Strategy<Value = String> {
    (
        prop::sample::select(PREFIXES),
        prop::collection::vec(
            prop_oneof![
                10 => prop::sample::select(SEGMENTS).prop_map(str::to_string),
                1 => "[a-z0-9.-]{0,70}",
                1 => (1usize..600).prop_map(|n| "x".repeat(n)),
            ],
            0..6,
        ),
    )
        .prop_map(|(p, segs)| {
            let mut s = p.trim_end_matches('/').to_string();
            for g in segs {
                s.push('/');
                s.push_str(&g);
            }
            if s.is_empty() { "/".into() } else { s }
        })
}

/// A path the router knows, to an object that may exist: (group/version prefix, plural,
/// namespaced, subresources).
const RESOURCES: &[(&str, &str, bool, &[&str])] = &[
    ("/api/v1", "namespaces", false, &["status"]),
    ("/api/v1", "nodes", false, &["status"]),
    (
        "/api/v1",
        "pods",
        true,
        &["status", "ephemeralcontainers", "eviction", "exec", "log"],
    ),
    ("/api/v1", "services", true, &["status"]),
    ("/api/v1", "events", true, &[]),
    ("/api/v1", "endpoints", true, &[]),
    ("/apis/apps/v1", "deployments", true, &["status", "scale"]),
    ("/apis/apps/v1", "replicasets", true, &["status", "scale"]),
    ("/apis/apps/v1", "statefulsets", true, &["status", "scale"]),
    ("/apis/apps/v1", "daemonsets", true, &["status"]),
    ("/apis/discovery.k8s.io/v1", "endpointslices", true, &[]),
    ("/apis/policy/v1", "poddisruptionbudgets", true, &["status"]),
    ("/apis/coordination.k8s.io/v1", "leases", true, &[]),
];

fn known_path(names: Vec<String>) -> impl Strategy<Value = String> {
    (
        prop::sample::select(RESOURCES),
        prop::sample::select(vec!["shop", "shop", "default", "kube-system", "nope"]),
        prop::option::of(prop::sample::select(names)),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(|((prefix, plural, namespaced, subs), ns, name, sub)| {
            let mut p = prefix.to_string();
            if namespaced {
                p.push_str(&format!("/namespaces/{ns}"));
            }
            p.push_str(&format!("/{plural}"));
            if let Some(n) = name {
                p.push_str(&format!("/{n}"));
                if let Some(i) = sub
                    && !subs.is_empty()
                {
                    p.push_str(&format!("/{}", subs[i.index(subs.len())]));
                }
            }
            p
        })
}

fn selector_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "app=web",
            "app==web",
            "app!=web",
            "app in (web,api)",
            "app notin (web)",
            "!app",
            "app",
            "tier in (a,b",
            "a=b,c!=d,e in (f),!g",
            "app in ()",
            "=",
            "==",
            "!=",
            ",",
            "(",
            ")",
            "app=",
            "=web",
            "app=web,",
            "a b",
            "app=한",
            "metadata.name=web-0",
            "metadata.namespace=shop",
            "spec.nodeName=node-1",
            "status.phase=Running",
            "status.phase!=Running",
            "spec.unschedulable=true",
            "metadata.name",
            "x.y.z=1",
        ])
        .prop_map(str::to_string),
        "[a-z=!,() .]{0,30}",
        "[\\PC]{0,20}",
    ]
}

fn number_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "1",
            "-1",
            "500",
            "4294967296",
            "18446744073709551616",
            "1e3",
            "",
            "abc",
            "9223372036854775807",
            "-9223372036854775808",
            "0x10",
            " 5",
        ])
        .prop_map(str::to_string),
        any::<i64>().prop_map(|n| n.to_string()),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let pair = prop_oneof![
        (
            prop::sample::select(vec!["labelSelector", "fieldSelector"]),
            selector_value()
        )
            .prop_map(|(k, v)| format!("{k}={}", enc(&v))),
        (
            prop::sample::select(vec![
                "limit",
                "resourceVersion",
                "timeoutSeconds",
                "gracePeriodSeconds",
                "tailLines",
                "sinceSeconds",
                "limitBytes",
            ]),
            number_value()
        )
            .prop_map(|(k, v)| format!("{k}={}", enc(&v))),
        (
            prop::sample::select(vec![
                "watch",
                "allowWatchBookmarks",
                "follow",
                "stdin",
                "stdout",
                "stderr",
                "tty",
                "sendInitialEvents",
                "force",
                "pretty",
            ]),
            prop::sample::select(vec!["true", "false", "1", "0", "", "yes", "TRUE", "%"])
        )
            .prop_map(|(k, v)| format!("{k}={v}")),
        (
            prop::sample::select(vec![
                "continue",
                "resourceVersionMatch",
                "propagationPolicy",
                "dryRun",
                "fieldManager",
                "container",
                "command",
                "x",
            ]),
            prop_oneof![
                prop::sample::select(vec![
                    "NotOlderThan",
                    "Exact",
                    "Foreground",
                    "Orphan",
                    "Background",
                    "All",
                    "sh",
                    "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiJ4In0",
                    "MTA=",
                    "%%",
                ])
                .prop_map(str::to_string),
                "[\\PC]{0,20}",
            ]
        )
            .prop_map(|(k, v)| format!("{k}={}", enc(&v))),
        "[a-zA-Z=&%;+]{0,20}",
    ];
    prop::collection::vec(pair, 0..5).prop_map(|v| v.join("&"))
}

fn pod_json() -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "fuzz", "namespace": "shop", "labels": {"app": "web"},
                        "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "uid": "u", "controller": true}]},
           "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "i",
                    "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}}]},
           "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
}

fn deployment_json() -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "fuzz", "namespace": "shop"},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "fuzz"}},
                    "template": {"metadata": {"labels": {"app": "fuzz"}},
                                 "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
}

fn k8s_body() -> impl Strategy<Value = (Option<&'static str>, Vec<u8>)> {
    let ct = prop::sample::select(vec![
        Some("application/json"),
        Some("application/merge-patch+json"),
        Some("application/strategic-merge-patch+json"),
        Some("application/json-patch+json"),
        Some("application/apply-patch+yaml"),
        Some("application/yaml"),
        Some("text/plain"),
        Some("garbage/;;;"),
        None,
    ]);
    let body = prop_oneof![
        Just(Vec::new()),
        mutate(pod_json()).prop_map(|v| v.to_string().into_bytes()),
        mutate(deployment_json()).prop_map(|v| v.to_string().into_bytes()),
        mutate(json!({"apiVersion": "policy/v1", "kind": "Eviction",
                      "metadata": {"name": "web-0", "namespace": "shop"}}))
        .prop_map(|v| v.to_string().into_bytes()),
        mutate(json!({"spec": {"unschedulable": true}, "metadata": {"labels": {"a": "b"}}}))
            .prop_map(|v| v.to_string().into_bytes()),
        mutate(json!([{"op": "replace", "path": "/spec/replicas", "value": 1},
                      {"op": "add", "path": "/metadata/labels/x", "value": "y"},
                      {"op": "remove", "path": "/spec/nodeName"},
                      {"op": "move", "from": "/a", "path": "/b"}]))
        .prop_map(|v| v.to_string().into_bytes()),
        mutate(json!({"spec": {"ephemeralContainers": [{"name": "chaos", "image": "i",
            "command": ["sh", "-c", "tc qdisc add"], "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}]}}))
        .prop_map(|v| v.to_string().into_bytes()),
        mutate(json!({"apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions",
                      "propagationPolicy": "Foreground", "gracePeriodSeconds": 0}))
        .prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..300),
        Just(b"{\"a\":".to_vec()),
        (1usize..20_000).prop_map(|n| format!("{}1{}", "[".repeat(n), "]".repeat(n)).into_bytes()),
    ];
    (ct, body)
}

fn k8s_request(names: Vec<String>) -> impl Strategy<Value = RawRequest> {
    (
        method(),
        prop_oneof![2 => known_path(names), 1 => k8s_path()],
        query(),
        k8s_body(),
        prop::option::of(prop::sample::select(vec![
            "application/json",
            "application/json;as=Table;v=v1;g=meta.k8s.io",
            "application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json",
            "application/vnd.kubernetes.protobuf",
            "*/*",
            ";;;",
        ])),
        prop::option::of(prop::sample::select(vec!["websocket", "SPDY/3.1", "h2c"])),
        length(),
    )
        .prop_map(|(method, path, q, (ct, body), accept, upgrade, length)| {
            let target = if q.is_empty() {
                path
            } else {
                format!("{path}?{q}")
            };
            let mut headers = Vec::new();
            if let Some(ct) = ct {
                headers.push(("Content-Type".to_string(), ct.to_string()));
            }
            if let Some(a) = accept {
                headers.push(("Accept".to_string(), a.to_string()));
            }
            if let Some(u) = upgrade {
                headers.push(("Upgrade".to_string(), u.to_string()));
                headers.push((
                    "Sec-WebSocket-Key".to_string(),
                    "dGhlIHNhbXBsZSBub25jZQ==".to_string(),
                ));
                headers.push(("Sec-WebSocket-Version".to_string(), "13".to_string()));
                headers.push((
                    "Sec-WebSocket-Protocol".to_string(),
                    "v4.channel.k8s.io".to_string(),
                ));
            }
            RawRequest {
                method,
                target,
                headers,
                body,
                length,
            }
        })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The checks every case ends with: an answer when one was due, no panic, still serving.
fn verdict(
    req: &str,
    whole: bool,
    outcome: Outcome,
    panics_before: usize,
    still_serving: Outcome,
) -> Result<(), TestCaseError> {
    let panics = PANICS.load(Ordering::SeqCst) - panics_before;
    if panics > 0 {
        return Err(TestCaseError::fail(format!(
            "PANIC: {panics} panic(s) in the server while handling {req:?}"
        )));
    }
    if whole && !matches!(outcome, Outcome::Status(_)) {
        return Err(TestCaseError::fail(format!(
            "a whole request got no status ({outcome:?}): {req:?}"
        )));
    }
    // An incomplete request may wait for its body; it must not stop the others (checked next).
    if !matches!(still_serving, Outcome::Status(200)) {
        return Err(TestCaseError::fail(format!(
            "a valid request afterwards got {still_serving:?}: after {req:?}"
        )));
    }
    Ok(())
}

#[test]
fn fuzz_sandbox_kubernetes_requests() {
    count_panics();
    let rt = runtime();
    let sandbox = rt
        .block_on(Sandbox::start(SandboxOptions {
            apps: false,
            ..SandboxOptions::fast()
        }))
        .expect("sandbox");
    let addr = sandbox.addr();
    let valid = b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_eq!(exchange(addr, valid, false), Outcome::Status(200));
    // Real object names, so the fuzzer reaches past "not found".
    let mut names: Vec<String> = sandbox
        .pods(None)
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .take(20)
        .collect();
    names.extend(
        sandbox
            .deployments()
            .into_iter()
            .filter_map(|d| d.metadata.name),
    );
    names.extend(sandbox.nodes().into_iter().filter_map(|n| n.metadata.name));
    names.extend(["shop", "default", "kube-system"].map(str::to_string));
    assert!(names.len() > 5, "the demo has objects: {names:?}");
    let statuses = Mutex::new(std::collections::BTreeMap::<u16, u32>::new());
    run(
        "fuzz_sandbox_kubernetes_requests",
        300,
        k8s_request(names),
        |r| {
            let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
            let before = PANICS.load(Ordering::SeqCst);
            let (bytes, whole) = r.bytes();
            let outcome = exchange(addr, &bytes, !whole);
            if let Outcome::Status(s) = outcome {
                *statuses
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(s)
                    .or_default() += 1;
            }
            let after = exchange(addr, valid, false);
            verdict(
                &format!("{} {}", r.method, r.target),
                whole,
                outcome,
                before,
                after,
            )
        },
    );
    let statuses = statuses.into_inner().unwrap_or_else(|e| e.into_inner());
    eprintln!("fuzz_sandbox_kubernetes_requests: statuses seen {statuses:?}");
    // The generators must reach the handlers, not only the router's 404.
    if fuzz_common::cases(300) >= 100 {
        assert!(
            statuses.get(&200).copied().unwrap_or(0) > 0,
            "no generated request succeeded: {statuses:?}"
        );
    }
    rt.block_on(sandbox.shutdown());
}

// ---- AWS -------------------------------------------------------------------------------------

const ACTIONS: &[&str] = &[
    "DescribeInstances",
    "StopInstances",
    "StartInstances",
    "RunInstances",
    "CreateTags",
    "DeleteTags",
    "DescribeRouteTables",
    "CreateRouteTable",
    "DeleteRouteTable",
    "CreateRoute",
    "ReplaceRoute",
    "DeleteRoute",
    "CreateNetworkInterface",
    "DescribeNetworkInterfaces",
    "DeleteNetworkInterface",
    "DescribeNetworkAcls",
    "CreateNetworkAcl",
    "DeleteNetworkAcl",
    "ReplaceNetworkAclAssociation",
    "DescribeVpcs",
    "CreateVpc",
    "DescribeSubnets",
    "CreateSubnet",
    "CreateInternetGateway",
    "AttachInternetGateway",
    "DescribeInternetGateways",
    "AllocateAddress",
    "CreateNatGateway",
    "CreateVpcPeeringConnection",
    "DescribeDBClusters",
    "DescribeDBInstances",
    "CreateDBCluster",
    "CreateDBInstance",
    "FailoverDBCluster",
    "RebootDBInstance",
    "AddTagsToResource",
    "RemoveTagsFromResource",
    "Nope",
    "",
    "describeinstances",
    "DescribeInstances<x>",
];

const PARAM_KEYS: &[&str] = &[
    "InstanceId.1",
    "InstanceId.2",
    "InstanceId.0",
    "InstanceId.99999999999",
    "InstanceId.-1",
    "Filter.1.Name",
    "Filter.1.Value.1",
    "Filter.1.Value.2",
    "Filter.2.Name",
    "Filter.2.Value.1",
    "Filter.4294967295.Name",
    "Filter.4294967295.Value.1",
    "MaxResults",
    "NextToken",
    "Marker",
    "MaxRecords",
    "DBClusterIdentifier",
    "TargetDBInstanceIdentifier",
    "DBInstanceIdentifier",
    "ForceFailover",
    "RouteTableId",
    "DestinationCidrBlock",
    "DestinationIpv6CidrBlock",
    "NetworkInterfaceId",
    "GatewayId",
    "NatGatewayId",
    "InstanceId",
    "VpcId",
    "CidrBlock",
    "SubnetId",
    "AvailabilityZone",
    "AssociationId",
    "NetworkAclId",
    "ResourceName",
    "TagKeys.member.1",
    "Tags.member.1.Key",
    "Tags.member.1.Value",
    "Tag.1.Key",
    "Tag.1.Value",
    "ResourceId.1",
    "TagSpecification.1.ResourceType",
    "TagSpecification.1.Tag.1.Key",
    "TagSpecification.1.Tag.1.Value",
    "MinCount",
    "MaxCount",
    "ImageId",
    "InstanceType",
    "Engine",
    "DBInstanceClass",
    "Force",
    "DryRun",
    "RouteTableId.1",
    "PeerVpcId",
    "AllocationId",
    "InternetGatewayId",
];

fn aws_value(ids: Vec<String>) -> impl Strategy<Value = String> {
    let mut known: Vec<String> = ids;
    known.extend(
        [
            "vpc-0a1b2c3d4e5f60001",
            "rtb-0a1b2c3d4e5f60001",
            "rtb-0a1b2c3d4e5f60002",
            "shop-orders",
            "shop-billing",
            "us-east-1a",
            "us-east-1z",
            "0.0.0.0/0",
            "10.0.0.0/8",
            "10.0.0.0/33",
            "::/0",
            "instance-state-name",
            "tag:role",
            "tag:Name",
            "tag-key",
            "vpc-id",
            "availability-zone",
            "association.subnet-id",
            "route.nat-gateway-id",
            "db-cluster-id",
            "web",
            "running",
            "stopped",
            "true",
            "false",
            "instance",
            "route-table",
            "arn:aws:rds:us-east-1:000000000000:cluster:shop-orders",
            "5",
            "1000",
            "0",
            "-1",
            "99999999999999999999",
            "",
            "*",
            "?",
            "*-*",
            "i-*",
            "*web*",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    prop_oneof![
        6 => prop::sample::select(known),
        1 => (1usize..300, prop::sample::select(vec!["", "x", "?", "a*"]))
            .prop_map(|(n, tail)| format!("{}{tail}", "*".repeat(n))),
        1 => (1usize..60).prop_map(|n| "*a".repeat(n) + "b"),
        1 => "[\\PC]{0,20}",
        1 => (1usize..5000).prop_map(|n| "x".repeat(n)),
    ]
}

fn aws_request(ids: Vec<String>) -> impl Strategy<Value = RawRequest> {
    // Filters as the SDK writes them, so their values (globs included) reach the matcher.
    let filter = (
        1u32..4,
        prop::sample::select(vec![
            "instance-state-name",
            "instance-id",
            "tag:role",
            "tag:Name",
            "tag-key",
            "tag-value",
            "vpc-id",
            "subnet-id",
            "availability-zone",
            "route-table-id",
            "association.subnet-id",
            "route.nat-gateway-id",
            "route.destination-cidr-block",
            "network-acl-id",
            "db-cluster-id",
            "engine",
            "no-such-filter",
        ]),
        prop::collection::vec(aws_value(ids.clone()), 1..3),
    )
        .prop_map(|(n, name, values)| {
            let mut v = vec![(format!("Filter.{n}.Name"), name.to_string())];
            for (m, value) in values.into_iter().enumerate() {
                v.push((format!("Filter.{n}.Value.{}", m + 1), value));
            }
            v
        });
    let form = (
        prop::sample::select(ACTIONS),
        prop::collection::vec((prop::sample::select(PARAM_KEYS), aws_value(ids)), 0..8),
        prop::collection::vec(filter, 0..3),
        any::<bool>(),
    )
        .prop_map(|(action, params, filters, version)| {
            let mut s = form_urlencoded::Serializer::new(String::new());
            s.append_pair("Action", action);
            if version {
                s.append_pair("Version", "2016-11-15");
            }
            for (k, v) in params {
                s.append_pair(k, &v);
            }
            for (k, v) in filters.into_iter().flatten() {
                s.append_pair(&k, &v);
            }
            s.finish().into_bytes()
        });
    let body = prop_oneof![
        8 => form,
        1 => prop::collection::vec(any::<u8>(), 0..300),
        1 => Just(b"Action=DescribeInstances&%%%&=&&Filter.1.Name".to_vec()),
    ];
    (
        prop_oneof![
            8 => Just("POST".to_string()),
            1 => method(),
        ],
        prop_oneof![
            8 => Just("/".to_string()),
            1 => prop::sample::select(vec![
                "/?Action=DescribeVpcs", "/_sandbox/health", "/x/y", "/%00", "*",
            ])
            .prop_map(str::to_string),
        ],
        body,
        prop::sample::select(vec![
            None,
            Some("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/rds/aws4_request, SignedHeaders=host, Signature=x"),
            Some("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ec2/aws4_request"),
            Some("garbage"),
        ]),
        length(),
    )
        .prop_map(|(method, target, body, auth, length)| {
            let mut headers = vec![(
                "Content-Type".to_string(),
                "application/x-www-form-urlencoded; charset=utf-8".to_string(),
            )];
            if let Some(a) = auth {
                headers.push(("Authorization".to_string(), a.to_string()));
            }
            RawRequest {
                method,
                target,
                headers,
                body,
                length,
            }
        })
}

fn post_form(addr: SocketAddr, form: &str) -> (Outcome, String) {
    let req = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    let Ok(mut s) = TcpStream::connect_timeout(&addr, ANSWER) else {
        return (Outcome::Silent, String::new());
    };
    let _ = s.set_read_timeout(Some(ANSWER));
    let _ = s.write_all(req.as_bytes());
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .map_or(Outcome::Closed, Outcome::Status);
    (status, text)
}

#[test]
fn fuzz_sandbox_aws_requests() {
    count_panics();
    let rt = runtime();
    let sandbox = rt
        .block_on(aws::start(aws::SandboxOptions {
            transition: Duration::from_millis(50),
            ..Default::default()
        }))
        .expect("aws sandbox");
    let addr: SocketAddr = sandbox
        .endpoint_url()
        .trim_start_matches("http://")
        .parse()
        .expect("endpoint address");
    // Real instance ids, so the fuzzer reaches past "not found".
    let (_, xml) = post_form(addr, "Action=DescribeInstances&Version=2016-11-15");
    let ids: Vec<String> = xml
        .split("<instanceId>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_string)
        .collect();
    assert!(!ids.is_empty(), "the demo account has instances: {xml}");
    let health = b"GET /_sandbox/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let statuses = Mutex::new(std::collections::BTreeMap::<u16, u32>::new());
    run("fuzz_sandbox_aws_requests", 300, aws_request(ids), |r| {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let before = PANICS.load(Ordering::SeqCst);
        let (bytes, whole) = r.bytes();
        let outcome = exchange(addr, &bytes, !whole);
        if let Outcome::Status(s) = outcome {
            *statuses
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(s)
                .or_default() += 1;
        }
        // The account must still answer an action, not only the health check.
        let (after, _) = post_form(addr, "Action=DescribeVpcs&Version=2016-11-15");
        let after = match (after, exchange(addr, health, false)) {
            (Outcome::Status(_), h) => h,
            (o, _) => o,
        };
        verdict(
            &String::from_utf8_lossy(&r.body),
            whole,
            outcome,
            before,
            after,
        )
    });
    let statuses = statuses.into_inner().unwrap_or_else(|e| e.into_inner());
    eprintln!("fuzz_sandbox_aws_requests: statuses seen {statuses:?}");
    if fuzz_common::cases(300) >= 100 {
        assert!(
            statuses.get(&200).copied().unwrap_or(0) > 0,
            "no generated request succeeded: {statuses:?}"
        );
    }
    rt.block_on(sandbox.shutdown());
}
