//! What every store promises the relay, written once and run on each store: SQLite
//! (`tests/sqlite_store.rs`) and DynamoDB over moto (`tests/dynamodb_store.rs`). A store's own
//! file keeps only what is its own: how it lays out its records, its upgrades, its races
//! between processes.
//!
//! Each check takes a fresh store and the clock it was built with.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hitl_bridge::model::{
    AssignmentMark, BotpressContext, Customer, DeliveryIdentifier, HandoffSession, SessionStatus,
};
use hitl_bridge::ports::{
    BridgeStore, Claim, Clock, DeliveryStatus, FinishingWrite, OwedStatus, RefreshLock,
};

/// Every port the contract checks.
pub trait ContractStore: BridgeStore + RefreshLock {}

impl<T: BridgeStore + RefreshLock> ContractStore for T {}

/// A clock the test moves by hand, so leases and expiries pass without waiting.
pub struct MovableClock(Mutex<DateTime<Utc>>);

impl MovableClock {
    pub fn new() -> Self {
        Self(Mutex::new(Utc::now()))
    }

    pub fn advance(&self, seconds: i64) {
        *self.0.lock().unwrap() += chrono::Duration::seconds(seconds);
    }
}

impl Clock for MovableClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub fn bot() -> BotpressContext {
    BotpressContext {
        bot_id: "bot".into(),
        integration_id: "int".into(),
        integration_alias: "hubspot-hitl".into(),
    }
}

pub fn new_session(user: &str) -> HandoffSession {
    HandoffSession::new(bot(), user.into(), "c".into(), "a".into(), Utc::now())
}

/// A session of `user` whose thread is `thread_id`, stored.
async fn session_on_thread(store: &impl ContractStore, user: &str, thread_id: &str) -> String {
    let session = new_session(user);
    store.insert_or_get_active(session.clone()).await.unwrap();
    store.set_thread(&session.id, thread_id).await.unwrap();
    session.id
}

pub async fn a_customer_has_one_active_session_at_a_time(store: &impl ContractStore) {
    let first = new_session("user");
    let second = new_session("user");
    let kept = store.insert_or_get_active(first.clone()).await.unwrap();
    assert_eq!(kept, first);
    let again = store.insert_or_get_active(second.clone()).await.unwrap();
    assert_eq!(
        again, first,
        "the active session is returned, not a new one"
    );
    let other_customer = new_session("someone-else");
    assert_eq!(
        store
            .insert_or_get_active(other_customer.clone())
            .await
            .unwrap()
            .id,
        other_customer.id
    );
    assert!(store.close(&first.id).await.unwrap());
    assert!(
        !store.close(&first.id).await.unwrap(),
        "only one close wins"
    );
    assert!(!store.close("no-such-session").await.unwrap());
    let next = store.insert_or_get_active(second.clone()).await.unwrap();
    assert_eq!(next.id, second.id, "after a close, a new session starts");
}

pub async fn sessions_are_found_from_either_side(store: &impl ContractStore, clock: &MovableClock) {
    let customer = Customer {
        bot_id: "bot".into(),
        botpress_user_id: "user".into(),
        name: "Ada".into(),
        identifier: DeliveryIdentifier::Phone("+14155550100".into()),
        hubspot_contact_id: Some("501".into()),
    };
    let session = new_session("user").for_customer(&customer);
    store.insert_or_get_active(session.clone()).await.unwrap();
    assert_eq!(store.find_by_thread("9012").await.unwrap(), None);
    store.set_thread(&session.id, "9012").await.unwrap();
    assert!(store.activate(&session.id, "conv_1").await.unwrap());
    let by_thread = store.find_by_thread("9012").await.unwrap().unwrap();
    let by_conversation = store.find_by_conversation("conv_1").await.unwrap().unwrap();
    assert_eq!(by_thread, by_conversation);
    assert_eq!(by_thread.status, SessionStatus::Open);
    assert_eq!(by_thread.thread_id.as_deref(), Some("9012"));
    assert_eq!(by_thread.conversation_id.as_deref(), Some("conv_1"));
    assert_eq!(by_thread.customer, session.customer);
    let opened_at = by_thread.activated_at_ms.expect("the opening time is kept");
    assert_eq!(opened_at, clock.now().timestamp_millis());
    clock.advance(5);
    assert!(store.activate(&session.id, "conv_1").await.unwrap());
    assert_eq!(
        store
            .find_by_thread("9012")
            .await
            .unwrap()
            .unwrap()
            .activated_at_ms,
        Some(opened_at),
        "a retried startHitl's activation keeps the first time"
    );
}

