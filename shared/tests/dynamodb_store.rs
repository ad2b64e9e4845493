//! The DynamoDB store against moto: the store contract (`store_contract`), which the SQLite
//! store meets too, plus what only this store has to get right: its items, races between
//! processes, TTL that deletes late, answers lost and resent.
//!
//! `scripts/test` starts moto and sets `HITL_TEST_AWS_ENDPOINT`. To run these alone:
//! `.tools/venv/bin/moto_server -H 127.0.0.1 -p 5055 &` then
//! `HITL_TEST_AWS_ENDPOINT=http://127.0.0.1:5055 cargo test -p hitl-bridge --test dynamodb_store`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

mod store_contract;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use hitl_bridge::adapters::dynamodb_store::DynamoStore;
use hitl_bridge::model::{
    AgentUser, AssignmentMark, ChannelSetup, Customer, DeliveryIdentifier, InboxAccount,
    SessionStatus,
};
use hitl_bridge::ports::{
    AgentStore, ChannelStore, Claim, Clock, CustomerStore, ExpiringStore, IdempotencyLedger,
    RefreshLock, SessionStore,
};
use store_contract::{MovableClock, new_session};

async fn client() -> Client {
    let endpoint = std::env::var("HITL_TEST_AWS_ENDPOINT").expect(
        "HITL_TEST_AWS_ENDPOINT is not set: run scripts/test, which starts a moto server for these tests",
    );
    Client::new(
        &hitl_sandbox::moto::sdk_config(
            &endpoint,
            hitl_bridge::adapters::aws_http::sdk_http_client(),
        )
        .await,
    )
}

/// A store over a table of its own, with the test's clock.
struct Fixture {
    store: Arc<DynamoStore>,
    client: Client,
    table: String,
    clock: Arc<MovableClock>,
}

async fn fixture() -> Fixture {
    let client = client().await;
    let table = format!("hitl-test-{}", uuid::Uuid::new_v4());
    DynamoStore::create_table(&client, &table).await.unwrap();
    let clock = Arc::new(MovableClock::new());
    let store = Arc::new(DynamoStore::new(
        client.clone(),
        table.clone(),
        clock.clone(),
    ));
    Fixture {
        store,
        client,
        table,
        clock,
    }
}

impl Fixture {
    async fn item(&self, pk: &str) -> Option<HashMap<String, AttributeValue>> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    async fn put_raw(&self, attributes: &[(&str, AttributeValue)]) {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(
                attributes
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.clone()))
                    .collect(),
            ))
            .send()
            .await
            .unwrap();
    }

    fn now_secs(&self) -> i64 {
        self.clock.now().timestamp()
    }
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .cloned()
        .unwrap_or_else(|| panic!("no string `{name}` in {item:?}"))
}

#[tokio::test]
async fn the_table_is_created_with_ttl_on_the_ttl_attribute() {
    let f = fixture().await;
    let ttl = f
        .client
        .describe_time_to_live()
        .table_name(&f.table)
        .send()
        .await
        .unwrap();
    let description = ttl.time_to_live_description().unwrap();
    assert_eq!(description.attribute_name(), Some("ttl"));
    let table = f
        .client
        .describe_table()
        .table_name(&f.table)
        .send()
        .await
        .unwrap();
    let table = table.table().unwrap();
    assert_eq!(table.key_schema().len(), 1);
    assert_eq!(table.key_schema()[0].attribute_name(), "pk");
}

#[tokio::test]
async fn a_customer_has_one_active_session_at_a_time() {
    store_contract::a_customer_has_one_active_session_at_a_time(&*fixture().await.store).await;
}

/// `startHitl` while the agent's close commits: the insert finds the customer's `ACTIVE#`
/// pointer, and by the time it reads the session the pointer names, that session is closed
/// (the close then drops the pointer). A closed session is never handed back as the active
/// one: the insert tries again and starts the new session.
#[tokio::test]
async fn an_insert_racing_a_close_never_returns_the_closed_session() {
    let f = fixture().await;
    let first = f
        .store
        .insert_or_get_active(new_session("user"))
        .await
        .unwrap();
    f.client
        .update_item()
        .table_name(&f.table)
        .key("pk", AttributeValue::S(format!("SESSION#{}", first.id)))
        .update_expression("SET #status = :closed")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":closed", AttributeValue::S("closed".into()))
        .send()
        .await
        .unwrap();
    let (client, table) = (f.client.clone(), f.table.clone());
    let close_finishes = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        client
            .delete_item()
            .table_name(table)
            .key("pk", AttributeValue::S("ACTIVE#bot#user".into()))
            .send()
            .await
            .unwrap();
    });
    let second = new_session("user");
    let active = f.store.insert_or_get_active(second.clone()).await.unwrap();
    close_finishes.await.unwrap();
    assert_eq!(active.id, second.id, "not the closed {}", first.id);
}

