//! The SQLite store against the store contract (`store_contract`), which the DynamoDB store
//! meets too. What only SQLite has (its file, upgrades from older versions, the purge) is
//! tested beside it, in `src/adapters/sqlite_store.rs`.

mod store_contract;

use std::sync::Arc;

use hitl_bridge::adapters::sqlite_store::SqliteStore;
use store_contract::MovableClock;

/// A store in memory with the test's clock.
fn fixture() -> (SqliteStore, Arc<MovableClock>) {
    let clock = Arc::new(MovableClock::new());
    (SqliteStore::in_memory(clock.clone()).unwrap(), clock)
}

#[tokio::test]
async fn a_customer_has_one_active_session_at_a_time() {
    store_contract::a_customer_has_one_active_session_at_a_time(&fixture().0).await;
}

#[tokio::test]
async fn sessions_are_found_from_either_side() {
    let (store, clock) = fixture();
    store_contract::sessions_are_found_from_either_side(&store, &clock).await;
}

#[tokio::test]
async fn the_customer_fixed_on_a_session_is_read_back_with_it() {
    store_contract::the_customer_fixed_on_a_session_is_read_back_with_it(&fixture().0).await;
}

#[tokio::test]
async fn a_session_closed_while_opening_is_not_activated() {
    store_contract::a_session_closed_while_opening_is_not_activated(&fixture().0).await;
}

#[tokio::test]
async fn the_bot_listens_again_to_open_sessions_only() {
    let (store, clock) = fixture();
    store_contract::the_bot_listens_again_to_open_sessions_only(&store, &clock).await;
}

#[tokio::test]
async fn an_assignment_older_than_the_recorded_one_does_not_apply() {
    store_contract::an_assignment_older_than_the_recorded_one_does_not_apply(&fixture().0).await;
}

#[tokio::test]
async fn the_reply_order_mark_only_moves_forward() {
    store_contract::the_reply_order_mark_only_moves_forward(&fixture().0).await;
}

#[tokio::test]
async fn a_reply_completes_with_its_reply_order_mark_and_never_moves_it_back() {
    store_contract::a_reply_completes_with_its_reply_order_mark_and_never_moves_it_back(
        &fixture().0,
    )
    .await;
}

#[tokio::test]
async fn the_ledger_goes_in_progress_then_completed_and_leases_expire() {
    let (store, clock) = fixture();
    store_contract::the_ledger_goes_in_progress_then_completed_and_leases_expire(&store, &clock)
        .await;
}

#[tokio::test]
async fn released_keys_can_be_claimed_again() {
    store_contract::released_keys_can_be_claimed_again(&fixture().0).await;
}

#[tokio::test]
async fn the_refresh_lock_has_one_holder_until_released_or_expired() {
    let (store, clock) = fixture();
    store_contract::the_refresh_lock_has_one_holder_until_released_or_expired(&store, &clock).await;
}

#[tokio::test]
async fn closes_left_for_later_are_kept_until_forgotten() {
    let (store, clock) = fixture();
    store_contract::closes_left_for_later_are_kept_until_forgotten(&store, &clock).await;
}

#[tokio::test]
async fn statuses_left_for_later_are_kept_until_forgotten() {
    let (store, clock) = fixture();
    store_contract::statuses_left_for_later_are_kept_until_forgotten(&store, &clock).await;
}