/// A customer is read back as saved, and as fixed on a session when it opens, whatever their
/// address: an email with its CRM contact, or a visitor's id with none.
pub async fn the_customer_fixed_on_a_session_is_read_back_with_it(store: &impl ContractStore) {
    for (user, identifier, contact) in [
        (
            "by-email",
            DeliveryIdentifier::Email("ada@example.com".into()),
            Some("501".to_string()),
        ),
        (
            "visitor",
            DeliveryIdentifier::Visitor("botpress:user_01".into()),
            None,
        ),
    ] {
        let customer = Customer {
            bot_id: "bot".into(),
            botpress_user_id: user.into(),
            name: "Ada".into(),
            identifier,
            hubspot_contact_id: contact,
        };
        store.save_customer(&customer).await.unwrap();
        assert_eq!(
            store.customer("bot", user).await.unwrap().as_ref(),
            Some(&customer)
        );
        let session = new_session(user).for_customer(&customer);
        store.insert_or_get_active(session.clone()).await.unwrap();
        let conversation_id = format!("conv_{user}");
        assert!(store.activate(&session.id, &conversation_id).await.unwrap());
        let found = store
            .find_by_conversation(&conversation_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.customer, session.customer, "{user}");
    }
}

/// A session closed while it opened (its opening given up) is not activated: the
/// conversation is recorded on it, so that conversation finds a closed handoff, and the answer
/// says the session is not active.
pub async fn a_session_closed_while_opening_is_not_activated(store: &impl ContractStore) {
    let id = session_on_thread(store, "user", "t1").await;
    assert!(store.close(&id).await.unwrap());
    assert!(!store.activate(&id, "conv_1").await.unwrap());
    let found = store.find_by_conversation("conv_1").await.unwrap().unwrap();
    assert_eq!(found.id, id);
    assert_eq!(found.status, SessionStatus::Closed);
    assert!(!store.activate("no-such-session", "conv_2").await.unwrap());
}

/// The bot listening again keeps when an open session began to be listened to again (its
/// opening time stays), and touches no session that is opening or closed.
pub async fn the_bot_listens_again_to_open_sessions_only(
    store: &impl ContractStore,
    clock: &MovableClock,
) {
    let opening = session_on_thread(store, "opening", "t1").await;
    let open = session_on_thread(store, "open", "t2").await;
    assert!(store.activate(&open, "conv_2").await.unwrap());
    let times = |id: String| async move {
        let session = store.find_by_id(&id).await.unwrap().unwrap();
        (session.activated_at_ms, session.listening_again_since_ms)
    };
    let (opened_at, again) = times(open.clone()).await;
    let opened_at = opened_at.expect("activated");
    assert_eq!(again, None, "listened to since the opening");
    clock.advance(7);
    store.listen_again(&open).await.unwrap();
    let again_at = Some(opened_at + 7_000);
    assert_eq!(times(open.clone()).await, (Some(opened_at), again_at));
    store.listen_again(&opening).await.unwrap();
    assert_eq!(times(opening).await, (None, None), "an opening: untouched");
    assert!(store.close(&open).await.unwrap());
    clock.advance(7);
    store.listen_again(&open).await.unwrap();
    assert_eq!(
        times(open).await,
        (Some(opened_at), again_at),
        "closed: untouched"
    );
    store.listen_again("no-such-session").await.unwrap();
}