#[tokio::test]
async fn racing_inserts_for_one_customer_get_one_session() {
    let f = fixture().await;
    let calls = (0..8).map(|_| {
        let store = Arc::clone(&f.store);
        tokio::spawn(async move { store.insert_or_get_active(new_session("user")).await })
    });
    let ids: Vec<String> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap().id)
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let active = f.item("ACTIVE#bot#user").await.unwrap();
    assert_eq!(text(&active, "session_id"), ids[0]);
}

#[tokio::test]
async fn racing_closes_have_one_winner() {
    let f = fixture().await;
    let session = f
        .store
        .insert_or_get_active(new_session("user"))
        .await
        .unwrap();
    f.store.set_thread(&session.id, "9012").await.unwrap();
    f.store.activate(&session.id, "conv_1").await.unwrap();
    let calls = (0..6).map(|_| {
        let store = Arc::clone(&f.store);
        let id = session.id.clone();
        tokio::spawn(async move { store.close(&id).await })
    });
    let results: Vec<bool> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    assert_eq!(results.iter().filter(|won| **won).count(), 1, "{results:?}");
    assert!(f.item("ACTIVE#bot#user").await.is_none());
}

/// Two assignments written at once, in either order: the newer one is what stays.
#[tokio::test]
async fn racing_assignments_keep_the_newer_one() {
    let f = fixture().await;
    let store = &f.store;
    for round in 0..5_i64 {
        let session = new_session(&format!("racer{round}"));
        store.insert_or_get_active(session.clone()).await.unwrap();
        let (older, newer) = tokio::join!(
            store.set_assignee(
                &session.id,
                Some("A-ada"),
                AssignmentMark::new(1_000 + round, None)
            ),
            store.set_assignee(
                &session.id,
                Some("A-grace"),
                AssignmentMark::new(2_000 + round, None)
            ),
        );
        assert!(
            newer.unwrap(),
            "round {round}: the newer one always applies"
        );
        let _ = older.unwrap();
        let item = f.item(&format!("SESSION#{}", session.id)).await.unwrap();
        assert_eq!(item["assigned_actor_id"].as_s().unwrap(), "A-grace");
        assert_eq!(
            item["assignment_changed_at_ms"].as_n().unwrap(),
            &(2_000 + round).to_string()
        );
        store.close(&session.id).await.unwrap();
    }
}

#[tokio::test]
async fn sessions_are_found_from_either_side() {
    let f = fixture().await;
    store_contract::sessions_are_found_from_either_side(&*f.store, &f.clock).await;
}

#[tokio::test]
async fn the_customer_fixed_on_a_session_is_read_back_with_it() {
    store_contract::the_customer_fixed_on_a_session_is_read_back_with_it(&*fixture().await.store)
        .await;
}

#[tokio::test]
async fn a_session_closed_while_opening_is_not_activated() {
    store_contract::a_session_closed_while_opening_is_not_activated(&*fixture().await.store).await;
}

#[tokio::test]
async fn the_bot_listens_again_to_open_sessions_only() {
    let f = fixture().await;
    store_contract::the_bot_listens_again_to_open_sessions_only(&*f.store, &f.clock).await;
}

#[tokio::test]
async fn an_assignment_older_than_the_recorded_one_does_not_apply() {
    store_contract::an_assignment_older_than_the_recorded_one_does_not_apply(
        &*fixture().await.store,
    )
    .await;
}

