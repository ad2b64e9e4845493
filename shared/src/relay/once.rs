use std::future::Future;
use std::time::Duration;

use super::{Relay, RelayError};
use crate::ports::{Claim, FinishingWrite, IdempotencyLedger};

/// How long one attempt may hold a key before another may take over (the worker died), when
/// no request budget applies. With a budget, the lease ends shortly after the function's
/// timeout: by then the attempt has answered or its process is gone, so the sender's retry
/// is not refused for longer than needed. It must not end sooner: the budget only decides
/// whether a call *starts*, so a call started just inside it runs on until the timeout, and
/// a retry that took the key over meanwhile would repeat the work beside it. Lambda's
/// timeouts (template.yaml) are 2 s (hubspot-webhook) and 5 s (botpress-outbound) past the
/// budgets; a test holds the lease past both.
const LEASE_WITHOUT_BUDGET: Duration = Duration::from_secs(60);
const LEASE_PAST_BUDGET: Duration = Duration::from_secs(6);
/// How long a finished key is remembered: longer than HubSpot's 24 hours of retries.
pub(super) const REMEMBER: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// How long work waits for another attempt of a unit it must come after (a reply being relayed
/// by its own delivery right now) before it is refused as in progress: a relay takes well under
/// a second, where the sender's retry of the refused work comes a minute or more later.
const WAIT_FOR_WORK_IN_FLIGHT: Duration = Duration::from_millis(1_500);
const WAIT_STEP: Duration = Duration::from_millis(100);
/// What a wait leaves of the request's budget: enough to relay the work once it may.
const LEFT_AFTER_WAITING: Duration = Duration::from_millis(1_500);

/// How long a claim made now may be held: see [`LEASE_WITHOUT_BUDGET`].
pub(super) fn claim_lease() -> Duration {
    crate::adapters::budget::remaining()
        .map(|left| left + LEASE_PAST_BUDGET)
        .unwrap_or(LEASE_WITHOUT_BUDGET)
}

/// What happened to one unit of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Relayed now.
    Done,
    /// Not ours (a thread the bridge did not open, an event we do not act on): acknowledged.
    Ignored,
    /// Relayed by an earlier delivery; this retry changed nothing.
    AlreadyDone,
}

impl Relay {
    /// Runs `work` at most once per `key`: a retry of finished work is answered from the
    /// ledger, a retry of work in flight is refused, a failed attempt is released so the
    /// sender's retry can do it.
    pub(crate) async fn once<F>(&self, key: &str, work: F) -> Result<Outcome, RelayError>
    where
        F: Future<Output = Result<Outcome, RelayError>>,
    {
        self.once_finishing(key, async { Ok((work.await?, None)) })
            .await
    }

    /// [`Relay::once`] for work that ends with a write of its own: the work answers it
    /// instead of making it, and it is made together with the key's completion (one round
    /// trip instead of two).
    pub(crate) async fn once_finishing<F>(&self, key: &str, work: F) -> Result<Outcome, RelayError>
    where
        F: Future<Output = Result<(Outcome, Option<FinishingWrite>), RelayError>>,
    {
        once_after_read(&*self.store, key, async { Ok(()) }, |()| work).await
    }

    /// [`Relay::once_finishing`], waiting a little for an attempt in flight elsewhere to end
    /// ([`WAIT_FOR_WORK_IN_FLIGHT`], within the request's budget) before refusing: for work
    /// that something else waits on, so one in progress does not send the waiting work back
    /// to its sender's retry, minutes later.
    pub(crate) async fn once_finishing_or_wait<W, F>(
        &self,
        key: &str,
        work: W,
    ) -> Result<Outcome, RelayError>
    where
        W: Fn() -> F,
        F: Future<Output = Result<(Outcome, Option<FinishingWrite>), RelayError>>,
    {
        waiting_while_in_progress(|| self.once_finishing(key, work())).await
    }

