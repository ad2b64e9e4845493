//! Cold starts: each function's process is killed and started afresh (`crash_and_restart`, as
//! Lambda starts a new execution environment) with its first event already waiting, then timed
//! from process start to its first poll of the Runtime API (init) and to the answer of that
//! first event (cold request). The hello-world floor goes through the same emulator and the same
//! emulated HTTP API. Within each round the order of the four is shuffled, so drift on the
//! machine (other builds, moto warming up) spreads over all of them alike.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use hitl_cli::sandbox_stack::{DEMO_AGENTS, SandboxStack};
use hitl_sandbox::lambda::LambdaFunction;
use rand::seq::SliceRandom;

use crate::flows::{self, Handoff};
use crate::meter::Meter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    HubSpotWebhook,
    BotpressOutbound,
    TokenRefresher,
    Hello,
}

impl Subject {
    pub const ALL: [Subject; 4] = [
        Subject::HubSpotWebhook,
        Subject::BotpressOutbound,
        Subject::TokenRefresher,
        Subject::Hello,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Subject::HubSpotWebhook => "hubspot-webhook",
            Subject::BotpressOutbound => "botpress-outbound",
            Subject::TokenRefresher => "token-refresher",
            Subject::Hello => "hello-lambda (floor)",
        }
    }

    /// What its first event is.
    pub fn first_event(self) -> &'static str {
        match self {
            Subject::HubSpotWebhook => "agent reply webhook",
            Subject::BotpressOutbound => "user message_created",
            Subject::TokenRefresher => "scheduled refresh",
            Subject::Hello => "GET through the HTTP API",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct ColdStart {
    /// Process start → first `GET /runtime/invocation/next`.
    pub init: Duration,
    /// Process start → the first event answered.
    pub cold_request: Duration,
    /// Of which the simulators and moto took (init's Secrets Manager read included).
    pub simulators: Duration,
    /// The calls it made from its start to its answer: AWS (moto), HubSpot, Botpress.
    pub calls: [usize; 3],
}

/// The hello-world function, behind its own emulated HTTP API.
pub struct Floor<'a> {
    pub function: &'a LambdaFunction,
    pub url: String,
    pub client: reqwest::Client,
}

pub async fn run(
    stack: &SandboxStack,
    meter: &Meter<'_>,
    handoff: &Handoff,
    floor: &Floor<'_>,
    rounds: usize,
) -> anyhow::Result<BTreeMap<Subject, Vec<ColdStart>>> {
    let deployment = stack
        .lambda
        .as_ref()
        .context("the stack runs on the Lambda path")?;
    let mut samples: BTreeMap<Subject, Vec<ColdStart>> = BTreeMap::new();
    let mut order = Subject::ALL.to_vec();
    for round in 0..rounds {
        order.shuffle(&mut rand::rng());
        for subject in &order {
            let function: &LambdaFunction = match subject {
                Subject::HubSpotWebhook => &deployment.hubspot_webhook,
                Subject::BotpressOutbound => &deployment.botpress_outbound,
                Subject::TokenRefresher => &deployment.token_refresher,
                Subject::Hello => floor.function,
            };
            let mark = meter.mark();
            function.crash_and_restart().await?;
            match subject {
                Subject::HubSpotWebhook => {
                    let actor = DEMO_AGENTS[0].0;
                    flows::agent_reply(stack, handoff, actor, &format!("cold reply {round}"))
                        .await?
                }
                Subject::BotpressOutbound => {
                    flows::user_message(stack, handoff, &format!("cold message {round}")).await?
                }
                Subject::TokenRefresher => deployment
                    .refresh_tokens_now()
                    .await
                    .map_err(|failure| anyhow::anyhow!("token refresh: {}", failure.message))?,
                Subject::Hello => {
                    let answer = floor.client.get(&floor.url).send().await?;
                    ensure!(
                        answer.status().is_success(),
                        "hello answered {}",
                        answer.status()
                    );
                }
            }
            let answered = Instant::now();
            let span = meter.since(mark);
            let started = function.started_at();
            let polled = function
                .first_poll_at()
                .with_context(|| format!("{} answered without polling", subject.name()))?;
            samples.entry(*subject).or_default().push(ColdStart {
                init: polled.saturating_duration_since(started),
                cold_request: answered.saturating_duration_since(started),
                simulators: span.simulators,
                calls: [span.aws_calls, span.hubspot_calls, span.botpress_calls],
            });
        }
    }
    Ok(samples)
}
