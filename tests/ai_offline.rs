//! The offline engine: a table of phrasings in English and Korean across all eleven fault kinds
//! with the fields each must produce; every document passes the validator and the document
//! guardrails; unsafe and unclear requests are answered with the rule or what was understood.

use chaosduck::ai::assistant::{NlResult, nl_offline};
use chaosduck::ai::nl::parse_request;
use chaosduck::config::Config;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// (phrase, [(JSON pointer into the document, expected value)])
fn table() -> Vec<(&'static str, Vec<(&'static str, Value)>)> {
    let k = |kind: &str| ("/spec/fault/type", json!(kind));
    vec![
        // pod_delete
        (
            "nginx pod 하나를 랜덤으로 죽이고 복구 시간 관찰",
            vec![
                k("pod_delete"),
                ("/spec/target/pods/selector", json!("app=nginx")),
                ("/spec/target/pods/count", json!(1)),
            ],
        ),
        (
            "kill one checkout pod in namespace shop",
            vec![
                k("pod_delete"),
                ("/spec/target/pods/namespace", json!("shop")),
                ("/spec/target/pods/selector", json!("app=checkout")),
                ("/spec/target/pods/count", json!(1)),
            ],
        ),
        (
            "delete 2 pods with app=web in the shop namespace",
            vec![
                k("pod_delete"),
                ("/spec/target/pods/selector", json!("app=web")),
                ("/spec/target/pods/count", json!(2)),
                ("/spec/target/pods/namespace", json!("shop")),
            ],
        ),
        (
            "terminate 25% of the cart pods in -n store",
            vec![
                k("pod_delete"),
                ("/spec/target/pods/count", json!("25%")),
                ("/spec/target/pods/namespace", json!("store")),
                ("/spec/target/pods/selector", json!("app=cart")),
            ],
        ),
        (
            "randomly kill a payments pod and watch it recover for 3 minutes",
            vec![
                k("pod_delete"),
                ("/spec/target/pods/selector", json!("app=payments")),
                ("/spec/duration", json!("3m")),
            ],
        ),
        (
            "force delete pods of the search service in ns=prod",
            vec![
                k("pod_delete"),
                ("/spec/target/pods/namespace", json!("prod")),
                ("/spec/target/pods/selector", json!("app=search")),
                ("/spec/fault/gracePeriod", json!("0s")),
            ],
        ),
        (
            "shop 네임스페이스의 checkout 파드 2개 삭제",
            vec![
                k("pod_delete"),
                ("/spec/target/pods/namespace", json!("shop")),
                ("/spec/target/pods/selector", json!("app=checkout")),
                ("/spec/target/pods/count", json!(2)),
            ],
        ),
        (
            "redis 파드를 하나 종료해줘",
            vec![
                k("pod_delete"),
                ("/spec/target/pods/selector", json!("app=redis")),
                ("/spec/target/pods/count", json!(1)),
            ],
        ),
        (
            "kill pods with tier=frontend,env=staging in web",
            vec![
                k("pod_delete"),
                (
                    "/spec/target/pods/selector",
                    json!("tier=frontend,env=staging"),
                ),
                ("/spec/target/pods/namespace", json!("web")),
            ],
        ),
        (
            "pod named web-0 in namespace shop should be deleted",
            vec![
                k("pod_delete"),
                ("/spec/target/pods/names", json!(["web-0"])),
            ],
        ),
        (
            "api 디플로이먼트 파드 절반을 죽여 5분 동안 관찰",
            vec![
                k("pod_delete"),
                ("/spec/target/pods/count", json!("50%")),
                ("/spec/duration", json!("5m")),
            ],
        ),
        // network_latency
        (
            "add 200ms latency to checkout pods for 2 minutes",
            vec![
                k("network_latency"),
                ("/spec/fault/latency", json!("200ms")),
                ("/spec/duration", json!("2m")),
                ("/spec/target/pods/selector", json!("app=checkout")),
            ],
        ),
        (
            "inject 500 ms delay into payments pods in namespace shop for 30s",
            vec![
                k("network_latency"),
                ("/spec/fault/latency", json!("500ms")),
                ("/spec/duration", json!("30s")),
                ("/spec/target/pods/namespace", json!("shop")),
            ],
        ),
        (
            "slow down the cart service by 1s for 5 minutes",
            vec![
                k("network_latency"),
                ("/spec/fault/latency", json!("1s")),
                ("/spec/duration", json!("5m")),
                ("/spec/target/pods/selector", json!("app=cart")),
            ],
        ),
        (
            "add latency of 100ms with 20ms jitter to app=api pods",
            vec![
                k("network_latency"),
                ("/spec/fault/latency", json!("100ms")),
                ("/spec/fault/jitter", json!("20ms")),
            ],
        ),
        (
            "checkout 파드에 200ms 지연을 2분 동안 주입",
            vec![
                k("network_latency"),
                ("/spec/fault/latency", json!("200ms")),
                ("/spec/duration", json!("2m")),
                ("/spec/target/pods/selector", json!("app=checkout")),
            ],
        ),
        (
            "shop 네임스페이스 payments 서비스에 300ms 레이턴시 1분간",
            vec![
                k("network_latency"),
                ("/spec/fault/latency", json!("300ms")),
                ("/spec/duration", json!("1m")),
                ("/spec/target/pods/namespace", json!("shop")),
            ],
        ),
        (
            "add 150ms latency to app=db pods on port 5432",
            vec![k("network_latency"), ("/spec/fault/ports", json!([5432]))],
        ),
        (
            "delay traffic from web pods to 10.0.0.0/16 by 80ms",
            vec![
                k("network_latency"),
                ("/spec/fault/destinationCidr", json!("10.0.0.0/16")),
                ("/spec/fault/latency", json!("80ms")),
            ],
        ),
        (
            "api 파드에 지연 50밀리초를 30초 동안",
            vec![
                k("network_latency"),
                ("/spec/fault/latency", json!("50ms")),
                ("/spec/duration", json!("30s")),
            ],
        ),
        // network_loss
        (
            "drop 10% of packets on checkout pods for 1 minute",
            vec![
                k("network_loss"),
                ("/spec/fault/percent", json!(10.0)),
                ("/spec/duration", json!("1m")),
            ],
        ),
        (
            "30 percent packet loss for the cart service in shop",
            vec![
                k("network_loss"),
                ("/spec/fault/percent", json!(30.0)),
                ("/spec/target/pods/namespace", json!("shop")),
            ],
        ),
        (
            "inject packet loss of 5% into app=api pods for 45s",
            vec![
                k("network_loss"),
                ("/spec/fault/percent", json!(5.0)),
                ("/spec/duration", json!("45s")),
            ],
        ),
        (
            "payments 파드에 패킷 손실 20% 3분 동안",
            vec![
                k("network_loss"),
                ("/spec/fault/percent", json!(20.0)),
                ("/spec/duration", json!("3m")),
                ("/spec/target/pods/selector", json!("app=payments")),
            ],
        ),
        (
            "redis 파드 네트워크 패킷 15퍼센트 유실",
            vec![k("network_loss"), ("/spec/fault/percent", json!(15.0))],
        ),
        (
            "lose 50% of traffic from frontend pods to port 443",
            vec![
                k("network_loss"),
                ("/spec/fault/percent", json!(50.0)),
                ("/spec/fault/ports", json!([443])),
            ],
        ),
        // cpu_stress
        (
            "stress cpu on checkout pods at 80% for 2 minutes",
            vec![
                k("cpu_stress"),
                ("/spec/fault/load", json!(80.0)),
                ("/spec/duration", json!("2m")),
            ],
        ),
        (
            "burn 2 cores of cpu in the search pods in namespace prod",
            vec![
                k("cpu_stress"),
                ("/spec/fault/workers", json!(2)),
                ("/spec/target/pods/namespace", json!("prod")),
            ],
        ),
        (
            "cpu stress with 4 workers on app=api for 30s",
            vec![
                k("cpu_stress"),
                ("/spec/fault/workers", json!(4)),
                ("/spec/duration", json!("30s")),
            ],
        ),
        (
            "checkout 파드 CPU 부하 90% 5분",
            vec![
                k("cpu_stress"),
                ("/spec/fault/load", json!(90.0)),
                ("/spec/duration", json!("5m")),
            ],
        ),
        (
            "api 파드에 CPU 코어 2개 스트레스 1분 동안",
            vec![
                k("cpu_stress"),
                ("/spec/fault/workers", json!(2)),
                ("/spec/duration", json!("1m")),
            ],
        ),
        // memory_stress
        (
            "fill 512Mi of memory in cart pods for 1 minute",
            vec![
                k("memory_stress"),
                ("/spec/fault/size", json!("512Mi")),
                ("/spec/duration", json!("1m")),
            ],
        ),
        (
            "memory stress 1GB on app=cache pods in shop",
            vec![
                k("memory_stress"),
                ("/spec/fault/size", json!("1Gi")),
                ("/spec/target/pods/namespace", json!("shop")),
            ],
        ),
        (
            "eat 2gi of ram on worker pods for 3 minutes",
            vec![
                k("memory_stress"),
                ("/spec/fault/size", json!("2Gi")),
                ("/spec/duration", json!("3m")),
            ],
        ),
        (
            "redis 파드에 메모리 256메가 부하 2분",
            vec![
                k("memory_stress"),
                ("/spec/fault/size", json!("256Mi")),
                ("/spec/duration", json!("2m")),
            ],
        ),
        (
            "search 파드 메모리 1기가 압박",
            vec![k("memory_stress"), ("/spec/fault/size", json!("1Gi"))],
        ),
        // network_partition
        (
            "partition the payments pods in namespace shop for 1 minute",
            vec![
                k("network_partition"),
                ("/spec/fault/direction", json!("both")),
                ("/spec/target/pods/namespace", json!("shop")),
            ],
        ),
        (
            "isolate checkout pods from incoming traffic for 30s",
            vec![
                k("network_partition"),
                ("/spec/fault/direction", json!("ingress")),
                ("/spec/duration", json!("30s")),
            ],
        ),
        (
            "cut off outbound network of app=worker pods",
            vec![
                k("network_partition"),
                ("/spec/fault/direction", json!("egress")),
                ("/spec/target/pods/selector", json!("app=worker")),
            ],
        ),
        (
            "db 파드를 네트워크에서 격리 2분",
            vec![
                k("network_partition"),
                ("/spec/duration", json!("2m")),
                ("/spec/target/pods/selector", json!("app=db")),
            ],
        ),
        (
            "api 파드의 나가는 트래픽 차단 1분 동안",
            vec![
                k("network_partition"),
                ("/spec/fault/direction", json!("egress")),
            ],
        ),
        // node_cordon
        (
            "cordon node worker-2 for 5 minutes",
            vec![
                k("node_cordon"),
                ("/spec/target/nodes/names", json!(["worker-2"])),
                ("/spec/duration", json!("5m")),
            ],
        ),
        (
            "drain one node in zone us-east-1a",
            vec![
                k("node_cordon"),
                ("/spec/fault/drain", json!(true)),
                (
                    "/spec/target/nodes/selector",
                    json!("topology.kubernetes.io/zone=us-east-1a"),
                ),
                ("/spec/target/nodes/count", json!(1)),
            ],
        ),
        (
            "cordon a node with pool=spot for 10 minutes",
            vec![
                k("node_cordon"),
                ("/spec/target/nodes/selector", json!("pool=spot")),
                ("/spec/duration", json!("10m")),
            ],
        ),
        (
            "노드 worker-1 코던 3분",
            vec![
                k("node_cordon"),
                ("/spec/target/nodes/names", json!(["worker-1"])),
            ],
        ),
        (
            "노드 하나 드레인해서 스케줄 확인",
            vec![
                k("node_cordon"),
                ("/spec/fault/drain", json!(true)),
                ("/spec/target/nodes/count", json!(1)),
            ],
        ),
        // ec2_stop
        (
            "stop ec2 instance i-0123456789abcdef0 for 5 minutes",
            vec![
                k("ec2_stop"),
                ("/spec/target/instances/ids", json!(["i-0123456789abcdef0"])),
                ("/spec/duration", json!("5m")),
            ],
        ),
        (
            "stop 2 ec2 instances tagged role=web in us-east-1",
            vec![
                k("ec2_stop"),
                ("/spec/target/instances/tags", json!({"role": "web"})),
                ("/spec/target/instances/count", json!(2)),
                ("/spec/target/instances/region", json!("us-east-1")),
            ],
        ),
        (
            "force stop instance i-0aaaabbbbccccdddd",
            vec![k("ec2_stop"), ("/spec/fault/force", json!(true))],
        ),
        (
            "EC2 인스턴스 i-0123456789abcdef0 중지 10분",
            vec![k("ec2_stop"), ("/spec/duration", json!("10m"))],
        ),
        (
            "env=staging 태그 ec2 인스턴스 한 대 중지",
            vec![
                k("ec2_stop"),
                ("/spec/target/instances/tags", json!({"env": "staging"})),
                ("/spec/target/instances/count", json!(1)),
            ],
        ),
        (
            "stop one instance in the web autoscaling group tagged app=web",
            vec![k("ec2_stop"), ("/spec/fault/allowAutoScaling", json!(true))],
        ),
        // rds_failover
        (
            "fail over the aurora cluster orders-db",
            vec![
                k("rds_failover"),
                ("/spec/target/dbCluster/id", json!("orders-db")),
            ],
        ),
        (
            "failover rds cluster payments-db to payments-db-2 and fail back",
            vec![
                k("rds_failover"),
                ("/spec/fault/targetInstance", json!("payments-db-2")),
                ("/spec/fault/failBack", json!(true)),
            ],
        ),
        (
            "trigger a failover of db instance legacy-mysql in eu-west-1",
            vec![
                k("rds_failover"),
                ("/spec/target/dbInstance/id", json!("legacy-mysql")),
                ("/spec/target/dbInstance/region", json!("eu-west-1")),
            ],
        ),
        (
            "orders-db 클러스터 페일오버",
            vec![
                k("rds_failover"),
                ("/spec/target/dbCluster/id", json!("orders-db")),
            ],
        ),
        (
            "데이터베이스 클러스터 users-db 장애 조치 후 원복",
            vec![
                k("rds_failover"),
                ("/spec/target/dbCluster/id", json!("users-db")),
                ("/spec/fault/failBack", json!(true)),
            ],
        ),
        // route_blackhole
        (
            "blackhole route 0.0.0.0/0 in route table rtb-0abc1234 for 2 minutes",
            vec![
                k("route_blackhole"),
                ("/spec/target/route/routeTable", json!("rtb-0abc1234")),
                ("/spec/target/route/destinationCidr", json!("0.0.0.0/0")),
                ("/spec/duration", json!("2m")),
            ],
        ),
        (
            "black hole the 10.1.0.0/16 route of rtb-11112222",
            vec![
                k("route_blackhole"),
                ("/spec/target/route/destinationCidr", json!("10.1.0.0/16")),
            ],
        ),
        (
            "라우트 테이블 rtb-0abc1234 블랙홀 1분",
            vec![
                k("route_blackhole"),
                ("/spec/target/route/routeTable", json!("rtb-0abc1234")),
                ("/spec/duration", json!("1m")),
            ],
        ),
        (
            "rtb-0feedbeef 의 172.16.0.0/12 경로를 블랙홀로",
            vec![
                k("route_blackhole"),
                ("/spec/target/route/destinationCidr", json!("172.16.0.0/12")),
            ],
        ),
        // az_outage
        (
            "take us-east-1a down in vpc-0a1b2c3d for 5 minutes",
            vec![
                k("az_outage"),
                ("/spec/target/availabilityZone/zone", json!("us-east-1a")),
                ("/spec/target/availabilityZone/vpc", json!("vpc-0a1b2c3d")),
                ("/spec/duration", json!("5m")),
            ],
        ),
        (
            "simulate an availability zone outage of eu-west-1b in vpc-12345678",
            vec![
                k("az_outage"),
                ("/spec/target/availabilityZone/zone", json!("eu-west-1b")),
                ("/spec/target/availabilityZone/region", json!("eu-west-1")),
            ],
        ),
        (
            "vpc-0a1b2c3d 의 ap-northeast-2a 가용 영역 장애 10분",
            vec![
                k("az_outage"),
                (
                    "/spec/target/availabilityZone/zone",
                    json!("ap-northeast-2a"),
                ),
                ("/spec/duration", json!("10m")),
            ],
        ),
        (
            "ap-northeast-2c AZ 장애 vpc-99990000 에서 3분 동안",
            vec![
                k("az_outage"),
                ("/spec/target/availabilityZone/vpc", json!("vpc-99990000")),
                ("/spec/duration", json!("3m")),
            ],
        ),
    ]
}

