//! The faulty proxy in front of the sandbox API server: each fault kind is what a client sees,
//! the matcher limits which requests are faulted, the plan switches at runtime, and every
//! fault is counted.

use chaosduck::sandbox::faulty_proxy::{FaultKind, FaultPlan, FaultyProxy, Matcher};
use chaosduck::sandbox::{Sandbox, SandboxOptions};
use std::time::{Duration, Instant};

async fn setup(plan: FaultPlan) -> (Sandbox, FaultyProxy, reqwest::Client) {
    let sb = Sandbox::start(SandboxOptions {
        apps: false,
        ..SandboxOptions::fast()
    })
    .await
    .expect("sandbox");
    let p = FaultyProxy::start(sb.addr(), "127.0.0.1:0".parse().unwrap(), plan, 7)
        .await
        .expect("proxy");
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    (sb, p, c)
}

fn only(kind: FaultKind) -> FaultPlan {
    FaultPlan {
        kinds: vec![kind],
        slow: Duration::from_millis(400),
        hold: Duration::from_millis(500),
        ..FaultPlan::every_kind(1.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_kind_is_what_the_client_sees_and_is_counted() {
    let (sb, p, c) = setup(FaultPlan::off()).await;
    let url = format!("{}/api/v1/namespaces", p.url());

    let r = c.get(&url).send().await.expect("passes");
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("shop"));

    p.set_plan(only(FaultKind::Error500));
    assert_eq!(c.get(&url).send().await.unwrap().status(), 500);
    p.set_plan(only(FaultKind::Error503));
    assert_eq!(c.get(&url).send().await.unwrap().status(), 503);

    p.set_plan(only(FaultKind::Slow));
    let t = Instant::now();
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );

    p.set_plan(only(FaultKind::Timeout));
    let t = Instant::now();
    let r = c.get(&url).send().await;
    assert!(r.is_err(), "a held connection never answers: {r:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );

    p.set_plan(only(FaultKind::Drop));
    let r = c.get(&url).send().await;
    let body = match r {
        Ok(r) => r.bytes().await.map(|b| b.len()),
        Err(e) => Err(e),
    };
    assert!(body.is_err(), "the body is cut: {body:?}");

    let n = p.counts();
    assert_eq!(
        (
            n.passed,
            n.error_500,
            n.error_503,
            n.slow,
            n.timeout,
            n.dropped
        ),
        (1, 1, 1, 1, 1, 1),
        "{n}"
    );
    assert_eq!(n.requests, 6);
    assert_eq!(n.faults(), 5);
    p.shutdown().await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_matching_requests_are_faulted_and_the_rate_switches_at_runtime() {
    let plan = FaultPlan {
        matcher: Matcher {
            methods: vec!["DELETE".into()],
            path_contains: vec!["/namespaces/shop/".into()],
            body_contains: vec![],
        },
        ..only(FaultKind::Error503)
    };
    let (sb, p, c) = setup(plan).await;
    let pods = format!("{}/api/v1/namespaces/shop/pods", p.url());
    for _ in 0..5 {
        assert_eq!(c.get(&pods).send().await.unwrap().status(), 200);
    }
    let victim = sb.pods(Some("shop"))[0]
        .metadata
        .name
        .clone()
        .expect("a shop pod");
    let del = format!("{pods}/{victim}");
    assert_eq!(c.delete(&del).send().await.unwrap().status(), 503);
    assert!(
        sb.pod("shop", &victim).is_some(),
        "a 503 never reaches the server"
    );
    p.set_rate(0.0);
    assert_eq!(c.delete(&del).send().await.unwrap().status(), 200);
    let n = p.counts();
    assert_eq!((n.passed, n.error_503), (6, 1), "{n}");

    // A share: about 30 % of 200 requests.
    p.set_plan(FaultPlan {
        rate: 0.3,
        ..only(FaultKind::Error500)
    });
    let mut bad = 0;
    for _ in 0..200 {
        if c.get(&pods).send().await.unwrap().status() == 500 {
            bad += 1;
        }
    }
    assert!((30..=90).contains(&bad), "{bad} of 200 at rate 0.3");
    assert_eq!(p.counts().error_500, bad);
    p.shutdown().await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_forwards_the_request_so_the_change_may_have_happened() {
    let (sb, p, c) = setup(only(FaultKind::Timeout)).await;
    let victim = sb.pods(Some("shop"))[0]
        .metadata
        .name
        .clone()
        .expect("a shop pod");
    let del = format!("{}/api/v1/namespaces/shop/pods/{victim}", p.url());
    let r = c.delete(&del).send().await;
    assert!(r.is_err(), "{r:?}");
    let gone_or_terminating = sb
        .pod("shop", &victim)
        .is_none_or(|p| p.metadata.deletion_timestamp.is_some());
    assert!(gone_or_terminating, "the upstream got the request");
    assert_eq!(p.counts().timeout, 1);
    p.shutdown().await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_refuses_non_loopback_addresses() {
    let r = FaultyProxy::start(
        "10.1.2.3:80".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        FaultPlan::off(),
        1,
    )
    .await;
    assert!(r.is_err());
    let r = FaultyProxy::start(
        "127.0.0.1:80".parse().unwrap(),
        "0.0.0.0:0".parse().unwrap(),
        FaultPlan::off(),
        1,
    )
    .await;
    assert!(r.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_proxy_command_serves_faults_and_prints_its_counts_on_sigterm() {
    use std::io::BufRead;
    let sb = Sandbox::start(SandboxOptions {
        apps: false,
        ..SandboxOptions::fast()
    })
    .await
    .expect("sandbox");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chaosduck"))
        .args(["sandbox", "proxy", "--upstream", &sb.base_url()])
        .args(["--fault-rate", "1", "--faults", "503", "--seed", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn chaosduck sandbox proxy");
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    let read = tokio::task::block_in_place(|| out.read_line(&mut first));
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .map(str::to_string);
    let status = match &url {
        Some(u) => reqwest::get(format!("{u}/api/v1/namespaces"))
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        None => None,
    };
    // SAFETY: kill(2) on the child we started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let mut rest = String::new();
    let _ = tokio::task::block_in_place(|| std::io::Read::read_to_string(&mut out, &mut rest));
    let st = tokio::task::block_in_place(|| child.wait()).expect("wait");
    assert!(read.is_ok() && url.is_some(), "{first}");
    assert!(first.contains("seed 3"), "{first}");
    assert_eq!(status, Some(503));
    assert!(rest.contains("1 × 503"), "{rest}");
    assert_eq!(st.code(), Some(0));
    sb.shutdown().await;
}
