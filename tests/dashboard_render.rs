//! The dashboard rendered into a `TestBackend`: snapshots of every pane at 80×24 and 200×50,
//! flows fed as messages and keys with a snapshot after each step, and explicit checks of the
//! cells that carry meaning (phase colours, the emergency banner).

use chaosduck::domain::{Phase, Status, parse_experiment};
use chaosduck::engine::events::RunEvent;
use chaosduck::safety::journal::JournalEntry;
use chaosduck::store::records::{Analysis, ExperimentRecord, PhaseEvent, ProbeSample};
use chaosduck::topology::aws::AwsTopology;
use chaosduck::topology::k8s::{
    K8sTopology, NamespaceNode, NodeInfo, PodInfo, ServiceNode, WorkloadNode,
};
use chaosduck::tui::app::{App, Modal, Pane};
use chaosduck::tui::keymap::Keymap;
use chaosduck::tui::msg::{Detail, Effect, Msg};
use chaosduck::tui::theme::{Theme, Tier};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use std::sync::Arc;

const T0: i64 = 1_795_000_000_000; // a fixed instant, so snapshots hold still
const ID: &str = "019abcdef0123456789abcdef0123456";

fn pod(name: &str, ready: bool, faults: &[&str]) -> PodInfo {
    PodInfo {
        name: name.into(),
        phase: "Running".into(),
        ready,
        restarts: if ready { 0 } else { 2 },
        node: Some("node-a".into()),
        faults: faults.iter().map(|s| s.to_string()).collect(),
    }
}

fn k8s() -> K8sTopology {
    K8sTopology {
        namespaces: vec![
            NamespaceNode {
                name: "kube-system".into(),
                workloads: vec![WorkloadNode {
                    kind: "Deployment".into(),
                    name: "coredns".into(),
                    desired: 2,
                    ready: 2,
                    selector: "k8s-app=kube-dns".into(),
                    pods: vec![pod("coredns-1", true, &[]), pod("coredns-2", true, &[])],
                }],
                bare_pods: vec![],
                services: vec![],
            },
            NamespaceNode {
                name: "shop".into(),
                workloads: vec![
                    WorkloadNode {
                        kind: "Deployment".into(),
                        name: "checkout".into(),
                        desired: 3,
                        ready: 2,
                        selector: "app=checkout".into(),
                        pods: vec![
                            pod("checkout-7d9f-a", true, &[]),
                            pod("checkout-7d9f-b", false, &[]),
                            pod("checkout-7d9f-c", true, &["chaosduck-net-1"]),
                        ],
                    },
                    WorkloadNode {
                        kind: "StatefulSet".into(),
                        name: "redis".into(),
                        desired: 1,
                        ready: 1,
                        selector: "app=redis".into(),
                        pods: vec![pod("redis-0", true, &[])],
                    },
                ],
                bare_pods: vec![pod("debug-shell", true, &[])],
                services: vec![ServiceNode {
                    name: "checkout".into(),
                    selector: "app=checkout".into(),
                    pods: vec!["checkout-7d9f-a".into(), "checkout-7d9f-c".into()],
                }],
            },
        ],
        nodes: vec![
            NodeInfo {
                name: "node-a".into(),
                zone: Some("zone-a".into()),
                schedulable: true,
                ready: true,
                chaosduck_cordon: false,
                pods: 6,
            },
            NodeInfo {
                name: "node-b".into(),
                zone: Some("zone-b".into()),
                schedulable: false,
                ready: true,
                chaosduck_cordon: true,
                pods: 0,
            },
        ],
        pods: 7,
        faulted_pods: 1,
    }
}

