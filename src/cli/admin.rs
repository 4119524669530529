//! `recover`, `stop`, `reset`.

use super::{Cli, Exit, OutputFormat, fail, open_env};
use crate::engine::events::EventSink;
use crate::safety::control::{self, Reply, Request};

/// `recover`: recovery already ran in `open_env`; report what is still open. With `sweep`, also
/// restore AWS changes found by their tags.
pub async fn recover(cli: &Cli, sweep: bool, force: bool, output: OutputFormat) -> Exit {
    let env = match open_env(cli, EventSink::none()).await {
        Ok(e) => e,
        Err(e) => return e,
    };
    // A second pass retries anything the first could not revert.
    let rep = match env.sup.recover().await {
        Ok(r) => r,
        Err(e) => return fail(Exit::Failed, e),
    };
    let s = env.store.clone();
    let open = match tokio::task::spawn_blocking(move || s.open_journal()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return fail(Exit::Failed, e),
        Err(e) => return fail(Exit::Failed, e),
    };
    let mut sweeps = Vec::new();
    if sweep {
        let settings = cli.aws_settings();
        let backend = crate::engine::aws::AwsBackend::new(settings);
        let mut regions: Vec<Option<String>> = vec![None];
        for r in &env.sup.context().config.aws.allowed_regions {
            regions.push(Some(r.clone()));
        }
        let mut seen = std::collections::HashSet::new();
        for r in regions {
            match crate::engine::aws::sweep::sweep(&backend, r.as_deref(), force).await {
                Ok(rep) => {
                    if seen.insert(rep.region.clone()) {
                        sweeps.push(rep);
                    }
                }
                // No default region is fine when the config names the regions to sweep.
                Err(crate::engine::aws::client::AwsError::NoRegion)
                    if r.is_none() && !env.sup.context().config.aws.allowed_regions.is_empty() => {}
                Err(e) => return fail(Exit::Failed, format!("sweep: {e}")),
            }
        }
    }
    let sweep_failures: usize = sweeps.iter().map(|s| s.failures()).sum();
    match output {
        OutputFormat::Json => {
            let v = serde_json::json!({ "retried": rep.experiments, "still_open": open, "sweep": sweeps });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        OutputFormat::Text => {
            for s in &sweeps {
                println!("sweep of {}: {} artefact(s)", s.region, s.items.len());
                for i in &s.items {
                    println!(
                        "  {:<8} {} ({}): {}",
                        i.outcome, i.resource, i.experiment, i.message
                    );
                }
                for e in &s.service_errors {
                    println!("  failed   {e}");
                }
            }
            if open.is_empty() {
                println!("journal clean: nothing left to revert");
            } else {
                println!("{} step(s) could not be reverted:", open.len());
                for e in &open {
                    println!("  {} {}", e.experiment_id, super::output::journal_line(e));
                }
            }
        }
    }
    if open.is_empty() && sweep_failures == 0 {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

/// `stop`: reach the running instance through its socket, or recover and latch here.
pub async fn stop(cli: &Cli) -> Exit {
    let path = control::socket_path(&cli.db_path());
    match control::request(&path, &Request::Stop).await {
        Ok(Some(Reply::Stopped(rep))) => {
            println!(
                "emergency stop done: {} run(s) stopped, {} other experiment(s) recovered, {} step(s) still open",
                rep.stopped.len(),
                rep.recovered.len(),
                rep.still_open
            );
            println!("new runs are refused until `chaosduck reset`");
            if rep.still_open == 0 {
                Exit::Ok
            } else {
                Exit::Failed
            }
        }
        Ok(Some(other)) => fail(
            Exit::Failed,
            format!("unexpected reply from the running instance: {other:?}"),
        ),
        Ok(None) | Err(_) => {
            // Nobody listens: do it here. A process that is just exiting still holds the file
            // for a moment, so retry briefly.
            let mut tries = 0;
            let env = loop {
                match open_env(cli, EventSink::none()).await {
                    Ok(e) => break e,
                    Err(Exit::Environment) if tries < 50 => {
                        tries += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        if let Ok(Some(Reply::Stopped(rep))) =
                            control::request(&path, &Request::Stop).await
                        {
                            println!(
                                "emergency stop done: {} run(s) stopped, {} step(s) still open",
                                rep.stopped.len(),
                                rep.still_open
                            );
                            return if rep.still_open == 0 {
                                Exit::Ok
                            } else {
                                Exit::Failed
                            };
                        }
                    }
                    Err(e) => return e,
                }
            };
            match env
                .sup
                .emergency_stop("chaosduck stop (no running instance)")
                .await
            {
                Ok(rep) => {
                    println!(
                        "no running instance; recovered {} experiment(s) from the journal, {} step(s) still open",
                        rep.recovered.len(),
                        rep.still_open
                    );
                    println!("new runs are refused until `chaosduck reset`");
                    if rep.still_open == 0 {
                        Exit::Ok
                    } else {
                        Exit::Failed
                    }
                }
                Err(e) => fail(Exit::Failed, e),
            }
        }
    }
}

/// `reset`: clear the latch.
pub async fn reset(cli: &Cli) -> Exit {
    let path = control::socket_path(&cli.db_path());
    if let Ok(Some(Reply::Reset)) = control::request(&path, &Request::Reset).await {
        println!("emergency stop reset");
        return Exit::Ok;
    }
    let env = match open_env(cli, EventSink::none()).await {
        Ok(e) => e,
        Err(e) => return e,
    };
    match env.sup.reset().await {
        Ok(()) => {
            println!("emergency stop reset");
            Exit::Ok
        }
        Err(e) => fail(Exit::Failed, e),
    }
}