#[tokio::test]
async fn the_mapping_items_are_written_with_the_session() {
    let f = fixture().await;
    let session = new_session("user");
    f.store.insert_or_get_active(session.clone()).await.unwrap();
    f.store.set_thread(&session.id, "9012").await.unwrap();
    f.store.activate(&session.id, "conv_1").await.unwrap();
    let thread = f.item("THREAD#9012").await.expect("thread mapping");
    let conversation = f
        .item("CONVERSATION#conv_1")
        .await
        .expect("conversation mapping");
    assert_eq!(text(&thread, "session_id"), session.id);
    assert_eq!(text(&conversation, "session_id"), session.id);
    let stored = f.item(&format!("SESSION#{}", session.id)).await.unwrap();
    assert_eq!(text(&stored, "status"), "open");
    assert_eq!(text(&stored, "thread_id"), "9012");
    assert_eq!(text(&stored, "conversation_id"), "conv_1");
    assert!(
        !stored.contains_key("ttl"),
        "an active session does not expire"
    );
    // Repeating the calls (a retried startHitl) changes nothing.
    f.store.set_thread(&session.id, "9012").await.unwrap();
    f.store.activate(&session.id, "conv_1").await.unwrap();
    assert_eq!(
        f.store
            .find_by_thread("9012")
            .await
            .unwrap()
            .unwrap()
            .status,
        SessionStatus::Open
    );
}

#[tokio::test]
async fn a_thread_or_conversation_belongs_to_one_session() {
    let f = fixture().await;
    let first = new_session("first");
    let second = new_session("second");
    f.store.insert_or_get_active(first.clone()).await.unwrap();
    f.store.insert_or_get_active(second.clone()).await.unwrap();
    f.store.set_thread(&first.id, "9012").await.unwrap();
    f.store.activate(&first.id, "conv_1").await.unwrap();
    let error = f.store.set_thread(&second.id, "9012").await.unwrap_err();
    assert!(error.to_string().contains("9012"), "{error}");
    assert!(f.store.activate(&second.id, "conv_1").await.is_err());
    let untouched = f.store.find_by_thread("9012").await.unwrap().unwrap();
    assert_eq!(untouched.id, first.id);
    let second_now = f.item(&format!("SESSION#{}", second.id)).await.unwrap();
    assert!(
        !second_now.contains_key("thread_id"),
        "the refused transaction changed nothing"
    );
    // An unknown session is left alone, as an UPDATE of no rows would.
    f.store.set_thread("no-such-session", "7").await.unwrap();
    assert!(f.item("THREAD#7").await.is_none());
    assert!(f.item("SESSION#no-such-session").await.is_none());
}

