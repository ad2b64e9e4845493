//! The time a request may still spend on upstream calls.
//!
//! HubSpot gives the webhook receiver 5 seconds in all; retrying an upstream call past that is
//! worse than useless (HubSpot has already given up and will retry the delivery). The HTTP
//! layer sets a deadline for the request it serves; retries and backoff read it from here, so
//! the deadline does not have to be threaded through every port.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `work` with `deadline` as its budget (nested calls keep the earlier deadline).
pub async fn with_deadline<F: Future>(deadline: Instant, work: F) -> F::Output {
    let deadline = match current_deadline() {
        Some(outer) if outer < deadline => outer,
        _ => deadline,
    };
    DEADLINE.scope(deadline, work).await
}

/// The deadline of the request being served, if any.
pub fn current_deadline() -> Option<Instant> {
    DEADLINE.try_with(|deadline| *deadline).ok()
}

/// What is left of the budget; `None` when no budget applies (tools, tests).
pub fn remaining() -> Option<Duration> {
    current_deadline().map(|deadline| deadline.saturating_duration_since(Instant::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_budget_is_visible_inside_and_the_earlier_deadline_wins() {
        assert!(remaining().is_none());
        let outer = Instant::now() + Duration::from_secs(2);
        with_deadline(outer, async {
            let left = remaining().unwrap();
            assert!(left <= Duration::from_secs(2) && left > Duration::from_millis(1500));
            with_deadline(Instant::now() + Duration::from_secs(60), async {
                assert!(
                    remaining().unwrap() <= Duration::from_secs(2),
                    "a nested budget cannot extend it"
                );
            })
            .await;
        })
        .await;
    }
}