fn aws() -> AwsTopology {
    use chaosduck::engine::aws::records::RouteTargetSpec;
    use chaosduck::topology::aws::*;
    let tags = |pairs: &[(&str, &str)]| -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let subnet = |id: &str, zone: &str, cidr: &str| SubnetNode {
        id: id.into(),
        zone: zone.into(),
        cidr: cidr.into(),
        route_table: Some("rtb-1".into()),
        network_acl: Some("acl-1".into()),
        tags: tags(&[]),
    };
    AwsTopology {
        region: "us-east-1".into(),
        vpcs: vec![VpcNode {
            id: "vpc-1".into(),
            cidr: "10.0.0.0/16".into(),
            tags: tags(&[("Name", "shop")]),
            subnets: vec![
                subnet("subnet-a", "us-east-1a", "10.0.1.0/24"),
                subnet("subnet-b", "us-east-1b", "10.0.2.0/24"),
            ],
            route_tables: vec![RouteTableNode {
                id: "rtb-1".into(),
                main: true,
                subnets: vec![],
                routes: vec![
                    RouteNode {
                        destination: "10.0.0.0/16".into(),
                        target: None,
                        local: true,
                        state: "active".into(),
                    },
                    RouteNode {
                        destination: "0.0.0.0/0".into(),
                        target: Some(RouteTargetSpec::Gateway("igw-1".into())),
                        local: false,
                        state: "blackhole".into(),
                    },
                ],
                tags: tags(&[("chaosduck:experiment", "x")]),
            }],
            network_acls: vec![AclNode {
                id: "acl-1".into(),
                default: true,
                subnets: vec!["subnet-a".into(), "subnet-b".into()],
                tags: tags(&[]),
            }],
        }],
        instances: vec![
            InstanceNode {
                id: "i-web1".into(),
                state: "running".into(),
                zone: Some("us-east-1a".into()),
                subnet: Some("subnet-a".into()),
                vpc: Some("vpc-1".into()),
                instance_type: Some("t3.micro".into()),
                auto_scaling_group: None,
                tags: tags(&[("Name", "web-1")]),
            },
            InstanceNode {
                id: "i-web2".into(),
                state: "stopped".into(),
                zone: Some("us-east-1b".into()),
                subnet: Some("subnet-b".into()),
                vpc: Some("vpc-1".into()),
                instance_type: Some("t3.micro".into()),
                auto_scaling_group: None,
                tags: tags(&[("Name", "web-2"), ("chaosduck:experiment", "y")]),
            },
        ],
        db_clusters: vec![DbClusterNode {
            id: "shop-orders".into(),
            status: "available".into(),
            engine: "aurora-postgresql".into(),
            writer: Some("shop-orders-1".into()),
            readers: vec!["shop-orders-2".into()],
            tags: tags(&[]),
        }],
        db_instances: ["shop-orders-1", "shop-orders-2"]
            .iter()
            .map(|i| DbInstanceNode {
                id: i.to_string(),
                status: "available".into(),
                engine: "aurora-postgresql".into(),
                zone: Some("us-east-1a".into()),
                multi_az: false,
                cluster: Some("shop-orders".into()),
                tags: tags(&[]),
            })
            .collect(),
        errors: vec![],
    }
}

fn record(status: Status, phase: Option<Phase>) -> ExperimentRecord {
    let text = std::fs::read_to_string("experiments/pod-delete.yaml").unwrap();
    let doc = parse_experiment("pod-delete.yaml", &text).unwrap();
    let verdict = (status == Status::Completed).then(|| {
        serde_json::from_value(serde_json::json!({
            "kind": "violated",
            "reasons": ["probe checkout-ready failed 3 of 12 samples"],
            "probes": [{"name": "checkout-ready", "samples": 12, "passed": 9, "pass_rate": 0.75}],
            "score": 85
        }))
        .unwrap()
    });
    ExperimentRecord {
        id: ID.into(),
        name: doc.metadata.name.clone(),
        fault: doc.fault_kind(),
        target: "pods shop/app=checkout".into(),
        doc,
        source: Some("experiments/pod-delete.yaml".into()),
        status,
        phase,
        verdict,
        error: None,
        abort_reason: (status == Status::EmergencyStopped)
            .then(|| "emergency stop (dashboard)".to_string()),
        plan: None,
        created_at: T0,
        started_at: Some(T0),
        finished_at: status.is_terminal().then_some(T0 + 42_000),
        pid: 42,
    }
}