#[tokio::test]
async fn a_closed_session_stays_readable_and_expires_with_its_mappings() {
    let f = fixture().await;
    let session = new_session("user");
    f.store.insert_or_get_active(session.clone()).await.unwrap();
    f.store.set_thread(&session.id, "9012").await.unwrap();
    assert!(f.store.close(&session.id).await.unwrap());
    // Botpress's conversation arrives after the agent closed the thread.
    f.store.activate(&session.id, "conv_1").await.unwrap();
    let closed = f
        .store
        .find_by_conversation("conv_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed.status, SessionStatus::Closed, "closed stays closed");
    assert_eq!(f.store.find_by_thread("9012").await.unwrap(), Some(closed));
    let session_ttl = f.item(&format!("SESSION#{}", session.id)).await.unwrap()["ttl"]
        .as_n()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    assert!(session_ttl > f.now_secs() + 86_400, "kept for a while");
    for mapping in ["THREAD#9012", "CONVERSATION#conv_1"] {
        let item = f.item(mapping).await.unwrap();
        assert_eq!(
            item["ttl"].as_n().unwrap().parse::<i64>().unwrap(),
            session_ttl,
            "{mapping} expires with its session"
        );
    }
    f.clock.advance(31 * 86_400);
    assert_eq!(f.store.find_by_thread("9012").await.unwrap(), None);
    assert_eq!(f.store.find_by_conversation("conv_1").await.unwrap(), None);
    assert!(
        !f.store
            .set_assignee(&session.id, Some("A-1"), AssignmentMark::new(1, None))
            .await
            .unwrap()
    );
    assert!(!f.store.close(&session.id).await.unwrap());
}

#[tokio::test]
async fn items_past_their_ttl_are_treated_as_absent() {
    let f = fixture().await;
    let past = AttributeValue::N((f.now_secs() - 60).to_string());
    let s = |value: &str| AttributeValue::S(value.into());
    // A customer DynamoDB has not deleted yet.
    f.put_raw(&[
        ("pk", s("CUSTOMER#bot#user")),
        ("bot_id", s("bot")),
        ("botpress_user_id", s("user")),
        ("name", s("Jane")),
        ("identifier_type", s("HS_EMAIL_ADDRESS")),
        ("identifier_value", s("jane@example.com")),
        ("hubspot_contact_id", s("1")),
        ("ttl", past.clone()),
    ])
    .await;
    assert_eq!(f.store.customer("bot", "user").await.unwrap(), None);
    // An expired thread mapping pointing at a live session.
    let session = new_session("user");
    f.store.insert_or_get_active(session.clone()).await.unwrap();
    f.store.set_thread(&session.id, "9012").await.unwrap();
    f.put_raw(&[
        ("pk", s("THREAD#9012")),
        ("session_id", s(&session.id)),
        ("ttl", past.clone()),
    ])
    .await;
    assert_eq!(f.store.find_by_thread("9012").await.unwrap(), None);
    // An expired active-session marker does not block a new session.
    f.put_raw(&[
        ("pk", s("ACTIVE#bot#other")),
        ("session_id", s("long-gone")),
        ("ttl", past.clone()),
    ])
    .await;
    let fresh = new_session("other");
    assert_eq!(
        f.store
            .insert_or_get_active(fresh.clone())
            .await
            .unwrap()
            .id,
        fresh.id
    );
    // An expired mapping can be taken by another session.
    f.put_raw(&[
        ("pk", s("CONVERSATION#conv_9")),
        ("session_id", s("long-gone")),
        ("ttl", past),
    ])
    .await;
    f.store.activate(&fresh.id, "conv_9").await.unwrap();
    assert_eq!(
        f.store
            .find_by_conversation("conv_9")
            .await
            .unwrap()
            .unwrap()
            .id,
        fresh.id
    );
}

#[tokio::test]
async fn the_ledger_goes_in_progress_then_completed_and_leases_expire() {
    let f = fixture().await;
    store_contract::the_ledger_goes_in_progress_then_completed_and_leases_expire(
        &*f.store, &f.clock,
    )
    .await;
}

/// A completed record carries the time DynamoDB's TTL deletes it at, in epoch seconds.
#[tokio::test]
async fn a_completed_record_expires_by_ttl() {
    let f = fixture().await;
    let store = &f.store;
    assert_eq!(
        store.claim("k", Duration::from_secs(30)).await.unwrap(),
        Claim::Acquired
    );
    store
        .complete("k", Some("done"), Duration::from_secs(3600))
        .await
        .unwrap();
    let record = f.item("IDEMPOTENCY#k").await.unwrap();
    assert_eq!(text(&record, "state"), "COMPLETED");
    let ttl: i64 = record["ttl"].as_n().unwrap().parse().unwrap();
    assert!((ttl - f.now_secs() - 3600).abs() <= 1, "ttl {ttl}");
}

/// The SDK's HTTP client, losing the answer to the first `PutItem` of an item whose key
/// contains `marker` (`IDEMPOTENCY#`: a ledger claim; `LOCK#`: the refresh lock) after moto
/// has applied it: a timeout, which the SDK retries.
#[derive(Debug)]
struct LosesFirstPutAnswer {
    inner: aws_smithy_runtime_api::client::http::SharedHttpClient,
    marker: &'static str,
    lost: Arc<std::sync::atomic::AtomicBool>,
}

impl LosesFirstPutAnswer {
    /// A store over `f`'s table whose first put of a `marker` item loses its answer, and the
    /// flag that says it was lost.
    async fn store(
        f: &Fixture,
        marker: &'static str,
    ) -> (DynamoStore, Arc<std::sync::atomic::AtomicBool>) {
        let endpoint = std::env::var("HITL_TEST_AWS_ENDPOINT").unwrap();
        let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let losing = aws_smithy_runtime_api::client::http::SharedHttpClient::new(Self {
            inner: hitl_bridge::adapters::aws_http::sdk_http_client(),
            marker,
            lost: Arc::clone(&lost),
        });
        let client = Client::new(&hitl_sandbox::moto::sdk_config(&endpoint, losing).await);
        let store = DynamoStore::new(client, f.table.clone(), f.clock.clone());
        (store, lost)
    }
}

impl aws_smithy_runtime_api::client::http::HttpClient for LosesFirstPutAnswer {
    fn http_connector(
        &self,
        settings: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
    ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
        use aws_smithy_runtime_api::client::http::{
            HttpConnector, HttpConnectorFuture, SharedHttpConnector,
        };
        use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
        use aws_smithy_runtime_api::client::result::ConnectorError;

        #[derive(Debug)]
        struct Connector {
            inner: SharedHttpConnector,
            marker: &'static str,
            lost: Arc<std::sync::atomic::AtomicBool>,
        }
        impl HttpConnector for Connector {
            fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
                let is_marked_put = request
                    .headers()
                    .get("x-amz-target")
                    .is_some_and(|target| target.ends_with(".PutItem"))
                    && request
                        .body()
                        .bytes()
                        .is_some_and(|body| String::from_utf8_lossy(body).contains(self.marker));
                let answer = self.inner.call(request);
                let lost = Arc::clone(&self.lost);
                HttpConnectorFuture::new(async move {
                    let answer = answer.await?;
                    if is_marked_put && !lost.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        return Err(ConnectorError::timeout(
                            "the answer was lost on its way back (injected)".into(),
                        ));
                    }
                    Ok(answer)
                })
            }
        }
        SharedHttpConnector::new(Connector {
            inner: self.inner.http_connector(settings, components),
            marker: self.marker,
            lost: Arc::clone(&self.lost),
        })
    }
}