#[test]
fn the_phrase_table_covers_every_fault_kind_in_both_languages() {
    let cfg = Config::default();
    let mut failures = Vec::new();
    let mut kinds = BTreeSet::new();
    let mut korean = 0;
    let rows = table();
    assert!(rows.len() >= 60, "only {} phrasings", rows.len());
    for (phrase, expect) in &rows {
        if phrase
            .chars()
            .any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c))
        {
            korean += 1;
        }
        let parsed = match parse_request(phrase) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{phrase:?}: not understood: {e}"));
                continue;
            }
        };
        let v = serde_json::to_value(&parsed.doc).unwrap();
        for (ptr, want) in expect {
            let got = v.pointer(ptr);
            if got != Some(want) {
                failures.push(format!(
                    "{phrase:?}: {ptr} is {} but should be {want}\n   understood: {:?}",
                    got.map_or("absent".to_string(), |g| g.to_string()),
                    parsed.understood
                ));
            }
        }
        kinds.insert(parsed.doc.fault_kind());
        match nl_offline(phrase, &cfg) {
            NlResult::Proposal { vetted, .. } => {
                // The YAML is a valid experiment file on its own.
                chaosduck::domain::parse_experiment("generated.yaml", &vetted.yaml).unwrap_or_else(
                    |d| panic!("{phrase:?}: the printed YAML does not validate: {d:?}"),
                );
            }
            other => failures.push(format!("{phrase:?}: not a proposal: {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(kinds.len(), 11, "kinds covered: {kinds:?}");
    assert!(korean >= 20, "only {korean} Korean phrasings");
}

#[test]
fn the_same_request_gives_the_same_document() {
    let a = parse_request("add 200ms latency to checkout pods for 2 minutes").unwrap();
    let b = parse_request("add 200ms latency to checkout pods for 2 minutes").unwrap();
    assert_eq!(a, b);
    // "10% of packets" is the loss rate, not a share of the pods.
    let p = parse_request("drop 10% of packets on checkout pods for 1 minute").unwrap();
    assert_eq!(p.doc.spec.target.count(), None);
}

#[test]
fn killing_all_pods_in_kube_system_is_refused_with_the_rules() {
    let cfg = Config::default();
    for phrase in [
        "kill all pods in kube-system",
        "kube-system 네임스페이스의 모든 파드를 죽여",
    ] {
        match nl_offline(phrase, &cfg) {
            NlResult::Refused { refused, .. } => {
                let rules: Vec<&str> = refused.refusals.iter().map(|r| r.rule.as_str()).collect();
                assert!(
                    rules.contains(&"protected-namespace"),
                    "{phrase}: {rules:?}"
                );
                assert!(rules.contains(&"non-empty-selector"), "{phrase}: {rules:?}");
            }
            other => panic!("{phrase}: {other:?}"),
        }
    }
    // A selector does not make a protected namespace acceptable for generated experiments.
    match nl_offline("delete one coredns pod in kube-system", &cfg) {
        NlResult::Refused { refused, .. } => {
            assert_eq!(
                refused.refusals[0].rule, "protected-namespace",
                "{refused:?}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unclear_requests_say_what_was_understood_and_what_is_missing() {
    let cases = [
        (
            "make the shop namespace suffer for 2 minutes",
            &["which fault", "namespace: shop", "duration: 2m"][..],
        ),
        (
            "add 200ms latency for 2 minutes",
            &["which pods", "fault: network_latency", "duration: 2m"],
        ),
        (
            "stop some ec2 instances",
            &["which EC2 instances", "fault: ec2_stop"],
        ),
        (
            "blackhole the default route",
            &["route table", "fault: route_blackhole"],
        ),
        ("take us-east-1a down", &["VPC", "zone: us-east-1a"]),
        (
            "fail over the database",
            &["which database", "fault: rds_failover"],
        ),
        ("뭔가 망가뜨려줘", &["which fault", "nothing I could use"]),
    ];
    for (phrase, want) in cases {
        let e = parse_request(phrase).expect_err(phrase);
        for w in want {
            assert!(
                e.message.contains(w),
                "{phrase:?}: {:?} lacks {w:?}",
                e.message
            );
        }
        assert!(matches!(
            nl_offline(phrase, &Config::default()),
            NlResult::Clarify { .. }
        ));
    }
}

#[test]
fn a_duration_above_the_cap_is_refused_by_the_max_timeout_rule() {
    match nl_offline("kill one web pod in shop for 3 hours", &Config::default()) {
        NlResult::Refused { refused, .. } => {
            assert_eq!(refused.refusals[0].rule, "max-timeout", "{refused:?}")
        }
        other => panic!("{other:?}"),
    }
}