    /// Runs `work` holding `key` as a lease: no other attempt, in this process or another,
    /// runs work under the same key at the same time. One in flight is waited for a little
    /// ([`WAIT_FOR_WORK_IN_FLIGHT`], within the request's budget) before this is refused as in
    /// progress. The key is released when the work ends, however it ends, so it keeps nothing
    /// (unlike [`Relay::once`]): the next change runs too. A holder that dies is outlived by
    /// its lease ([`claim_lease`]).
    pub(crate) async fn exclusively<W, F, T>(&self, key: &str, work: W) -> Result<T, RelayError>
    where
        W: FnOnce() -> F,
        F: Future<Output = Result<T, RelayError>>,
    {
        exclusively(&*self.store, key, work).await
    }

    /// [`Relay::once_finishing`] for work that starts with a read: the read is made while the
    /// key is claimed, not after, so the two cost one round trip to the store instead of two.
    /// Its answer is dropped unless the claim is acquired.
    ///
    /// Only for work whose effects the receiving end keeps once (a HubSpot message id, a
    /// Botpress message tag): the read may see the state from just before an earlier attempt
    /// of the same key changed it and released the key, so a retry may redo effects that
    /// attempt made. Work that must see what others did before it (an assignment's
    /// `hitlAssigned`) reads once it holds its lease, with [`Relay::exclusively`].
    pub(crate) async fn once_after_read<T, R, W, F>(
        &self,
        key: &str,
        read: R,
        work: W,
    ) -> Result<Outcome, RelayError>
    where
        R: Future<Output = Result<T, RelayError>>,
        W: FnOnce(T) -> F,
        F: Future<Output = Result<(Outcome, Option<FinishingWrite>), RelayError>>,
    {
        once_after_read(&*self.store, key, read, work).await
    }
}

/// The lease behind [`Relay::exclusively`], over the ledger alone.
async fn exclusively<L, W, F, T>(ledger: &L, key: &str, work: W) -> Result<T, RelayError>
where
    L: IdempotencyLedger + ?Sized,
    W: FnOnce() -> F,
    F: Future<Output = Result<T, RelayError>>,
{
    waiting_while_in_progress(|| async {
        match ledger.claim(key, claim_lease()).await? {
            // (A lease's key is released, never completed.)
            Claim::Acquired | Claim::Completed(_) => Ok(()),
            Claim::InProgress => Err(RelayError::InProgress),
        }
    })
    .await?;
    let result = work().await;
    if let Err(error) = ledger.release(key).await {
        tracing::warn!(%error, key, "could not release a lease; it will expire");
    }
    result
}

/// Makes `attempt` again while it is refused as in progress, a step at a time, for as long as
/// [`may_wait`] allows; then answers what the last attempt did.
async fn waiting_while_in_progress<A, F, T>(attempt: A) -> Result<T, RelayError>
where
    A: Fn() -> F,
    F: Future<Output = Result<T, RelayError>>,
{
    let started = tokio::time::Instant::now();
    loop {
        match attempt().await {
            Err(RelayError::InProgress) if may_wait(started.elapsed()) => {
                tokio::time::sleep(WAIT_STEP).await;
            }
            outcome => return outcome,
        }
    }
}

/// Whether work that has waited `waited` for another attempt may wait one step more.
fn may_wait(waited: Duration) -> bool {
    waited + WAIT_STEP <= WAIT_FOR_WORK_IN_FLIGHT
        && crate::adapters::budget::remaining()
            .is_none_or(|left| left >= WAIT_STEP + LEFT_AFTER_WAITING)
}