/// The claim's put reached DynamoDB, its answer did not, and the SDK sent it again: the
/// second put meets the record the first wrote, and the claim is still this caller's
/// (acquired), not another attempt's work in flight (a 503 and a key held for a lease).
#[tokio::test]
async fn a_claim_whose_answer_was_lost_and_resent_is_still_acquired() {
    let f = fixture().await;
    let (store, lost) = LosesFirstPutAnswer::store(&f, "IDEMPOTENCY#").await;
    let lease = Duration::from_secs(30);
    assert_eq!(store.claim("k", lease).await.unwrap(), Claim::Acquired);
    assert!(
        lost.load(std::sync::atomic::Ordering::SeqCst),
        "an answer was lost and resent"
    );
    assert_eq!(
        f.store.claim("k", lease).await.unwrap(),
        Claim::InProgress,
        "another caller is still refused"
    );
}

/// The refresh lock's put reached DynamoDB, its answer did not, and the SDK sent it again:
/// the lock is this caller's, which it can free, not another holder's that every process
/// waits out for the whole 90 s lease (no token refresh anywhere meanwhile).
#[tokio::test]
async fn a_lock_whose_answer_was_lost_and_resent_is_still_taken_and_freed() {
    let f = fixture().await;
    let (store, lost) = LosesFirstPutAnswer::store(&f, "LOCK#").await;
    let lease = Duration::from_secs(90);
    let holder = store
        .try_lock(lease)
        .await
        .unwrap()
        .expect("the lock is this caller's");
    assert!(
        lost.load(std::sync::atomic::Ordering::SeqCst),
        "an answer was lost and resent"
    );
    assert_eq!(f.store.try_lock(lease).await.unwrap(), None, "held");
    store.unlock(&holder).await.unwrap();
    assert!(
        f.store.try_lock(lease).await.unwrap().is_some(),
        "freed by its holder"
    );
}

#[tokio::test]
async fn released_keys_can_be_claimed_again() {
    let f = fixture().await;
    store_contract::released_keys_can_be_claimed_again(&*f.store).await;
    f.store.release("k").await.unwrap();
    assert!(f.item("IDEMPOTENCY#k").await.is_none(), "a release deletes");
}

#[tokio::test]
async fn racing_claims_have_one_winner() {
    let f = fixture().await;
    let calls = (0..8).map(|_| {
        let store = Arc::clone(&f.store);
        tokio::spawn(async move { store.claim("event-1", Duration::from_secs(30)).await })
    });
    let claims: Vec<Claim> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    let acquired = claims.iter().filter(|c| **c == Claim::Acquired).count();
    assert_eq!(acquired, 1, "{claims:?}");
    assert!(
        claims
            .iter()
            .all(|c| matches!(c, Claim::Acquired | Claim::InProgress)),
        "{claims:?}"
    );
}

/// The closes left for the scheduled run live in one item, which the token refresher's policy
/// names.
#[tokio::test]
async fn closes_left_for_later_are_kept_in_one_item_until_forgotten() {
    let f = fixture().await;
    store_contract::closes_left_for_later_are_kept_until_forgotten(&*f.store, &f.clock).await;
    let item = f.item("CLOSES_PENDING").await.expect("one item");
    assert_eq!(item.len(), 3, "the key and a thread each: {item:?}");
}