fn journal(state: &str) -> JournalEntry {
    serde_json::from_value(serde_json::json!({
        "experiment_id": ID,
        "seq": 1,
        "target": {"kind": "pod", "name": "shop/checkout-7d9f-b"},
        "action": {"kind": "delete_pod", "namespace": "shop", "name": "checkout-7d9f-b"},
        "undo": {"kind": "await_pod_recovery", "namespace": "shop", "pod": "checkout-7d9f-b", "uid": "u-1",
                 "owner": {"kind": "ReplicaSet", "name": "checkout-7d9f", "uid": "u-rs"}, "deleted_at": T0 + 2000},
        "summary": "delete pod shop/checkout-7d9f-b (ReplicaSet checkout-7d9f)",
        "state": state,
        "attempts": 1,
        "note": if state == "reverted" { Some("recovered in 4.2s") } else { None },
        "created_at": T0 + 1900,
        "updated_at": T0 + 6000
    }))
    .unwrap()
}

fn sample(i: i64, phase: Phase, value: f64) -> ProbeSample {
    ProbeSample {
        probe: "checkout-ready".into(),
        kind: "k8s".into(),
        mode: chaosduck::domain::ProbeMode::Continuous,
        phase,
        at: T0 + i * 1000,
        passed: value >= 3.0,
        value: Some(value),
        error: None,
        skipped: false,
    }
}

fn detail(finished: bool) -> Detail {
    let phases = [
        (Phase::SteadyState, 0),
        (Phase::Hypothesis, 1000),
        (Phase::Inject, 1500),
        (Phase::Observe, 2100),
        (Phase::Rollback, 32_000),
    ];
    let upto = if finished { 5 } else { 4 };
    let mut samples = vec![sample(0, Phase::SteadyState, 3.0)];
    for (i, v) in [2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0].iter().enumerate() {
        samples.push(sample(i as i64 + 2, Phase::Observe, *v));
    }
    if finished {
        samples.push(sample(33, Phase::Rollback, 3.0));
    }
    Detail {
        id: ID.into(),
        events: phases[..upto]
            .iter()
            .map(|(p, dt)| PhaseEvent {
                at: T0 + dt,
                phase: Some(*p),
                status: Status::Running,
                message: format!("{p} began"),
            })
            .collect(),
        samples,
        journal: vec![journal(if finished { "reverted" } else { "applied" })],
        analyses: if finished {
            vec![Analysis {
                at: T0 + 60_000,
                engine: "offline".into(),
                text: "# Analysis (offline)\n\n- severity: **SEV3**\n- likely cause: one of three checkout pods was lost; two kept serving.\n- confidence: 70%".into(),
            }]
        } else {
            vec![]
        },
    }
}

fn app(w: u16, h: u16, status: Status) -> App {
    let mut a = App::new(
        Theme::load("dark", None, Tier::TrueColor).unwrap(),
        Keymap::default(),
        false,
        "kind-prod".into(),
        "default us-east-1".into(),
    );
    a.now_ms = T0 + 20_000;
    a.clock = || T0 + 20_000;
    a.update(Msg::Resize(w, h));
    a.update(Msg::K8s(Arc::new(k8s())));
    a.update(Msg::Aws(Arc::new(aws())));
    let phase = (status == Status::Running).then_some(Phase::Observe);
    a.update(Msg::Experiments(vec![record(status, phase)]));
    if status == Status::Running {
        a.live.insert(ID.into());
    }
    a.update(Msg::Detail(Box::new(detail(status != Status::Running))));
    a.update(Msg::SafetyState {
        open: usize::from(status == Status::Running),
        latched: None,
    });
    a
}

fn draw(a: &App) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(a.size.0, a.size.1)).unwrap();
    t.draw(|f| chaosduck::tui::ui::render(a, f)).unwrap();
    t.backend().buffer().clone()
}

