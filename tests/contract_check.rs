//! The contract check can fail: a request that breaks the Custom Channels document (a publish
//! without `channelAccountId`) sent through the validating path is reported as a violation.
//! Runs when `HITL_CONTRACTS_PRISM` names Prism (`scripts/check-contracts`); without it there is
//! nothing to check and the test says so.

use flow_support::{Path, options, registered_stack_with, start_handoff};
use serde_json::json;

#[tokio::test]
async fn a_publish_without_channel_account_id_is_a_violation() {
    let options = options(Path::InProcess);
    if options.contracts.is_none() {
        eprintln!(
            "HITL_CONTRACTS_PRISM is not set: the contract check is off (scripts/check-contracts runs it)"
        );
        return;
    }
    let stack = registered_stack_with(options).await;
    start_handoff(&stack).await;
    let contracts = stack.contracts.as_ref().expect("contract checks are on");
    assert_eq!(
        contracts.violations(),
        vec![],
        "the bridge's own calls break no document"
    );
    let setup = stack
        .bridge
        .relay
        .store()
        .channel_setup()
        .await
        .unwrap()
        .unwrap();
    let token = stack.bridge.tokens.access_token().await.unwrap();

    let wrong = reqwest::Client::new()
        .post(format!(
            "{}/conversations/v3/custom-channels/{}/messages",
            contracts.hubspot_base(),
            setup.channel_id
        ))
        .bearer_auth(secrecy::ExposeSecret::expose_secret(&token))
        .json(&json!({
            "text": "no channel account",
            "messageDirection": "INCOMING",
            "integrationThreadId": "thread-without-account",
            "senders": [{
                "name": "Jane",
                "deliveryIdentifier": { "type": "HS_EMAIL_ADDRESS", "value": "jane.doe@example.com" },
            }],
            "attachments": [],
            "timestamp": "2026-01-01T00:00:00.000Z",
        }))
        .send()
        .await
        .unwrap();
    // Whatever the simulator answers, the check must report the request.
    let _ = wrong.status();

    let violations = contracts.take_violations();
    assert!(
        violations
            .iter()
            .any(|violation| violation.api == "custom-channels"
                && violation
                    .call
                    .starts_with("POST /conversations/v3/custom-channels/")
                && violation.location == "request.body"
                && violation.message
                    == "Request body must have required property 'channelAccountId'"),
        "the missing channelAccountId is reported: {violations:#?}"
    );
    assert!(
        contracts.calls()["custom-channels"] >= 2,
        "calls are counted"
    );
}

#[tokio::test]
async fn a_call_no_document_covers_is_a_violation() {
    let options = options(Path::InProcess);
    if options.contracts.is_none() {
        eprintln!("HITL_CONTRACTS_PRISM is not set: the contract check is off");
        return;
    }
    let stack = registered_stack_with(options).await;
    let contracts = stack.contracts.as_ref().expect("contract checks are on");
    let answer = reqwest::Client::new()
        .get(format!(
            "{}/conversations/v3/nowhere",
            contracts.hubspot_base()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    let violations = contracts.take_violations();
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert_eq!(violations[0].api, "uncovered");
    assert_eq!(violations[0].call, "GET /conversations/v3/nowhere");
}