/// The statuses left for the scheduled run live in one item too, which the token refresher's
/// policy names.
#[tokio::test]
async fn statuses_left_for_later_are_kept_in_one_item_until_forgotten() {
    let f = fixture().await;
    store_contract::statuses_left_for_later_are_kept_until_forgotten(&*f.store, &f.clock).await;
    let item = f.item("STATUSES_OWED").await.expect("one item");
    assert_eq!(item.len(), 2, "the key and the one message left: {item:?}");
}

#[tokio::test]
async fn the_refresh_lock_has_one_holder_until_released_or_expired() {
    let f = fixture().await;
    let holder = store_contract::the_refresh_lock_has_one_holder_until_released_or_expired(
        &*f.store, &f.clock,
    )
    .await;
    let lock = f.item("LOCK#hubspot-token-refresh").await.unwrap();
    assert_eq!(text(&lock, "holder"), holder);
}

#[tokio::test]
async fn channel_customers_and_agents_round_trip() {
    let f = fixture().await;
    let store = &f.store;
    assert_eq!(store.channel_setup().await.unwrap(), None);
    let mut setup = ChannelSetup {
        channel_id: "ch".into(),
        channel_account_id: "acc".into(),
        inbox_id: "inbox".into(),
        webhook_url: "https://example.com/hubspot".into(),
        accounts: vec![
            InboxAccount {
                inbox_id: "inbox".into(),
                inbox_name: Some("Help Desk".into()),
                channel_account_id: "acc".into(),
            },
            InboxAccount {
                inbox_id: "inbox-2".into(),
                inbox_name: None,
                channel_account_id: "acc-2".into(),
            },
        ],
    };
    store.save_channel_setup(&setup).await.unwrap();
    assert_eq!(store.channel_setup().await.unwrap(), Some(setup.clone()));
    // A save replaces the inbox accounts too.
    setup.inbox_id = "inbox-2".into();
    setup.accounts.remove(0);
    store.save_channel_setup(&setup).await.unwrap();
    assert_eq!(store.channel_setup().await.unwrap(), Some(setup));

    assert_eq!(store.customer("bot", "user").await.unwrap(), None);
    let mut customer = Customer {
        bot_id: "bot".into(),
        botpress_user_id: "user".into(),
        name: "Jane".into(),
        identifier: DeliveryIdentifier::Email("jane@example.com".into()),
        hubspot_contact_id: Some("101".into()),
    };
    store.save_customer(&customer).await.unwrap();
    customer.identifier = DeliveryIdentifier::Phone("+14155552671".into());
    store.save_customer(&customer).await.unwrap();
    assert_eq!(store.customer("bot", "user").await.unwrap(), Some(customer));
    assert_eq!(store.customer("other-bot", "user").await.unwrap(), None);

    assert_eq!(store.agent_user("bot", "A-1").await.unwrap(), None);
    let mut agent = AgentUser {
        bot_id: "bot".into(),
        actor_id: "A-1".into(),
        botpress_user_id: "bp-user".into(),
        name: Some("Agent Smith".into()),
    };
    store.save_agent_user(&agent).await.unwrap();
    assert_eq!(
        store.agent_user("bot", "A-1").await.unwrap(),
        Some(agent.clone())
    );
    agent.name = None;
    store.save_agent_user(&agent).await.unwrap();
    assert_eq!(store.agent_user("bot", "A-1").await.unwrap(), Some(agent));
}

/// A customer's record (their name and address) lasts 30 days from its last save, then reads
/// as absent (DynamoDB's TTL deletes it later); saving it again, as each handoff does, keeps
/// it 30 days more.
#[tokio::test]
async fn a_customer_is_kept_30_days_from_its_last_save() {
    let f = fixture().await;
    let customer = Customer {
        bot_id: "bot".into(),
        botpress_user_id: "user".into(),
        name: "Jane".into(),
        identifier: DeliveryIdentifier::Email("jane@example.com".into()),
        hubspot_contact_id: Some("101".into()),
    };
    f.store.save_customer(&customer).await.unwrap();
    let item = f.item("CUSTOMER#bot#user").await.expect("saved");
    let ttl: i64 = item["ttl"].as_n().unwrap().parse().unwrap();
    assert_eq!(ttl, f.clock.now().timestamp() + 30 * 24 * 3600);
    f.clock.advance(29 * 24 * 3600);
    f.store.save_customer(&customer).await.unwrap();
    f.clock.advance(29 * 24 * 3600);
    assert_eq!(
        f.store.customer("bot", "user").await.unwrap().as_ref(),
        Some(&customer),
        "58 days after it was made, 29 after its last use"
    );
    f.clock.advance(2 * 24 * 3600);
    assert_eq!(f.store.customer("bot", "user").await.unwrap(), None);
}

