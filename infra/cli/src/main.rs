//! `hitl`: the operator's command line for the Botpress ⇄ HubSpot Help Desk bridge.

mod commands;
mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "hitl",
    version,
    about = "Live-agent handoff between Botpress bots and HubSpot Help Desk",
    after_long_help = commands::EXIT_CODES_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve all three routes (/hubspot/webhook, /botpress, /healthz) in one process.
    ///
    /// Configuration comes from the environment (see README); `--sandbox` needs none.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Also start a simulated HubSpot and a simulated Botpress in this process and wire
        /// the bridge to them: a handoff works with nothing configured.
        #[arg(long)]
        sandbox: bool,
        /// With --sandbox: do not run the scripted demo handoff at start.
        #[arg(long, requires = "sandbox")]
        no_demo: bool,
        /// SQLite file of the local store (default: $HITL_DB, else hitl.db; with --sandbox,
        /// in memory unless given).
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// A bounded load run: this process plays HubSpot, Botpress and many concurrent senders;
    /// the bridge runs as a separate `hitl serve` process on loopback. Fails unless every
    /// message arrived exactly once, in order, with no error.
    Load {
        /// How long the senders send.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Concurrent senders playing HubSpot (agents replying).
        #[arg(long, default_value_t = 20)]
        hubspot_senders: usize,
        /// Concurrent senders playing Botpress (customers writing).
        #[arg(long, default_value_t = 20)]
        botpress_senders: usize,
        /// At most this many messages in all.
        #[arg(long, default_value_t = 200_000)]
        max_messages: usize,
    },
    #[command(flatten)]
    Operator(commands::OperatorCommand),
}

#[tokio::main]
async fn main() -> ExitCode {
    hitl_bridge::app::init_tracing();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Operator(command) => return commands::run(command).await,
        Command::Load {
            seconds,
            hubspot_senders,
            botpress_senders,
            max_messages,
        } => match std::env::current_exe() {
            Ok(bridge_binary) => {
                hitl_cli::load::run(hitl_cli::load::LoadPlan {
                    seconds,
                    hubspot_senders,
                    botpress_senders,
                    max_messages,
                    bridge_binary,
                })
                .await
            }
            Err(error) => Err(error.into()),
        },
        Command::Serve {
            listen,
            sandbox,
            no_demo,
            db,
        } => {
            if sandbox {
                serve::serve_sandbox(listen, db, !no_demo).await
            } else {
                serve::serve(listen, db).await
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hitl: {error:#}");
            // `hitl --help`'s codes: a missing or malformed setting is 3, as for the
            // operator's commands.
            if error
                .downcast_ref::<hitl_bridge::config::ConfigError>()
                .is_some()
            {
                ExitCode::from(commands::exit::CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
