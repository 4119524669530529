//! The headless face: clap commands sharing the engine, store and safety layer with the
//! dashboard.

mod admin;
mod ai;
mod check;
mod inspect;
mod output;
mod run;
mod topology;
mod validate;

use crate::config::Config;
use crate::engine::Engines;
use crate::engine::aws::AwsBackend;
use crate::engine::aws::client::AwsSettings;
use crate::engine::events::EventSink;
use crate::engine::runner::RunContext;
use crate::engine::supervisor::Supervisor;
use crate::engine::testworld::TestWorld;
use crate::store::{Store, StoreError};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;

/// Exit codes, documented in `--help`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// The command succeeded; for `run`, the hypothesis held.
    Ok = 0,
    /// The hypothesis was violated.
    Violated = 1,
    /// Invalid input: experiment file, flags or config.
    Invalid = 2,
    /// The run was aborted or emergency-stopped (and rolled back).
    Aborted = 3,
    /// A guardrail refused the run; nothing was changed.
    Refused = 4,
    /// The run failed, or undo steps could not be reverted (see the journal).
    Failed = 5,
    /// The environment is not usable: database held by another process, damaged, unreachable.
    Environment = 6,
    /// The run completed but its hypothesis could not be judged (no or unevaluated probes).
    Inconclusive = 7,
}

const EXIT_CODES: &str = "Exit codes:
  0  success; for run: completed and the hypothesis held
  1  the hypothesis was violated
  2  invalid input (experiment file, flags or config)
  3  aborted or emergency-stopped (everything was rolled back)
  4  refused by a guardrail (nothing was changed)
  5  failed (an error, or undo steps that could not be reverted: see `chaosduck show`)
  6  environment problem (database held by another process or damaged)
  7  completed, but the hypothesis could not be judged (no or unevaluated probes)

Failpoints for crash tests: CHAOSDUCK_FAILPOINT=STEP[:N] kills the process at the N-th time it
reaches STEP (after-plan, after-intent, after-apply, mid-observe, before-revert, after-revert,
before-finish). Logs: $XDG_STATE_HOME/chaosduck/ (filter with CHAOSDUCK_LOG).";

/// Output format of inspecting commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    #[default]
    Text,
    /// One JSON document.
    Json,
}

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// The full record as JSON.
    Json,
    /// A Markdown report.
    Markdown,
}

