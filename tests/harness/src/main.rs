//! psa-bridge-host — run the psa-bridge component like the automation platform does.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use psa_bridge_host::message;
use psa_bridge_host::plugin::{CallOptions, Plugin};
use psa_bridge_host::progress::StderrProgress;
use psa_bridge_host::schedule::{self, Schedule, Sink, Stop};
use psa_bridge_host::spec::Spec;
use serde_json::json;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "psa-bridge-host",
    version,
    about = "Runs the psa-bridge WebAssembly plugin with the platform's message protocol"
)]
struct Cli {
    /// The component (default: the release build next to this binary).
    #[arg(long, global = true)]
    component: Option<PathBuf>,
    /// plugin.spec.yaml (default: ./plugin.spec.yaml, else the one of this checkout).
    #[arg(long, global = true)]
    spec: Option<PathBuf>,
    /// Allow plain http to loopback addresses (the simulators; never in production).
    #[arg(long, global = true)]
    allow_loopback: bool,
    /// Limit for one action, in seconds.
    #[arg(long, global = true, default_value_t = 900)]
    timeout_s: u64,
    /// Show the component's progress on stderr.
    #[arg(long, global = true)]
    progress: bool,
    /// The only hosts any connection may name (`host` or `host:port`; repeat it): a connection naming
    /// another is refused before any request leaves. Every host the connection names when absent.
    #[arg(long = "allow-host", global = true, value_name = "HOST[:PORT]")]
    allow_hosts: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Plugin name, version and actions.
    Info,
    /// A valid action_start message for ACTION, from the spec's examples.
    Sample { action: String },
    /// Run one action_start message (stdin or --file) and print the action_event.
    Run {
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Test the connection of a message (stdin or --file).
    Test {
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Run a task_start message's task on a schedule, its state in --state-file; one task_event line per run.
    Task {
        #[arg(long)]
        file: PathBuf,
        /// The state between runs (created by the first successful run; the message's state is used until then).
        #[arg(long)]
        state_file: PathBuf,
        /// Seconds between runs (a run with has_more_pages is followed at once).
        #[arg(long, default_value_t = 300.0)]
        interval_s: f64,
        /// Stop after this many runs.
        #[arg(long)]
        runs: Option<u64>,
    },
    /// Poll a trigger_start message's trigger; each event printed as one trigger_event line or POSTed to the dispatcher.
    Trigger {
        #[arg(long)]
        file: PathBuf,
        /// The trigger's state and its undelivered events (the outbox).
        #[arg(long)]
        state_file: PathBuf,
        /// Seconds between polls (a poll cut short is followed at once).
        #[arg(long, default_value_t = 300.0)]
        interval_s: f64,
        /// Stop after this many polls.
        #[arg(long)]
        polls: Option<u64>,
        /// POST each event here (http) instead of printing it; default the message's body.dispatcher.url.
        #[arg(long)]
        dispatcher: Option<String>,
    },
    /// Serve POST /actions/<name>, POST /actions/<name>/test and GET /api/v1/health.
    Http {
        #[arg(long, default_value_t = 10001)]
        port: u16,
        /// The address to listen on: this machine only unless told otherwise.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// A file holding the bearer token every request (but the health check) must carry; the
        /// environment's PSA_BRIDGE_HTTP_TOKEN when absent (never a flag value, which `ps` shows).
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// POST each trigger event a webhook delivery becomes to this http:// URL (default: print
        /// them on stdout, one per line). The component reads the webhook secret from the
        /// environment's PSA_BRIDGE_HALO_WEBHOOK_SECRET, passed through to it.
        #[arg(long, value_name = "URL")]
        dispatcher: Option<String>,
    },
}

fn main() -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")
        .and_then(|rt| rt.block_on(run()))
    {
        Ok(code) => code,
        Err(error) => {
            eprintln!("psa-bridge-host: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    // `http` keeps lines: its actions overlap and have no end the display could tidy up after.
    let progress = cli.progress.then(|| match cli.command {
        Command::Http { .. } => Arc::new(StderrProgress::new(false)),
        _ => Arc::new(StderrProgress::for_stderr()),
    });
    let options = CallOptions {
        allow_loopback: cli.allow_loopback,
        timeout: Some(Duration::from_secs(cli.timeout_s)),
        progress: progress.clone().map(|p| p as _),
        allow_hosts: (!cli.allow_hosts.is_empty()).then(|| cli.allow_hosts.clone()),
        ..CallOptions::default()
    };
    match &cli.command {
        Command::Sample { action } => {
            let spec = Spec::load(&spec_path(&cli)?)?;
            println!("{}", serde_json::to_string_pretty(&spec.sample(action)?)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Info => {
            let plugin = Plugin::load(&component_path(&cli)?)?;
            let spec = Spec::load(&spec_path(&cli)?).ok();
            let field = |k: &str| spec.as_ref().map(|s| s.field(k).to_string()).unwrap_or_default();
            let info = json!({
                "name": field("name"), "title": field("title"), "version": field("version"), "vendor": field("vendor"),
                "description": field("description"),
                "actions": plugin.actions.keys().collect::<Vec<_>>(),
                "tasks": plugin.tasks.keys().collect::<Vec<_>>(),
                "triggers": plugin.triggers.keys().collect::<Vec<_>>(),
                "component": {"bytes": plugin.component_bytes, "imports": plugin.imports, "load_ms": plugin.load_time.as_secs_f64() * 1e3, "cached": plugin.loaded_from_cache},
            });
            println!("{}", serde_json::to_string_pretty(&info)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { file } | Command::Test { file } => {
            let text = match file {
                Some(path) => {
                    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
                }
                None => {
                    let mut text = String::new();
                    std::io::stdin().read_to_string(&mut text).context("cannot read the message from stdin")?;
                    text
                }
            };
            let plugin = Plugin::load(&component_path(&cli)?)?;
            let test = matches!(cli.command, Command::Test { .. });
            let (event, ok) = psa_bridge_host::run_message(&plugin, &text, test, &options).await;
            if let Some(progress) = &progress {
                progress.finish();
            }
            println!("{}", serde_json::to_string_pretty(&event)?);
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Task { file, state_file, interval_s, runs } => {
            let start = scheduled_start(file, "task")?;
            let stop = Stop::on_signals()?;
            let plugin = Plugin::load(&component_path(&cli)?)?;
            let schedule = Schedule { interval: interval(*interval_s)?, limit: *runs };
            let ok = schedule::run_task(&plugin, &start, state_file, schedule, &options, stop).await?;
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Trigger { file, state_file, interval_s, polls, dispatcher } => {
            let start = scheduled_start(file, "trigger")?;
            let sink = Sink::new(dispatcher.as_deref().or(start.dispatcher_url.as_deref()))?;
            let stop = Stop::on_signals()?;
            let plugin = Plugin::load(&component_path(&cli)?)?;
            let schedule = Schedule { interval: interval(*interval_s)?, limit: *polls };
            let ok = schedule::run_trigger(&plugin, &start, state_file, schedule, &sink, &options, stop).await?;
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Http { port, bind, token_file, dispatcher } => {
            let token = match token_file {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read the token file {}", path.display()))?
                        .trim()
                        .to_string(),
                ),
                None => std::env::var("PSA_BRIDGE_HTTP_TOKEN").ok().map(|t| t.trim().to_string()),
            }
            .filter(|t| !t.is_empty());
            let plugin = Arc::new(Plugin::load(&component_path(&cli)?)?);
            let listener = tokio::net::TcpListener::bind((bind.as_str(), *port))
                .await
                .with_context(|| format!("cannot listen on {bind}:{port}"))?;
            let address = listener.local_addr()?;
            eprintln!("psa-bridge-host: serving {} actions on http://{address}", plugin.actions.len());
            if !address.ip().is_loopback() && token.is_none() {
                eprintln!(
                    "psa-bridge-host: warning: listening beyond this machine without a token (--token-file or \
                     PSA_BRIDGE_HTTP_TOKEN); give --allow-host to cap the hosts a request's connection may name"
                );
            }
            // The component's own server reads these two, and only these, from its environment.
            let mut webhook_env = Vec::new();
            if let Some(token) = &token {
                webhook_env.push(("PSA_BRIDGE_HTTP_TOKEN".to_string(), token.clone()));
            }
            let secret = std::env::var("PSA_BRIDGE_HALO_WEBHOOK_SECRET").ok().filter(|s| !s.trim().is_empty());
            if let Some(secret) = secret {
                webhook_env.push(("PSA_BRIDGE_HALO_WEBHOOK_SECRET".to_string(), secret));
            }
            if plugin.serves_http() {
                eprintln!(
                    "psa-bridge-host: Halo webhooks on POST /webhooks/halo ({}), events to {}",
                    if webhook_env.iter().any(|(n, _)| n == "PSA_BRIDGE_HALO_WEBHOOK_SECRET") {
                        "secret set"
                    } else {
                        "no PSA_BRIDGE_HALO_WEBHOOK_SECRET: refused"
                    },
                    dispatcher.as_deref().unwrap_or("stdout")
                );
            }
            let serve = psa_bridge_host::server::ServeOptions { token, webhook_env, dispatcher: dispatcher.clone() };
            psa_bridge_host::server::serve(plugin, listener, options, serve).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn scheduled_start(path: &PathBuf, kind: &str) -> Result<message::ScheduledStart> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    message::parse_scheduled_start(&text, kind).map_err(|problem| anyhow::anyhow!("{}: {problem}", path.display()))
}

fn interval(seconds: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| anyhow::anyhow!("--interval-s must be a number of seconds"))
}

/// Next to this binary: target/<profile>/psa-bridge-host -> target/wasm32-wasip2/component/psa_bridge.wasm.
fn component_path(cli: &Cli) -> Result<PathBuf> {
    if let Some(path) = &cli.component {
        return Ok(path.clone());
    }
    let exe = std::env::current_exe()?;
    let target = exe.parent().and_then(|p| p.parent()).context("cannot locate the target directory")?;
    Ok(target.join("wasm32-wasip2/component/psa_bridge.wasm"))
}

fn spec_path(cli: &Cli) -> Result<PathBuf> {
    if let Some(path) = &cli.spec {
        return Ok(path.clone());
    }
    let local = PathBuf::from("plugin.spec.yaml");
    if local.exists() {
        return Ok(local);
    }
    Ok(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../plugin.spec.yaml"))
}