fn text(b: &Buffer) -> String {
    let w = b.area.width as usize;
    b.content
        .chunks(w)
        .map(|row| {
            row.iter()
                .map(|c| c.symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// Where `needle` starts on screen.
fn find(b: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let w = b.area.width as usize;
    for (y, row) in b.content.chunks(w).enumerate() {
        let line: Vec<&str> = row.iter().map(|c| c.symbol()).collect();
        let joined = line.concat();
        if let Some(byte) = joined.find(needle) {
            let x = joined[..byte].chars().count();
            // Wide symbols are one cell each here (box drawing, arrows).
            return Some((x as u16, y as u16));
        }
    }
    None
}

#[test]
fn every_pane_at_80x24_as_tabs() {
    let mut a = app(80, 24, Status::Completed);
    for (i, pane) in Pane::ALL.iter().enumerate() {
        a.update(ch(char::from(b'1' + i as u8)));
        assert_eq!(a.focus, *pane);
        insta::assert_snapshot!(
            format!("tabs_80x24_{}", pane.title().to_lowercase()),
            text(&draw(&a))
        );
    }
}

#[test]
fn every_pane_at_200x50_side_by_side() {
    let a = app(200, 50, Status::Completed);
    insta::assert_snapshot!("all_200x50_completed", text(&draw(&a)));
    let a = app(200, 50, Status::Running);
    insta::assert_snapshot!("all_200x50_running", text(&draw(&a)));
}

#[test]
fn aws_topology_and_an_empty_store() {
    let mut a = App::new(
        Theme::default(),
        Keymap::default(),
        true,
        "no cluster".into(),
        "sandbox us-east-1".into(),
    );
    a.update(Msg::Resize(200, 50));
    a.update(Msg::Aws(Arc::new(aws())));
    a.update(ch('t'));
    insta::assert_snapshot!("aws_200x50_read_only", text(&draw(&a)));
}

#[test]
fn phase_colours_come_from_the_theme() {
    let a = app(200, 50, Status::Running);
    let b = draw(&a);
    for (name, idx) in [("✓ STEADY_STATE", 0), ("✓ INJECT", 2), ("▶ OBSERVE", 3)] {
        let (x, y) = find(&b, name).unwrap_or_else(|| panic!("{name} not on screen"));
        let cell = &b[(x + 2, y)];
        assert_eq!(cell.fg, a.theme.phases[idx], "{name}");
    }
    // Not reached yet: muted, not the phase colour.
    let (x, y) = find(&b, "· ROLLBACK").unwrap();
    assert_eq!(b[(x + 2, y)].fg, a.theme.muted);
    // The current phase is marked by more than colour (works under NO_COLOR too).
    let (x, y) = find(&b, "▶ OBSERVE").unwrap();
    assert!(
        b[(x + 2, y)]
            .modifier
            .contains(ratatui::style::Modifier::BOLD)
    );
}

#[test]
fn emergency_stop_from_the_prompt_box_shows_the_banner_in_the_failure_colour() {
    let mut a = app(200, 50, Status::Running);
    a.update(ch('p'));
    assert!(matches!(a.modal, Some(Modal::Prompt { .. })));
    for c in "kill the pay".chars() {
        a.update(ch(c));
    }
    let fx = a.update(ctrl('g'));
    assert_eq!(fx, vec![Effect::EmergencyStop]);
    assert!(
        a.modal.is_none(),
        "the stop closes the prompt to show the rollback"
    );
    // A second press while stopping does not start a second stop.
    assert!(a.update(ctrl('g')).is_empty());
    let b = draw(&a);
    insta::assert_snapshot!("stop_in_progress_200x50", text(&b));
    let (x, y) = find(&b, "EMERGENCY STOP").unwrap();
    assert_eq!(b[(x, y)].bg, a.theme.failure);
    assert_eq!(b[(0, y)].bg, a.theme.failure, "the banner spans the line");
    // Progress arrives as journal events.
    a.update(Msg::Run(RunEvent::Journal {
        entry: Box::new(journal("reverted")),
    }));
    a.update(Msg::SafetyState {
        open: 0,
        latched: Some("emergency stop from dashboard".into()),
    });
    assert!(text(&draw(&a)).contains("1 reverted, 0 failed, 0 open"));
    a.update(Msg::StopDone(Ok((1, 0))));
    let t = text(&draw(&a));
    assert!(t.contains("EMERGENCY STOP LATCHED"), "{t}");
    assert!(t.contains("every fault reverted"), "{t}");
}

#[test]
fn the_stop_key_works_in_every_modal() {
    for open in ['?', ':', '/', 'p', 'n', 'o'] {
        let mut a = app(80, 24, Status::Running);
        a.update(ch('1'));
        // Select the checkout workload so `n` has a target.
        let i = a.rows.iter().position(|r| r.label == "checkout").unwrap();
        a.topo_sel = i;
        let _ = a.update(ch(open));
        assert!(a.modal.is_some(), "{open} opened nothing");
        assert_eq!(
            a.update(ctrl('g')),
            vec![Effect::EmergencyStop],
            "in the modal of {open}"
        );
    }
}

#[test]
fn form_to_preview_to_confirmation_to_run() {
    let mut a = app(200, 50, Status::Completed);
    a.update(ch('1'));
    while a.selected_row().is_some_and(|r| r.label != "checkout") {
        a.update(key(KeyCode::Down));
    }
    a.update(ch('n'));
    insta::assert_snapshot!("flow_1_form", text(&draw(&a)));
    let fx = a.update(key(KeyCode::Enter));
    let Some(Effect::Preview { doc, source }) = fx.into_iter().next() else {
        panic!("no dry run asked for")
    };
    assert_eq!(source, None);
    assert_eq!(doc.metadata.name, "checkout-pod-delete");
    insta::assert_snapshot!("flow_2_planning", text(&draw(&a)));
    let plan: chaosduck::engine::plan::Plan = serde_json::from_value(serde_json::json!({
        "engine": "kubernetes", "namespace": "shop", "eligible": 7, "matched": 3,
        "targets": [{"kind": "pod", "name": "shop/checkout-7d9f-a"}],
        "steps": [{
            "target": {"kind": "pod", "name": "shop/checkout-7d9f-a"},
            "action": {"kind": "delete_pod", "namespace": "shop", "name": "checkout-7d9f-a"},
            "undo": {"kind": "await_pod_recovery", "namespace": "shop", "pod": "checkout-7d9f-a", "uid": "u",
                     "owner": {"kind": "ReplicaSet", "name": "checkout-7d9f", "uid": "r"}, "deleted_at": 0},
            "summary": "delete pod shop/checkout-7d9f-a (ReplicaSet checkout-7d9f)"
        }]
    }))
    .unwrap();
    let preview = chaosduck::engine::runner::Preview {
        plan,
        guardrails: vec![chaosduck::safety::guardrails::RuleVerdict {
            rule: "blast-radius",
            passed: true,
            message: "1 of 7 eligible affected, limit 50% (3)".into(),
        }],
    };
    a.update(Msg::Preview(Ok(chaosduck::tui::msg::PreviewReady {
        doc: doc.clone(),
        source: None,
        preview: Box::new(preview),
        review: None,
        notes: vec![],
    })));
    insta::assert_snapshot!("flow_3_preview", text(&draw(&a)));
    assert!(
        a.update(key(KeyCode::Enter)).is_empty(),
        "confirmation comes first"
    );
    insta::assert_snapshot!("flow_4_confirm", text(&draw(&a)));
    let fx = a.update(ch('y'));
    assert!(
        matches!(
            &fx[..],
            [Effect::Run {
                confirm_namespace: None,
                ..
            }]
        ),
        "{fx:?}"
    );
    assert!(a.modal.is_none());
}

#[test]
fn a_protected_namespace_must_be_typed() {
    let mut a = app(200, 50, Status::Completed);
    let doc = Box::new(record(Status::Completed, None).doc);
    a.modal = Some(Modal::Planning("dry run".into()));
    let plan: chaosduck::engine::plan::Plan = serde_json::from_value(serde_json::json!({
        "engine": "kubernetes", "namespace": "kube-system", "eligible": 2, "matched": 2,
        "targets": [{"kind": "pod", "name": "kube-system/coredns-1"}], "steps": []
    }))
    .unwrap();
    a.update(Msg::Preview(Ok(chaosduck::tui::msg::PreviewReady {
        doc,
        source: None,
        preview: Box::new(chaosduck::engine::runner::Preview {
            plan,
            guardrails: vec![chaosduck::safety::guardrails::RuleVerdict {
                rule: "protected-namespace",
                passed: false,
                message: "namespace kube-system is protected (kube-*); confirm by typing it".into(),
            }],
        }),
        review: None,
        notes: vec![],
    })));
    a.update(key(KeyCode::Enter));
    insta::assert_snapshot!("protected_confirm", text(&draw(&a)));
    for c in "kube-sys".chars() {
        a.update(ch(c));
    }
    assert!(
        a.update(key(KeyCode::Enter)).is_empty(),
        "a wrong name runs nothing"
    );
    assert!(text(&draw(&a)).contains("that is not `kube-system`"));
    for c in "tem".chars() {
        a.update(ch(c));
    }
    let fx = a.update(key(KeyCode::Enter));
    assert!(
        matches!(&fx[..], [Effect::Run { confirm_namespace: Some(ns), .. }] if ns == "kube-system"),
        "{fx:?}"
    );
}

#[test]
fn a_guardrail_refusal_cannot_be_confirmed_and_read_only_runs_nothing() {
    for read_only in [false, true] {
        let mut a = app(200, 50, Status::Completed);
        a.read_only = read_only;
        a.modal = Some(Modal::Planning("dry run".into()));
        let plan: chaosduck::engine::plan::Plan = serde_json::from_value(serde_json::json!({
            "engine": "kubernetes", "eligible": 2, "matched": 2, "targets": [], "steps": []
        }))
        .unwrap();
        let passed = read_only;
        a.update(Msg::Preview(Ok(chaosduck::tui::msg::PreviewReady {
            doc: Box::new(record(Status::Completed, None).doc),
            source: None,
            preview: Box::new(chaosduck::engine::runner::Preview {
                plan,
                guardrails: vec![chaosduck::safety::guardrails::RuleVerdict {
                    rule: "blast-radius",
                    passed,
                    message: "2 of 2 eligible affected, limit 1".into(),
                }],
            }),
            review: None,
            notes: vec![],
        })));
        assert!(a.update(key(KeyCode::Enter)).is_empty());
        assert!(a.update(ch('y')).is_empty());
        assert!(
            matches!(a.modal, Some(Modal::Preview { .. })),
            "still the preview"
        );
        let t = text(&draw(&a));
        if read_only {
            assert!(
                t.contains("READ-ONLY") && t.contains("read-only mode"),
                "{t}"
            );
        } else {
            assert!(t.contains("REFUSED by a guardrail"), "{t}");
        }
    }
}

#[test]
fn help_is_generated_from_the_keymap_with_overrides() {
    let mut over = std::collections::BTreeMap::new();
    over.insert("rollback".to_string(), vec!["x".to_string()]);
    let (km, errs) = Keymap::with_overrides(&over);
    assert!(errs.is_empty());
    let mut a = app(80, 24, Status::Completed);
    a.keymap = km;
    a.update(ch('?'));
    let t = text(&draw(&a));
    insta::assert_snapshot!("help_80x24", t);
    assert!(t.contains("Ctrl-G"));
    a.update(key(KeyCode::Esc));
    assert_eq!(a.update(ch('x')), vec![Effect::Rollback(ID.into())]);
    assert!(a.update(ch('r')).is_empty());
}

#[test]
fn mono_theme_keeps_the_selection_visible_without_colour() {
    let mut a = app(80, 24, Status::Completed);
    a.theme = Theme::mono();
    a.update(ch('1'));
    let b = draw(&a);
    let (x, y) = find(&b, "▶").unwrap();
    let coloured: Vec<_> = b
        .content
        .iter()
        .filter(|c| c.fg != ratatui::style::Color::Reset || c.bg != ratatui::style::Color::Reset)
        .collect();
    assert!(
        coloured.is_empty(),
        "coloured cells under mono: {coloured:?}"
    );
    assert!(
        b[(x + 1, y)]
            .modifier
            .contains(ratatui::style::Modifier::BOLD)
    );
}

#[test]
fn idle_messages_do_not_ask_for_a_redraw() {
    let mut a = app(200, 50, Status::Completed);
    a.dirty = false;
    a.update(Msg::Tick);
    assert!(!a.dirty, "a tick with nothing running must not redraw");
    a.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('Z'),
        KeyModifiers::NONE,
    )));
    assert!(!a.dirty, "an unbound key must not redraw");
    a.update(Msg::K8s(Arc::new(k8s())));
    a.update(Msg::Aws(Arc::new(aws())));
    assert!(
        !a.dirty,
        "a watch event that changed nothing shown must not redraw"
    );
    let mut changed = k8s();
    changed.nodes[0].ready = false;
    a.update(Msg::K8s(Arc::new(changed)));
    assert!(a.dirty);
    a.dirty = false;
    a.live.insert("x".into());
    a.update(Msg::Tick);
    assert!(
        a.dirty,
        "a tick while a run is live redraws the running timer"
    );
}

fn command(a: &mut App, line: &str) -> Vec<Effect> {
    let mut fx = a.update(ch(':'));
    for c in line.chars() {
        fx.extend(a.update(ch(c)));
    }
    fx.extend(a.update(key(KeyCode::Enter)));
    fx
}

#[test]
fn command_mode_switches_context_only_without_active_faults() {
    let mut a = app(200, 50, Status::Running);
    a.contexts = vec!["kind-prod".into(), "kind-staging".into()];
    command(&mut a, "ctx kind-nowhere");
    assert!(a.switch_to.is_none());
    assert!(text(&draw(&a)).contains("no context `kind-nowhere`"));
    command(&mut a, "ctx kind-staging");
    assert!(a.switch_to.is_none(), "a live run pins the context");
    assert!(text(&draw(&a)).contains("roll them back"));
    a.live.clear();
    a.update(Msg::SafetyState {
        open: 0,
        latched: None,
    });
    command(&mut a, "ctx kind-staging");
    assert_eq!(a.switch_to.as_deref(), Some("kind-staging"));
    assert!(a.should_exit);
}

#[test]
fn command_mode_theme_filter_reset_and_run() {
    let mut a = app(200, 50, Status::Completed);
    command(&mut a, "theme light");
    assert_eq!(a.theme.name, "light");
    command(&mut a, "theme nope");
    assert_eq!(a.theme.name, "light");
    assert!(text(&draw(&a)).contains("no theme named `nope`"));
    command(&mut a, "ns shop");
    let labels: Vec<_> = a.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "⎈ kind-prod",
            "shop",
            "checkout",
            "redis",
            "debug-shell",
            "services",
            "nodes"
        ]
    );
    assert!(text(&draw(&a)).contains("ns shop"));
    command(&mut a, "ns nowhere");
    assert!(text(&draw(&a)).contains("no namespace `nowhere`"));
    assert_eq!(a.namespace.as_deref(), Some("shop"));
    command(&mut a, "ns all");
    assert!(a.rows.iter().any(|r| r.label == "kube-system"));
    assert_eq!(command(&mut a, "reset"), vec![Effect::Reset]);
    assert_eq!(
        command(&mut a, "run experiments/pod-delete.yaml"),
        vec![Effect::LoadFile("experiments/pod-delete.yaml".into())]
    );
    assert!(matches!(a.modal, Some(Modal::Planning(_))));
    a.update(key(KeyCode::Esc));
    assert!(command(&mut a, "frobnicate").is_empty());
    assert!(text(&draw(&a)).contains("unknown command `:frobnicate`"));
}