/// An assignment change applies only if it is no older than the one recorded: by its time,
/// then, within one millisecond, by its event id.
pub async fn an_assignment_older_than_the_recorded_one_does_not_apply(store: &impl ContractStore) {
    let id = session_on_thread(store, "user", "9012").await;
    let assign = |actor: Option<&'static str>, mark: AssignmentMark| {
        let id = id.clone();
        async move { store.set_assignee(&id, actor, mark).await.unwrap() }
    };
    let recorded = || async {
        let found = store.find_by_thread("9012").await.unwrap().unwrap();
        (found.assigned_actor_id, found.assignment_mark)
    };
    let at = |ms| AssignmentMark::new(ms, None);
    assert!(assign(Some("A-2"), at(20)).await);
    assert!(
        !assign(Some("A-1"), at(10)).await,
        "older than the recorded change"
    );
    assert!(!assign(None, at(15)).await);
    assert_eq!(recorded().await, (Some("A-2".into()), Some(at(20))));
    assert!(assign(None, at(30)).await);
    assert!(!assign(Some("A-1"), at(25)).await);
    assert_eq!(
        recorded().await,
        (None, Some(at(30))),
        "unassignment is a change too"
    );
    assert!(
        !store
            .set_assignee("no-such-session", Some("A-1"), at(40))
            .await
            .unwrap()
    );

    // Within one millisecond the event id orders the changes: a lower one is older, none is
    // lowest, and the same mark applies again.
    let marked = |event_id| AssignmentMark::new(50, event_id);
    assert!(assign(Some("A-1"), marked(Some(7))).await);
    assert!(
        !assign(Some("A-2"), marked(Some(6))).await,
        "a lower event id of the same millisecond is older"
    );
    assert!(
        !assign(Some("A-2"), marked(None)).await,
        "a change without an event id comes first in its millisecond"
    );
    assert!(
        assign(Some("A-1"), marked(Some(7))).await,
        "the same mark applies again"
    );
    assert!(assign(Some("A-2"), marked(Some(8))).await);
    assert_eq!(
        recorded().await,
        (Some("A-2".into()), Some(marked(Some(8))))
    );
    // A change without an event id clears the one kept.
    assert!(assign(Some("A-1"), at(60)).await);
    assert_eq!(recorded().await, (Some("A-1".into()), Some(at(60))));
}

/// The time up to which a thread's replies were relayed only moves forward, whatever order
/// the advances come in, at once or not.
pub async fn the_reply_order_mark_only_moves_forward(store: &impl ContractStore) {
    let id = session_on_thread(store, "user", "t1").await;
    let mark = || async {
        let session = store.find_by_thread("t1").await.unwrap().unwrap();
        session.replies_relayed_until_ms
    };
    assert_eq!(mark().await, None);
    store
        .advance_replies_relayed_until(&id, 2_000)
        .await
        .unwrap();
    store
        .advance_replies_relayed_until(&id, 1_000)
        .await
        .unwrap();
    assert_eq!(mark().await, Some(2_000));
    let racing = (1..=8).map(|n| store.advance_replies_relayed_until(&id, 10_000 + n));
    for advanced in futures::future::join_all(racing).await {
        advanced.unwrap();
    }
    assert_eq!(mark().await, Some(10_008));
    store
        .advance_replies_relayed_until("no-such-session", 1)
        .await
        .unwrap();
}