/// A customer item an older version saved without a `ttl` gets one from `expire_untimed`
/// (`hitl setup`), 30 days from now; one that has its own is left as it is.
#[tokio::test]
async fn customers_saved_without_an_expiry_are_given_one() {
    let f = fixture().await;
    f.put_raw(&[
        ("pk", AttributeValue::S("CUSTOMER#bot#older".into())),
        ("bot_id", AttributeValue::S("bot".into())),
    ])
    .await;
    let customer = Customer {
        bot_id: "bot".into(),
        botpress_user_id: "newer".into(),
        name: "Jane".into(),
        identifier: DeliveryIdentifier::Email("jane@example.com".into()),
        hubspot_contact_id: Some("101".into()),
    };
    f.store.save_customer(&customer).await.unwrap();
    let saved_ttl = f.item("CUSTOMER#bot#newer").await.unwrap()["ttl"].clone();
    f.clock.advance(3_600);

    assert_eq!(f.store.expire_untimed().await.unwrap(), 1);
    let ttl: i64 = f.item("CUSTOMER#bot#older").await.unwrap()["ttl"]
        .as_n()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ttl, f.clock.now().timestamp() + 30 * 24 * 3600);
    assert_eq!(
        f.item("CUSTOMER#bot#newer").await.unwrap()["ttl"],
        saved_ttl
    );
    assert_eq!(f.store.expire_untimed().await.unwrap(), 0, "once");
}

#[tokio::test]
async fn a_missing_table_is_an_error_that_names_the_cause() {
    let client = client().await;
    let store = DynamoStore::new(client, "no-such-table", Arc::new(MovableClock::new()));
    let error = store.customer("bot", "user").await.unwrap_err();
    assert_eq!(error.operation, "read customer");
    assert!(
        error.message.contains("ResourceNotFound") || error.message.contains("not found"),
        "{error}"
    );
}

#[tokio::test]
async fn the_reply_order_mark_only_moves_forward() {
    let f = fixture().await;
    store_contract::the_reply_order_mark_only_moves_forward(&*f.store).await;
    assert!(f.item("SESSION#no-such-session").await.is_none());
}

#[tokio::test]
async fn a_warm_lookup_reads_the_session_only_and_a_stale_mapping_is_read_again() {
    let fixture = fixture().await;
    let store = &fixture.store;
    let first = new_session("user");
    store.insert_or_get_active(first.clone()).await.unwrap();
    store.set_thread(&first.id, "t1").await.unwrap();
    assert_eq!(
        store.find_by_thread("t1").await.unwrap().unwrap().id,
        first.id
    );

    // This process knows which session `t1` names: the mapping item is not read again.
    let mapping = fixture.item("THREAD#t1").await.unwrap();
    fixture
        .client
        .delete_item()
        .table_name(&fixture.table)
        .key("pk", AttributeValue::S("THREAD#t1".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        store.find_by_thread("t1").await.unwrap().unwrap().id,
        first.id
    );
    let restored: Vec<(&str, AttributeValue)> = mapping
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    fixture.put_raw(&restored).await;

    // The session ends and expires; a new one takes the thread id: the remembered mapping is
    // stale, and the lookup finds the new session.
    assert!(store.close(&first.id).await.unwrap());
    fixture.clock.advance(31 * 24 * 60 * 60);
    let second = new_session("user");
    store.insert_or_get_active(second.clone()).await.unwrap();
    store.set_thread(&second.id, "t1").await.unwrap();
    assert_eq!(
        store.find_by_thread("t1").await.unwrap().unwrap().id,
        second.id
    );

    // A session whose thread changed no longer answers for the old id, remembered or not.
    store.set_thread(&second.id, "t2").await.unwrap();
    assert_eq!(store.find_by_thread("t1").await.unwrap(), None);
    assert_eq!(
        store.find_by_thread("t2").await.unwrap().unwrap().id,
        second.id
    );
}

#[tokio::test]
async fn a_reply_completes_with_its_reply_order_mark_and_never_moves_it_back() {
    let f = fixture().await;
    store_contract::a_reply_completes_with_its_reply_order_mark_and_never_moves_it_back(&*f.store)
        .await;
}