#[test]
fn signals_and_a_lost_terminal_roll_back_once() {
    let mut a = app(80, 24, Status::Running);
    let fx = a.update(Msg::Signal("SIGHUP"));
    assert!(matches!(&fx[..], [Effect::Shutdown(r)] if r.contains("SIGHUP")));
    assert!(
        a.update(Msg::InputLost("eof".into())).is_empty(),
        "one shutdown only"
    );
    assert!(a.terminal_lost);
    assert!(!a.should_exit);
    a.update(Msg::ShutdownDone);
    assert!(a.should_exit);
}

#[test]
fn ten_thousand_pods_scroll_by_the_window_only() {
    let mut t = k8s();
    t.namespaces[1].workloads[0].pods = (0..10_000)
        .map(|i| pod(&format!("checkout-{i:05}"), true, &[]))
        .collect();
    let mut a = app(80, 24, Status::Completed);
    a.update(ch('1'));
    a.update(Msg::K8s(Arc::new(t)));
    let i = a.rows.iter().position(|r| r.label == "checkout").unwrap();
    a.topo_sel = i;
    a.update(key(KeyCode::Enter));
    assert!(a.rows.len() > 10_000);
    a.update(key(KeyCode::End));
    let b = draw(&a);
    let t = text(&b);
    assert!(
        t.contains("▶") && t.contains("checkout-09999") || t.contains("nodes"),
        "{t}"
    );
    a.update(ch('/'));
    for c in "09998".chars() {
        a.update(ch(c));
    }
    a.update(key(KeyCode::Enter));
    let labels: Vec<_> = a.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels.last(), Some(&"checkout-09998"));
    assert!(text(&draw(&a)).contains("/09998"));
}