/// A reply's key completes together with the thread's reply-order mark, which never moves
/// back; completing a key never claimed still moves the mark and records no key.
pub async fn a_reply_completes_with_its_reply_order_mark_and_never_moves_it_back(
    store: &impl ContractStore,
) {
    let id = session_on_thread(store, "user", "t1").await;
    let (lease, keep) = (Duration::from_secs(30), Duration::from_secs(3600));
    let mark_at = |created_at_ms| FinishingWrite::RepliesRelayedUntil {
        session_id: id.clone(),
        created_at_ms,
    };
    let mark = || async {
        let session = store.find_by_thread("t1").await.unwrap().unwrap();
        session.replies_relayed_until_ms
    };

    assert_eq!(store.claim("m2", lease).await.unwrap(), Claim::Acquired);
    store
        .complete_with("m2", keep, &mark_at(2_000))
        .await
        .unwrap();
    assert_eq!(
        store.claim("m2", lease).await.unwrap(),
        Claim::Completed(None)
    );
    assert_eq!(mark().await, Some(2_000));

    // An older reply finishing later: the key completes, the mark stays where it is.
    assert_eq!(store.claim("m1", lease).await.unwrap(), Claim::Acquired);
    store
        .complete_with("m1", keep, &mark_at(1_000))
        .await
        .unwrap();
    assert_eq!(
        store.claim("m1", lease).await.unwrap(),
        Claim::Completed(None)
    );
    assert_eq!(mark().await, Some(2_000), "never back");

    store
        .complete_with("never-claimed", keep, &mark_at(3_000))
        .await
        .unwrap();
    assert_eq!(mark().await, Some(3_000));
    assert_eq!(
        store.claim("never-claimed", lease).await.unwrap(),
        Claim::Acquired,
        "no key is recorded for work never claimed"
    );
}

pub async fn the_ledger_goes_in_progress_then_completed_and_leases_expire(
    store: &impl ContractStore,
    clock: &MovableClock,
) {
    let lease = Duration::from_secs(30);
    assert_eq!(store.claim("k", lease).await.unwrap(), Claim::Acquired);
    assert_eq!(store.claim("k", lease).await.unwrap(), Claim::InProgress);
    clock.advance(31);
    assert_eq!(
        store.claim("k", lease).await.unwrap(),
        Claim::Acquired,
        "a dead worker's lease ends"
    );
    store
        .complete("k", Some("done"), Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(
        store.claim("k", lease).await.unwrap(),
        Claim::Completed(Some("done".into()))
    );
    store.release("k").await.unwrap();
    assert_eq!(
        store.claim("k", lease).await.unwrap(),
        Claim::Completed(Some("done".into())),
        "completed work is not released"
    );
    clock.advance(3601);
    assert_eq!(
        store.claim("k", lease).await.unwrap(),
        Claim::Acquired,
        "expired records are ignored"
    );
    store
        .complete("k", None, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.claim("k", lease).await.unwrap(),
        Claim::Completed(None)
    );
    store
        .complete("never-claimed", Some("x"), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.claim("never-claimed", lease).await.unwrap(),
        Claim::Acquired,
        "no key is recorded for work never claimed"
    );
}

pub async fn released_keys_can_be_claimed_again(store: &impl ContractStore) {
    let lease = Duration::from_secs(30);
    assert_eq!(store.claim("k", lease).await.unwrap(), Claim::Acquired);
    store.release("k").await.unwrap();
    assert_eq!(store.claim("k", lease).await.unwrap(), Claim::Acquired);
    store.release("never-claimed").await.unwrap();
}

pub async fn the_refresh_lock_has_one_holder_until_released_or_expired(
    store: &impl ContractStore,
    clock: &MovableClock,
) -> String {
    let lease = Duration::from_secs(15);
    let first = store.try_lock(lease).await.unwrap().expect("free at first");
    assert_eq!(store.try_lock(lease).await.unwrap(), None, "held");
    store.unlock("someone-else").await.unwrap();
    assert_eq!(
        store.try_lock(lease).await.unwrap(),
        None,
        "only the holder releases"
    );
    store.unlock(&first).await.unwrap();
    let second = store
        .try_lock(lease)
        .await
        .unwrap()
        .expect("free after release");
    clock.advance(16);
    let third = store
        .try_lock(lease)
        .await
        .unwrap()
        .expect("a dead holder's lease ends");
    assert_ne!(second, third);
    store.unlock(&second).await.unwrap();
    assert_eq!(
        store.try_lock(lease).await.unwrap(),
        None,
        "a holder whose lease ended cannot free the new holder's lock"
    );
    third
}

/// The closes left for the scheduled run: remembered once each with their first time, oldest
/// first, and a forget that comes after the thread was forgotten and remembered again leaves
/// the new one.
pub async fn closes_left_for_later_are_kept_until_forgotten(
    store: &impl ContractStore,
    clock: &MovableClock,
) {
    assert!(store.closes_pending().await.unwrap().is_empty());
    store.remember_close("t1").await.unwrap();
    clock.advance(5);
    store.remember_close("t2").await.unwrap();
    store.remember_close("t1").await.unwrap();
    let pending = store.closes_pending().await.unwrap();
    let threads: Vec<&str> = pending.iter().map(|c| c.thread_id.as_str()).collect();
    assert_eq!(threads, ["t1", "t2"], "oldest first, t1 once");
    assert_eq!(pending[1].since_ms - pending[0].since_ms, 5_000);

    store.forget_close(&pending[0]).await.unwrap();
    assert_eq!(store.closes_pending().await.unwrap(), [pending[1].clone()]);
    clock.advance(5);
    store.remember_close("t1").await.unwrap();
    store.forget_close(&pending[0]).await.unwrap();
    let left = store.closes_pending().await.unwrap();
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[1].thread_id, "t1");
    assert!(left[1].since_ms > pending[0].since_ms);
}

