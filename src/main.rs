//! The `chaosduck` binary.

use chaosduck::cli::{Cli, dispatch};
use clap::Parser;

fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::EnvFilter;
    let dir = dirs::state_dir()
        .or_else(dirs::data_local_dir)?
        .join("chaosduck");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("chaosduck: warning: no log file ({}: {e})", dir.display());
        return None;
    }
    let mut filter = EnvFilter::try_from_env("CHAOSDUCK_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Credentials must never reach the log, whatever the filter asks for.
    for cap in chaosduck::engine::aws::client::LOG_CAPS {
        if let Ok(d) = cap.parse() {
            filter = filter.add_directive(d);
        }
    }
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("chaosduck")
        .filename_suffix("log")
        .max_log_files(7)
        .build(&dir);
    let appender = match appender {
        Ok(a) => a,
        Err(e) => {
            eprintln!("chaosduck: warning: no log file ({}: {e})", dir.display());
            return None;
        }
    };
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Some(guard)
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    if cli.sandbox && cli.command.is_none() && cli.aws_endpoint_url.is_none() {
        // The dashboard's sandbox AWS account ignores credentials but the SDK wants some.
        // SAFETY: no other thread exists yet (the runtime is built below).
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "sandbox"),
            ("AWS_SECRET_ACCESS_KEY", "sandbox"),
        ] {
            if std::env::var_os(k).is_none() {
                unsafe { std::env::set_var(k, v) };
            }
        }
    }
    let _guard = init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let code = rt.block_on(dispatch(cli));
    // Background tasks (socket, signals) must not hold the exit.
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    Ok(std::process::ExitCode::from(code as u8))
}