#[test]
fn the_prompt_names_the_namespace_the_topology_implies() {
    let mut a = app(200, 50, Status::Completed);
    assert_eq!(
        a.namespace_hint("kill one checkout pod"),
        Some("shop".into())
    );
    assert_eq!(
        a.namespace_hint("kill one checkout pod in namespace prod"),
        None
    );
    a.update(ch('1'));
    let i = a
        .rows
        .iter()
        .position(|r| r.label == "kube-system")
        .unwrap();
    a.topo_sel = i;
    assert_eq!(
        a.namespace_hint("stress the cpu of 2 pods"),
        Some("kube-system".into())
    );
    a.update(ch('p'));
    for c in "delete one redis pod".chars() {
        a.update(ch(c));
    }
    let fx = a.update(key(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::Nl("delete one redis pod in namespace shop".into())]
    );
    assert!(matches!(a.modal, Some(Modal::Prompt { busy: true, .. })));
}

#[test]
fn tiny_and_odd_terminals_render_every_modal_without_panicking() {
    for (w, h) in [(1, 1), (10, 3), (40, 10), (79, 23), (300, 90)] {
        for open in [
            None,
            Some('?'),
            Some(':'),
            Some('/'),
            Some('p'),
            Some('n'),
            Some('o'),
        ] {
            let mut a = app(w, h, Status::Running);
            a.update(ch('1'));
            if let Some(i) = a.rows.iter().position(|r| r.label == "checkout") {
                a.topo_sel = i;
            }
            if let Some(c) = open {
                a.update(ch(c));
            }
            let b = draw(&a);
            assert_eq!(b.area.width, w);
            a.update(ctrl('g'));
            let t = text(&draw(&a));
            if w >= 40 && h >= 3 {
                assert!(t.contains("EMERGENCY STOP"), "{w}x{h} {open:?}: {t}");
            }
        }
    }
}