/// The message statuses left for the scheduled run: one per message, the last remembered
/// (with its time) replacing an earlier one, oldest first, the FAILED reason kept whole; a
/// forget that comes after the status was remembered again leaves the new one.
pub async fn statuses_left_for_later_are_kept_until_forgotten(
    store: &impl ContractStore,
    clock: &MovableClock,
) {
    assert!(store.statuses_owed().await.unwrap().is_empty());
    let reason = "Not delivered: the bot did not accept #1 (\"quoted\", ünïcode).";
    store
        .remember_status("ch", "m1", &DeliveryStatus::Sent)
        .await
        .unwrap();
    clock.advance(5);
    store
        .remember_status("ch", "m#2", &DeliveryStatus::Failed(reason.into()))
        .await
        .unwrap();
    let owed = store.statuses_owed().await.unwrap();
    let summary: Vec<(&str, &str, &DeliveryStatus)> = owed
        .iter()
        .map(|o| (o.channel_id.as_str(), o.message_id.as_str(), &o.status))
        .collect();
    assert_eq!(
        summary,
        [
            ("ch", "m1", &DeliveryStatus::Sent),
            ("ch", "m#2", &DeliveryStatus::Failed(reason.into()))
        ],
        "oldest first"
    );
    assert_eq!(owed[1].since_ms - owed[0].since_ms, 5_000);

    clock.advance(5);
    let failed = DeliveryStatus::Failed("later word".into());
    store.remember_status("ch", "m1", &failed).await.unwrap();
    store.forget_status(&owed[0]).await.unwrap();
    let owed_now = store.statuses_owed().await.unwrap();
    assert_eq!(
        owed_now.len(),
        2,
        "the older forget left the new one: {owed_now:?}"
    );
    let m1: &OwedStatus = &owed_now[1];
    assert_eq!((m1.message_id.as_str(), &m1.status), ("m1", &failed));
    assert!(
        m1.since_ms > owed[0].since_ms,
        "remembered again, as of then"
    );

    store.forget_status(&owed_now[0]).await.unwrap();
    store.forget_status(&owed_now[0]).await.unwrap();
    assert_eq!(
        store.statuses_owed().await.unwrap(),
        std::slice::from_ref(m1)
    );
}
