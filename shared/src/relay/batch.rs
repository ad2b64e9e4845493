//! A whole HubSpot delivery: up to 100 events, possibly about many threads, in any order.
//!
//! Events of one thread are relayed one after another in the order HubSpot says they
//! happened, so the bot sees an assignment before the reply that followed it; threads are
//! independent and run in parallel, a bounded number at a time. Work that the request's time
//! budget cannot cover is not started: it is left for HubSpot's retry, which the idempotency
//! ledger (and for assignments, the mark of the change applied last) turns into exactly the
//! missing work. Agents the delivery names and this process does
//! not know are read from HubSpot in one batch call first (`agents`).

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;

use super::{HelpDeskEvent, Outcome, Relay, RelayError};
use crate::adapters::budget;

/// Threads relayed at the same time within one delivery.
const THREADS_IN_PARALLEL: usize = 8;
/// An event is not started with less budget than this left: its calls are never cut off once
/// started (see `adapters::retry`), so this margin is what keeps the answer inside HubSpot's
/// 5 seconds.
const MIN_BUDGET_TO_START: Duration = Duration::from_millis(1_000);

/// What became of a delivery's events.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub relayed: usize,
    pub duplicates: usize,
    pub ignored: usize,
    /// Not started (out of budget, or behind a failed event of the same thread).
    pub left: usize,
    /// Failures a retry may fix: the delivery must be retried.
    pub retryable: Vec<RelayError>,
    /// Failures no retry will fix: logged, and the rest of the delivery acknowledged.
    pub permanent: Vec<RelayError>,
}

impl BatchOutcome {
    /// Whether HubSpot must deliver again for everything to be relayed.
    pub fn needs_retry(&self) -> bool {
        self.left > 0 || !self.retryable.is_empty()
    }

    fn merge(&mut self, other: BatchOutcome) {
        self.relayed += other.relayed;
        self.duplicates += other.duplicates;
        self.ignored += other.ignored;
        self.left += other.left;
        self.retryable.extend(other.retryable);
        self.permanent.extend(other.permanent);
    }
}

impl Relay {
    /// Relays a delivery's events: per thread in order, threads in parallel, within budget.
    pub async fn handle_help_desk_events(&self, events: Vec<HelpDeskEvent>) -> BatchOutcome {
        self.prefetch_agent_profiles(&events).await;
        let mut threads: BTreeMap<String, Vec<(usize, HelpDeskEvent)>> = BTreeMap::new();
        for (position, event) in events.into_iter().enumerate() {
            threads
                .entry(event.thread_id().to_string())
                .or_default()
                .push((position, event));
        }
        let mut outcome = BatchOutcome::default();
        let mut runs = futures::stream::iter(threads.into_values())
            .map(|mut events| {
                events.sort_by_key(|(position, event)| (event.occurred_at_ms(), *position));
                self.relay_thread_events(events.into_iter().map(|(_, event)| event).collect())
            })
            .buffer_unordered(THREADS_IN_PARALLEL);
        while let Some(thread_outcome) = runs.next().await {
            outcome.merge(thread_outcome);
        }
        outcome
    }

    async fn relay_thread_events(&self, events: Vec<HelpDeskEvent>) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        let total = events.len();
        for (done, event) in events.into_iter().enumerate() {
            if budget::remaining().is_some_and(|left| left < MIN_BUDGET_TO_START) {
                outcome.left += total - done;
                break;
            }
            match self.handle_help_desk_event(event).await {
                Ok(Outcome::Done) => outcome.relayed += 1,
                Ok(Outcome::AlreadyDone) => outcome.duplicates += 1,
                Ok(Outcome::Ignored) => outcome.ignored += 1,
                Err(error) if error.retryable() => {
                    // Later events of this thread wait for it, so the bot never sees them
                    // out of order; HubSpot's retry brings them all back.
                    outcome.retryable.push(error);
                    outcome.left += total - done - 1;
                    break;
                }
                Err(error) => outcome.permanent.push(error),
            }
        }
        outcome
    }
}
