//! The operator's commands: install the HubSpot app (`oauth`), find the Help Desk
//! (`inboxes`), connect and disconnect the channel (`setup`, `teardown`), and check a
//! deployment end to end (`doctor`). Each prints what it did and what to do next.

mod context;
mod doctor;
mod inboxes;
mod oauth;
pub mod sandbox_env;
mod setup;
mod teardown;

use std::process::ExitCode;

use clap::Subcommand;
use hitl_bridge::adapters::secrets_manager::SecretsError;
use hitl_bridge::app::BuildError;
use hitl_bridge::ports::UpstreamError;

/// Exit codes, as `hitl --help` lists them.
pub mod exit {
    /// Done; every doctor check passed.
    pub const OK: u8 = 0;
    /// HubSpot, Botpress, AWS or the local store refused (or a doctor check failed).
    pub const FAILED: u8 = 1;
    // 2: a bad command line (clap's own code).
    /// A setting or the OAuth grant is missing or malformed.
    pub const CONFIG: u8 = 3;
    /// A service could not be reached (network, timeout, throttling, 5xx), or the local
    /// store's file is locked by another process.
    pub const UNREACHABLE: u8 = 4;
    /// `serve` stopped by a second Ctrl-C or SIGTERM before the requests in flight ended.
    pub const FORCED_STOP: u8 = 130;
}

/// The exit codes, for `hitl --help`.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  done (doctor: every check passed)
  1  HubSpot, Botpress, AWS or the local store refused the request (a wrong --table, no
     permission), or a doctor check failed
  2  bad command line
  3  configuration missing or malformed (a setting, the secret, or no OAuth grant yet)
  4  a service could not be reached (network error, timeout, throttling, or a 5xx answer),
     or the local store is locked by another process
  130  serve: stopped by a second Ctrl-C or SIGTERM without waiting for requests in flight

Configuration comes from the environment, the names the bridge itself reads (README,
\"Configuration\"); `--secret-id` and `--table` point the commands at an AWS deployment.";

/// A command that did not succeed, with the exit code that says why.
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn config(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: exit::CONFIG,
            error: error.into(),
        }
    }

    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: exit::FAILED,
            error: error.into(),
        }
    }
}

impl From<UpstreamError> for Failure {
    fn from(error: UpstreamError) -> Self {
        let unreachable = error.retryable;
        Self {
            code: if unreachable {
                exit::UNREACHABLE
            } else {
                exit::FAILED
            },
            error: error.into(),
        }
    }
}

impl From<hitl_bridge::relay::RelayError> for Failure {
    /// What trying again may pass (a service or the store unreachable, work in flight) is
    /// "unreachable"; a refusal is "failed", the store's too (a wrong `--table`, a missing
    /// permission), though the relay itself retries those.
    fn from(error: hitl_bridge::relay::RelayError) -> Self {
        let unreachable = match &error {
            hitl_bridge::relay::RelayError::Store(store) => store.transient,
            other => other.retryable(),
        };
        Self {
            code: if unreachable {
                exit::UNREACHABLE
            } else {
                exit::FAILED
            },
            error: error.into(),
        }
    }
}

impl From<SecretsError> for Failure {
    /// A secret missing or malformed is configuration; one AWS will not let us read is a
    /// refusal; anything else (the network, throttling, a 5xx) is "unreachable".
    fn from(error: SecretsError) -> Self {
        let code = match &error {
            SecretsError::AccessDenied { .. } => exit::FAILED,
            SecretsError::Service { .. } => exit::UNREACHABLE,
            _ => exit::CONFIG,
        };
        Self {
            code,
            error: error.into(),
        }
    }
}

impl From<BuildError> for Failure {
    /// Reading the secret is the part of building that reaches AWS; the rest is
    /// configuration (settings, the local store's path).
    fn from(error: BuildError) -> Self {
        match error {
            BuildError::Secrets(error) => error.into(),
            other => Self::config(other),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::failed(error)
    }
}

pub type Outcome = Result<(), Failure>;

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// Install the HubSpot app: print the authorize URL, trade the code for tokens.
    #[command(subcommand)]
    Oauth(oauth::OauthCommand),
    /// List the HubSpot account's inboxes and mark the Help Desk ones.
    Inboxes(inboxes::InboxesArgs),
    /// Connect HubSpot: find or create the custom channel and connect it to the Help Desk.
    ///
    /// What Botpress's `register` does; safe to run again (it reuses what exists).
    Setup(setup::SetupArgs),
    /// Disconnect HubSpot: deauthorize the channel account and delete the custom channel
    /// whose webhookUrl is this bridge's (never another channel).
    Teardown(teardown::TeardownArgs),
    /// Check a deployment end to end without touching customers.
    ///
    /// Secret or settings readable, refresh token works, scopes granted, channel exists with
    /// our webhookUrl, channel account authorized, webhook URL answers, Botpress reachable.
    Doctor(doctor::DoctorArgs),
}

pub async fn run(command: OperatorCommand) -> ExitCode {
    let outcome = match command {
        OperatorCommand::Oauth(command) => oauth::run(command).await,
        OperatorCommand::Inboxes(args) => inboxes::run(args).await,
        OperatorCommand::Setup(args) => setup::run(args).await,
        OperatorCommand::Teardown(args) => teardown::run(args).await,
        OperatorCommand::Doctor(args) => doctor::run(args).await,
    };
    match outcome {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            eprintln!("hitl: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}