#[test]
fn suggestions_open_as_editable_experiments() {
    let mut a = app(200, 50, Status::Completed);
    a.update(ch('1'));
    let i = a.rows.iter().position(|r| r.label == "shop").unwrap();
    a.topo_sel = i;
    assert_eq!(
        a.update(ch('s')),
        vec![Effect::Suggest(Some("shop".into()))]
    );
    assert!(text(&draw(&a)).contains("asking the engine"));
    let yaml = std::fs::read_to_string("experiments/network-loss.yaml").unwrap();
    a.update(Msg::Suggestions(chaosduck::tui::msg::SuggestionList {
        engine: "offline".into(),
        items: vec![
            (
                "network_loss not tried on app=checkout yet".into(),
                yaml.clone(),
            ),
            ("cpu_stress not tried yet".into(), yaml),
        ],
        trends: vec!["shop: 1 experiment(s), mean 85".into()],
    }));
    insta::assert_snapshot!("suggestions_200x50", text(&draw(&a)));
    a.update(key(KeyCode::Down));
    a.update(key(KeyCode::Enter));
    let Some(Modal::Editor { note, .. }) = &a.modal else {
        panic!("no editor")
    };
    assert!(
        note.as_deref()
            .unwrap()
            .contains("cpu_stress not tried yet")
    );
    assert!(matches!(
        a.update(key(KeyCode::F(5)))[..],
        [Effect::Preview { .. }]
    ));
}
