//! Bounded retries of upstream calls: 429 (honouring `Retry-After`), 5xx and transport errors,
//! with exponential backoff and full jitter, never past the request's time budget.
//!
//! Every call [`send_with_retries`] repeats is safe to repeat: publishes carry an idempotency
//! id, Botpress's users, conversations and messages are get-or-create, reads are reads. The
//! exception is a Botpress event (`hitlAssigned`, `hitlStopped`), which has no key: it is
//! at-least-once by choice, as a lost `hitlStopped` would leave the customer with the agent
//! for good, where a second one changes nothing lasting; and the sender's retry of the
//! delivery would send it again all the same. A call that creates something without a key
//! and must not be made twice (a CRM contact) goes through [`send_repeating`] with
//! [`Repeat::OnlyIfNotCarriedOut`], which repeats it only when it cannot have been carried
//! out. What cannot finish in the budget is reported as a retryable failure so the sender
//! (HubSpot, Botpress) retries the whole delivery later.

use std::time::Duration;

use rand::Rng;
use reqwest::{RequestBuilder, Response, StatusCode};

use super::budget;
use crate::ports::{Service, UpstreamError};

/// How many times one call is sent at most.
const MAX_ATTEMPTS: u32 = 4;
/// First backoff; doubled per attempt, capped, then jittered (full jitter).
const BASE_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// A 429 without `Retry-After` from HubSpot means its ten-second window is full: its own
/// client waits 10 s. Within a webhook's budget that means "give up and let HubSpot retry".
const RATE_LIMIT_DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// Whether a call may be sent again after a failure that may follow its being carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, and writes the service dedupes (an idempotency id, get-or-create) or that set a
    /// value: repeated after a 429, a 5xx or any transport error.
    Safely,
    /// A create without an idempotency key (a CRM contact): repeated only when it was not
    /// carried out, after a 429 (the rate limiter refuses before any work) or a connection
    /// never made. A 5xx, a timeout or an answer lost on the way back may follow the work
    /// being done: that failure goes to the caller, which must find out before creating again.
    OnlyIfNotCarriedOut,
}

impl Repeat {
    fn after_status(self, status: StatusCode) -> bool {
        match self {
            Self::Safely => should_retry_status(status),
            Self::OnlyIfNotCarriedOut => status == StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn after_transport_error(self, error: &reqwest::Error) -> bool {
        match self {
            Self::Safely => true,
            Self::OnlyIfNotCarriedOut => error.is_connect(),
        }
    }
}

/// Sends `request`, retrying what a retry can fix, within the current budget.
pub async fn send_with_retries(
    service: Service,
    operation: &'static str,
    request: RequestBuilder,
) -> Result<Response, UpstreamError> {
    send_repeating(service, operation, request, Repeat::Safely).await
}

/// Sends `request`, repeating it as `repeat` allows, within the current budget.
pub async fn send_repeating(
    service: Service,
    operation: &'static str,
    request: RequestBuilder,
    repeat: Repeat,
) -> Result<Response, UpstreamError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some(this_try) = request.try_clone() else {
            return send_once(service, operation, request).await;
        };
        let outcome = this_try.send().await;
        let wait = match &outcome {
            Ok(response) if repeat.after_status(response.status()) => {
                Some(wait_for(service, response, attempt))
            }
            Err(error) if repeat.after_transport_error(error) => Some(backoff(attempt)),
            _ => None,
        };
        let outcome = outcome.map_err(|error| UpstreamError::transport(service, operation, &error));
        let Some(wait) = wait else {
            return outcome;
        };
        let out_of_budget = budget::remaining().is_some_and(|left| left <= wait);
        if attempt >= MAX_ATTEMPTS || out_of_budget {
            return give_up(service, operation, outcome).await;
        }
        tracing::info!(%service, operation, attempt, wait_ms = wait.as_millis() as u64, "retrying an upstream call");
        tokio::time::sleep(wait).await;
    }
}

/// Sends once. The budget decides whether a call (or a retry) *starts*, never cuts one off:
/// a call abandoned in flight may still have happened (Botpress creating an event, say), and
/// treating it as failed would make the sender's retry do it twice. A call that overruns the
/// budget at worst makes HubSpot retry a delivery the ledger has already completed.
async fn send_once(
    service: Service,
    operation: &'static str,
    request: RequestBuilder,
) -> Result<Response, UpstreamError> {
    request
        .send()
        .await
        .map_err(|error| UpstreamError::transport(service, operation, &error))
}

fn should_retry_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `Retry-After` (seconds) for a 429, else exponential backoff (HubSpot's 429 without it means
/// its ten-second window is full).
fn wait_for(service: Service, response: &Response, attempt: u32) -> Duration {
    if response.status() != StatusCode::TOO_MANY_REQUESTS {
        return backoff(attempt);
    }
    let default = match service {
        Service::HubSpot => RATE_LIMIT_DEFAULT_WAIT,
        Service::Botpress => backoff(attempt),
    };
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(default)
}

/// Full jitter: uniformly between zero and the capped exponential step.
fn backoff(attempt: u32) -> Duration {
    let step = BASE_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    let ceiling = step.min(MAX_BACKOFF);
    let millis = u64::try_from(ceiling.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

/// The last answer, as a retryable failure the sender will retry later.
async fn give_up(
    service: Service,
    operation: &'static str,
    outcome: Result<Response, UpstreamError>,
) -> Result<Response, UpstreamError> {
    match outcome {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            Err(UpstreamError::from_status(
                service, operation, status, &body,
            ))
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_capped() {
        for attempt in 1..10 {
            let wait = backoff(attempt);
            assert!(wait <= MAX_BACKOFF, "{attempt}: {wait:?}");
            assert!(
                wait <= BASE_BACKOFF * 2u32.pow(attempt - 1),
                "{attempt}: {wait:?}"
            );
        }
    }
}