/// ChaosDuck: chaos experiments on Kubernetes and AWS, every fault journaled and reverted.
#[derive(Debug, Parser)]
#[command(name = "chaosduck", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// The database file [default: $XDG_DATA_HOME/chaosduck/chaosduck.redb].
    #[arg(long, global = true, env = "CHAOSDUCK_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Kubeconfig file (as kubectl's --kubeconfig).
    #[arg(long, global = true, env = "KUBECONFIG", value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Kube context (as kubectl's --context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Config file [default: $XDG_CONFIG_HOME/chaosduck/config.toml].
    #[arg(long, global = true, env = "CHAOSDUCK_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Run Kubernetes faults against a file-backed simulated world in DIR (for trying ChaosDuck
    /// and for tests; see README).
    #[arg(long, global = true, env = "CHAOSDUCK_WORLD", value_name = "DIR")]
    pub world: Option<PathBuf>,
    /// Start the built-in simulated cluster in this process and run against it.
    #[arg(long, global = true)]
    pub sandbox: bool,
    /// Serve ChaosDuck's Prometheus metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long, global = true, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// AWS profile (as the AWS CLI's --profile); the standard credential chain otherwise.
    #[arg(long, global = true, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region for targets that name none (as the AWS CLI's --region).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// AWS endpoint for every service: an emulator or the sandbox account.
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub aws_endpoint_url: Option<String>,
    /// Dashboard: offer no mutating action (dry runs, rollback and the emergency stop stay).
    #[arg(long)]
    pub read_only: bool,
    /// Dashboard: colour theme (dark, light, high-contrast, basic16, mono, or a file's name in
    /// $XDG_CONFIG_HOME/chaosduck/themes/).
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// What to do; without a command, the dashboard opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an experiment: plan, guardrails, the five phases, rollback, verdict.
    #[command(after_help = EXIT_CODES)]
    Run {
        /// The experiment file.
        file: PathBuf,
        /// Only plan and check guardrails; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Confirm a protected namespace by typing its name.
        #[arg(long, value_name = "NAME")]
        confirm_namespace: Option<String>,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Show what a run would do (targets, undo steps, guardrail verdicts); change nothing.
    DryRun {
        /// The experiment file.
        file: PathBuf,
        /// Confirm a protected namespace by typing its name.
        #[arg(long, value_name = "NAME")]
        confirm_namespace: Option<String>,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Evaluate an experiment's probes once, now, injecting nothing (0 = steady state holds).
    Check {
        /// The experiment file.
        file: PathBuf,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Check experiment files; every problem is reported with file, line, column and field.
    Validate {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// List experiments, newest first.
    List {
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Show one experiment: status, verdict, timeline, journal, probe summary.
    Show {
        /// Experiment id (a unique prefix is enough).
        id: String,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Revert every journal entry a dead process left open.
    Recover {
        /// Also restore AWS changes from their `chaosduck:*` tags alone (for a lost journal).
        #[arg(long)]
        sweep: bool,
        /// With --sweep: also restore changes whose expiry has not passed (a run may own them).
        #[arg(long, requires = "sweep")]
        force: bool,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Emergency stop: roll back every active experiment and latch until `reset`.
    Stop,
    /// Clear the emergency-stop latch.
    Reset,
    /// Export an experiment.
    Export {
        /// Experiment id (a unique prefix is enough).
        id: String,
        /// Format.
        #[arg(long, value_enum)]
        format: ExportFormat,
    },
    /// Show the topology: the Kubernetes cluster (namespaces, workloads, pods, nodes, services,
    /// with ChaosDuck's fault markers), or with --aws one region's VPCs, routes, ACLs, EC2, RDS.
    Topology {
        /// The AWS topology instead of the Kubernetes one.
        #[arg(long)]
        aws: bool,
        /// Watch these kube contexts at once (comma-separated); the current one when absent.
        #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
        contexts: Vec<String>,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Print the JSON Schema of experiment files (for editor completion).
    Schema,
    /// AI assistance: natural language to experiments, analysis, reports, suggestions
    /// (Anthropic, an OpenAI-compatible server, or the offline engine).
    Ai {
        /// What to do.
        #[command(subcommand)]
        command: ai::AiCommand,
    },
    /// The built-in simulated cluster.
    Sandbox {
        /// What to do with it.
        #[command(subcommand)]
        command: SandboxCommand,
    },
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `chaosduck sandbox ...`
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve the simulated Kubernetes API on 127.0.0.1 until stopped (SIGINT/SIGTERM), for
    /// kubectl, another chaosduck process (`--kubeconfig FILE`) and crash tests.
    Serve(crate::sandbox::SandboxServeArgs),
    /// A faulty HTTP proxy on 127.0.0.1 in front of the sandbox, its AWS account or moto: a share
    /// of requests gets a 500/503, a slow answer, a held connection or a cut one (for campaigns).
    Proxy(crate::sandbox::faulty_proxy::ProxyArgs),
}

/// Everything a command needs once the store is open.
pub(crate) struct Env {
    pub sup: Arc<Supervisor>,
    pub store: Store,
    /// The in-process sandbox, alive as long as the command.
    pub _sandbox: Option<crate::sandbox::Sandbox>,
    /// The Kubernetes client and its context name, when there is a cluster.
    pub kube: Option<(kube::Client, String)>,
    /// What start-up recovery did (for the dashboard to show).
    pub recovered: Vec<String>,
}

/// What `Cli::engines` found.
pub(crate) struct Built {
    pub engines: Engines,
    pub sandbox: Option<crate::sandbox::Sandbox>,
    pub kube: Option<(kube::Client, String)>,
}

impl Cli {
    fn db_path(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(|| {
            dirs::data_dir()
                .unwrap_or_else(|| PathBuf::from("."))
                .join("chaosduck")
                .join("chaosduck.redb")
        })
    }

    /// The engines this invocation can use: the test world, and Kubernetes through `--sandbox`,
    /// `--kubeconfig`/`--context`, or whatever kubeconfig is found.
    pub(crate) async fn engines(&self, config: &Config) -> Result<Built, Exit> {
        use crate::engine::k8s::{K8sBackend, client};
        let mut e = Engines::default();
        if let Some(w) = &self.world {
            e = e.with(Arc::new(TestWorld::new(w)));
        }
        let aws = self.aws_settings();
        if aws.configured() {
            crate::probe::aws::set_clients(Some(Arc::new(
                crate::engine::aws::client::AwsClients::new(aws.clone()),
            )));
            e = e.with(Arc::new(AwsBackend::new(aws)));
        }
        if self.sandbox {
            let sb = crate::sandbox::Sandbox::start(crate::sandbox::SandboxOptions::default())
                .await
                .map_err(|err| {
                    fail(
                        Exit::Environment,
                        format!("cannot start the sandbox: {err}"),
                    )
                })?;
            let mut kc = sb.kube_config();
            let c = client::from_config(
                &mut kc,
                Some("chaosduck-sandbox"),
                config.kubernetes.request_timeout.get(),
            )
            .map_err(|err| fail(Exit::Environment, err))?;
            let scope = format!("sandbox pid {}", std::process::id());
            crate::probe::k8s::set_client(Some(c.client.clone()));
            let kube = Some((c.watch.clone(), c.context.clone()));
            e = e.with(Arc::new(K8sBackend::new(
                c.client,
                c.context,
                scope,
                config.kubernetes.clone(),
            )));
            return Ok(Built {
                engines: e,
                sandbox: Some(sb),
                kube,
            });
        }
        // KUBECONFIG may hold a list of files; kube's inference merges those.
        let file = self
            .kubeconfig
            .as_deref()
            .filter(|p| !p.to_string_lossy().contains(':'));
        let explicit = file.is_some() || self.context.is_some();
        let mut kube = None;
        match client::connect(
            file,
            self.context.as_deref(),
            config.kubernetes.request_timeout.get(),
        )
        .await
        {
            Ok(c) => {
                let scope = format!("kubernetes {}", c.server);
                crate::probe::k8s::set_client(Some(c.client.clone()));
                kube = Some((c.watch.clone(), c.context.clone()));
                e = e.with(Arc::new(K8sBackend::new(
                    c.client,
                    c.context,
                    scope,
                    config.kubernetes.clone(),
                )));
            }
            Err(err) if explicit => return Err(fail(Exit::Invalid, err)),
            Err(err) => tracing::debug!(error = %err, "no Kubernetes engine"),
        }
        Ok(Built {
            engines: e,
            sandbox: None,
            kube,
        })
    }

    /// The AWS settings from the global flags.
    pub fn aws_settings(&self) -> AwsSettings {
        AwsSettings {
            profile: self.profile.clone().filter(|s| !s.is_empty()),
            region: self.region.clone().filter(|s| !s.is_empty()),
            endpoint_url: self.aws_endpoint_url.clone().filter(|s| !s.is_empty()),
        }
    }
}

fn fail(code: Exit, msg: impl std::fmt::Display) -> Exit {
    eprintln!("chaosduck: {msg}");
    code
}

/// Opens config and store, recovers what a dead process left, and returns the environment.
pub(crate) async fn open_env(cli: &Cli, events: EventSink) -> Result<Env, Exit> {
    let config = Config::load(cli.config.as_deref()).map_err(|e| fail(Exit::Invalid, e))?;
    let path = cli.db_path();
    let p2 = path.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&p2))
        .await
        .map_err(|e| fail(Exit::Environment, e))?
        .map_err(|e| {
            let code = match e {
                StoreError::Locked { .. }
                | StoreError::Corrupt { .. }
                | StoreError::FutureVersion { .. }
                | StoreError::Io { .. } => Exit::Environment,
                _ => Exit::Failed,
            };
            fail(code, e)
        })?;
    let Built {
        engines,
        sandbox,
        kube,
    } = cli.engines(&config).await?;
    let ctx = RunContext {
        store: store.clone(),
        engines,
        config: Arc::new(config),
        events,
    };
    let sup = Supervisor::new(ctx);
    // Before anything else: revert what a dead process left behind.
    let mut recovered = Vec::new();
    match sup.recover().await {
        Ok(rep) => {
            for e in &rep.experiments {
                let line = format!(
                    "recovered experiment {} left by a dead process: {} step(s) reverted, {} failed, now {}",
                    e.id, e.reverted, e.failed, e.status
                );
                eprintln!("chaosduck: {line}");
                recovered.push(line);
            }
        }
        Err(e) => {
            eprintln!("chaosduck: recovery could not run: {e}");
            recovered.push(format!(
                "recovery could not run: {e}; run `chaosduck recover`"
            ));
        }
    }
    Ok(Env {
        recovered,
        sup,
        store,
        _sandbox: sandbox,
        kube,
    })
}

/// Runs the parsed command; returns the process exit code.
pub async fn dispatch(cli: Cli) -> Exit {
    let Some(command) = &cli.command else {
        return crate::tui::run(cli).await;
    };
    match command {
        Command::Validate { files, output } => validate::validate(files, *output),
        Command::Schema => validate::schema(),
        Command::Ai { command } => ai::dispatch(&cli, command).await,
        Command::Sandbox {
            command: SandboxCommand::Serve(args),
        } => match crate::sandbox::serve(args.clone()).await {
            Ok(()) => Exit::Ok,
            Err(e) => fail(Exit::Environment, e),
        },
        Command::Sandbox {
            command: SandboxCommand::Proxy(args),
        } => match crate::sandbox::faulty_proxy::serve(args.clone()).await {
            Ok(()) => Exit::Ok,
            Err(e) => fail(Exit::Environment, e),
        },
        Command::Check { file, output } => check::check(&cli, file, *output).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "chaosduck",
                &mut std::io::stdout(),
            );
            Exit::Ok
        }
        Command::Run {
            file,
            dry_run: true,
            confirm_namespace,
            output,
        }
        | Command::DryRun {
            file,
            confirm_namespace,
            output,
        } => run::dry_run(&cli, file, confirm_namespace.clone(), *output).await,
        Command::Run {
            file,
            dry_run: false,
            confirm_namespace,
            output,
        } => run::run(&cli, file, confirm_namespace.clone(), *output).await,
        Command::List { output } => inspect::list(&cli, *output).await,
        Command::Show { id, output } => inspect::show(&cli, id, *output).await,
        Command::Export { id, format } => inspect::export(&cli, id, *format).await,
        Command::Recover {
            sweep,
            force,
            output,
        } => admin::recover(&cli, *sweep, *force, *output).await,
        Command::Stop => admin::stop(&cli).await,
        Command::Topology {
            aws,
            contexts,
            output,
        } => topology::show(&cli, *aws, contexts, *output).await,
        Command::Reset => admin::reset(&cli).await,
    }
}