/// The gate behind [`Relay::once_after_read`] (and so every `once`), over the ledger alone.
async fn once_after_read<L, T, R, W, F>(
    ledger: &L,
    key: &str,
    read: R,
    work: W,
) -> Result<Outcome, RelayError>
where
    L: IdempotencyLedger + ?Sized,
    R: Future<Output = Result<T, RelayError>>,
    W: FnOnce(T) -> F,
    F: Future<Output = Result<(Outcome, Option<FinishingWrite>), RelayError>>,
{
    let (claim, read) = futures::join!(ledger.claim(key, claim_lease()), read);
    match claim? {
        Claim::Completed(_) => return Ok(Outcome::AlreadyDone),
        Claim::InProgress => return Err(RelayError::InProgress),
        Claim::Acquired => {}
    }
    let result = match read {
        Ok(value) => work(value).await,
        Err(error) => Err(error),
    };
    match result {
        Ok((outcome, finishing)) => {
            match finishing {
                Some(finishing) => ledger.complete_with(key, REMEMBER, &finishing).await?,
                None => ledger.complete(key, None, REMEMBER).await?,
            }
            Ok(outcome)
        }
        Err(error) => {
            if let Err(release_error) = ledger.release(key).await {
                tracing::warn!(%release_error, key, "could not release an idempotency key; its lease will expire");
            }
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::sync::Arc;

    use super::*;
    use crate::adapters::sqlite_store::SqliteStore;
    use crate::ports::{StoreError, SystemClock};

    /// The Lambda timeout of the function whose `BuildProperties` name `binary`.
    fn lambda_timeout(binary: &str) -> Duration {
        let template = include_str!("../../../template.yaml");
        let after = template
            .split_once(&format!("Binary: {binary}"))
            .unwrap_or_else(|| panic!("template.yaml builds {binary}"))
            .1;
        let seconds = after
            .lines()
            .find_map(|line| line.trim().strip_prefix("Timeout: "))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("{binary} has a Timeout"));
        Duration::from_secs(seconds)
    }

    /// The local server stops requests where Lambda would (`http::router`).
    #[test]
    fn the_local_servers_deadlines_are_the_lambda_timeouts() {
        use crate::http::{BOTPRESS_DEADLINE, WEBHOOK_DEADLINE};
        assert_eq!(lambda_timeout("hubspot-webhook"), WEBHOOK_DEADLINE);
        assert_eq!(lambda_timeout("botpress-outbound"), BOTPRESS_DEADLINE);
    }

    #[test]
    fn a_lease_outlasts_the_function_that_holds_it() {
        use crate::http::{BOTPRESS_BUDGET, WEBHOOK_BUDGET};
        for (binary, budget) in [
            ("hubspot-webhook", WEBHOOK_BUDGET),
            ("botpress-outbound", BOTPRESS_BUDGET),
        ] {
            let past_budget = lambda_timeout(binary).saturating_sub(budget);
            assert!(
                LEASE_PAST_BUDGET > past_budget,
                "{binary} runs {past_budget:?} past its budget, its lease {LEASE_PAST_BUDGET:?}"
            );
        }
    }

    fn ledger() -> SqliteStore {
        SqliteStore::in_memory(Arc::new(SystemClock)).unwrap()
    }

    #[tokio::test]
    async fn a_lease_is_waited_for_while_its_holder_finishes_then_taken() {
        let ledger = Arc::new(ledger());
        assert_eq!(
            ledger.claim("lease", claim_lease()).await.unwrap(),
            Claim::Acquired
        );
        let holder = Arc::clone(&ledger);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            holder.release("lease").await.unwrap();
        });
        let ran = exclusively(&*ledger, "lease", || async { Ok(true) }).await;
        assert!(ran.unwrap(), "ran once the holder let go");
        assert_eq!(
            ledger.claim("lease", claim_lease()).await.unwrap(),
            Claim::Acquired,
            "and let go after"
        );
    }

    #[tokio::test]
    async fn a_lease_held_past_the_wait_is_refused_as_in_progress_without_running() {
        let ledger = ledger();
        ledger.claim("lease", claim_lease()).await.unwrap();
        let started = std::time::Instant::now();
        let ran = Cell::new(false);
        let outcome = exclusively(&ledger, "lease", || async {
            ran.set(true);
            Ok(())
        })
        .await;
        assert!(matches!(outcome, Err(RelayError::InProgress)));
        assert!(!ran.get());
        assert!(started.elapsed() >= WAIT_FOR_WORK_IN_FLIGHT - WAIT_STEP);
    }

    #[tokio::test]
    async fn a_lease_is_let_go_however_its_work_ends() {
        let ledger = ledger();
        let failed: Result<(), RelayError> = exclusively(&ledger, "lease", || async {
            Err(RelayError::InvalidInput("no".into()))
        })
        .await;
        assert!(failed.is_err());
        assert_eq!(
            ledger.claim("lease", claim_lease()).await.unwrap(),
            Claim::Acquired
        );
    }

    /// The schedule's work left for later ends inside the token refresher's timeout.
    #[test]
    fn the_schedules_work_left_for_later_ends_inside_the_token_refreshers_timeout() {
        let last_item_ends =
            crate::app::LEFT_FOR_LATER_WITHIN + crate::adapters::http_client::CALL_TIMEOUT;
        assert!(last_item_ends < lambda_timeout("token-refresher"));
    }

    async fn done(value: u32) -> Result<(Outcome, Option<FinishingWrite>), RelayError> {
        assert_eq!(value, 7, "the work gets the read's answer");
        Ok((Outcome::Done, None))
    }

    #[tokio::test]
    async fn work_runs_once_with_the_read_and_a_retry_is_answered_from_the_ledger() {
        let ledger = ledger();
        let outcome = once_after_read(&ledger, "k", async { Ok(7) }, done).await;
        assert_eq!(outcome.unwrap(), Outcome::Done);

        let ran = Cell::new(false);
        let retry = once_after_read(&ledger, "k", async { Ok(7) }, |_| {
            ran.set(true);
            done(7)
        })
        .await;
        assert_eq!(retry.unwrap(), Outcome::AlreadyDone);
        assert!(!ran.get(), "finished work is not redone");
    }

    #[tokio::test]
    async fn work_in_flight_elsewhere_is_refused_without_running() {
        let ledger = ledger();
        assert_eq!(
            ledger.claim("k", claim_lease()).await.unwrap(),
            Claim::Acquired
        );
        let ran = Cell::new(false);
        let outcome = once_after_read(&ledger, "k", async { Ok(7) }, |_| {
            ran.set(true);
            done(7)
        })
        .await;
        assert!(matches!(outcome, Err(RelayError::InProgress)));
        assert!(!ran.get());
    }

    #[tokio::test]
    async fn a_failed_read_releases_the_key_so_the_retry_does_the_work() {
        let ledger = ledger();
        let ran = Cell::new(false);
        let failed = once_after_read(
            &ledger,
            "k",
            async { Err::<u32, _>(StoreError::new("read a session", "table gone").into()) },
            |_| {
                ran.set(true);
                done(7)
            },
        )
        .await;
        assert!(matches!(failed, Err(RelayError::Store(_))));
        assert!(!ran.get(), "no work without the read's answer");

        let retry = once_after_read(&ledger, "k", async { Ok(7) }, done).await;
        assert_eq!(retry.unwrap(), Outcome::Done);
    }

    #[tokio::test]
    async fn failed_work_releases_the_key_for_the_senders_retry() {
        let ledger = ledger();
        let failed = once_after_read(&ledger, "k", async { Ok(7) }, |_| async {
            Err::<(Outcome, Option<FinishingWrite>), _>(RelayError::InvalidInput("bad".into()))
        })
        .await;
        assert!(matches!(failed, Err(RelayError::InvalidInput(_))));
        assert_eq!(
            ledger.claim("k", claim_lease()).await.unwrap(),
            Claim::Acquired,
            "released: the sender's retry may do it"
        );
    }
}
