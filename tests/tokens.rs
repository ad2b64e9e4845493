//! HubSpot access tokens: refreshed ahead of expiry, refreshed once on a 401, rotated
//! refresh tokens kept.

use std::time::Duration;

use flow_support::{
    Path, on_both_paths, options, registered_stack, registered_stack_with, start_handoff,
};
use hitl_sandbox::hubspot::HubSpotSimConfig;

/// The bridge's default token endpoint (`HUBSPOT_OAUTH_TOKEN_PATH`).
const TOKEN_PATH: &str = "/oauth/2026-03/token";

async fn an_expired_token_mid_conversation_costs_one_refresh_and_loses_nothing(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let refreshes = stack.hubspot.recorder().count("POST", TOKEN_PATH);
    stack.hubspot.expire_access_tokens();

    let (_, sent) = stack
        .caller
        .user_message(&handoff.conversation_id, &handoff.user_id, "Are you there?")
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert_eq!(
        stack.hubspot.recorder().count("POST", TOKEN_PATH),
        refreshes + 1
    );
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    assert!(
        thread.messages.iter().any(|m| m.text == "Are you there?"),
        "the message arrived"
    );
    let expired_answers = stack
        .hubspot
        .recorder()
        .calls()
        .iter()
        .filter(|call| call.status == 401)
        .count();
    assert_eq!(
        expired_answers, 1,
        "one 401, then the refreshed token worked"
    );

    let refresh = stack
        .hubspot
        .recorder()
        .matching("POST", TOKEN_PATH)
        .pop()
        .unwrap();
    assert!(
        refresh.body.contains("grant_type=refresh_token"),
        "{}",
        refresh.body
    );
    assert!(refresh.body.contains("client_id=sandbox-client-id"));
    assert_eq!(
        refresh.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
}

async fn concurrent_requests_with_an_expired_token_share_one_refresh(path: Path) {
    let stack = registered_stack(path).await;
    let handoff = start_handoff(&stack).await;
    let refreshes = stack.hubspot.recorder().count("POST", TOKEN_PATH);
    stack.hubspot.expire_access_tokens();

    let sends = (0..8).map(|n| {
        let caller = stack.caller.clone();
        let (conversation, user) = (handoff.conversation_id.clone(), handoff.user_id.clone());
        async move {
            caller
                .user_message(&conversation, &user, &format!("message {n}"))
                .await
                .1
        }
    });
    for answer in futures::future::join_all(sends).await {
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    assert_eq!(
        stack.hubspot.recorder().count("POST", TOKEN_PATH),
        refreshes + 1,
        "one shared refresh"
    );
    let thread = stack.hubspot.thread(&handoff.thread_id).unwrap();
    for n in 0..8 {
        let text = format!("message {n}");
        assert_eq!(
            thread.messages.iter().filter(|m| m.text == text).count(),
            1,
            "{text}"
        );
    }
}

async fn tokens_are_refreshed_ahead_of_expiry_without_a_401(path: Path) {
    // A token that lives five minutes and two seconds enters the bridge's five-minute
    // refresh margin two seconds after it is issued: the next call must refresh first,
    // while the old token would still have worked (so no 401 can be what triggers it).
    let stack = registered_stack_with(hitl_cli::sandbox_stack::SandboxOptions {
        hubspot: HubSpotSimConfig {
            access_token_ttl: Duration::from_secs(5 * 60 + 2),
            ..HubSpotSimConfig::default()
        },
        ..options(path)
    })
    .await;
    let handoff = start_handoff(&stack).await;
    assert_eq!(
        stack.hubspot.recorder().count("POST", TOKEN_PATH),
        1,
        "one token so far"
    );
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (_, sent) = stack
        .caller
        .user_message(&handoff.conversation_id, &handoff.user_id, "still there?")
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert_eq!(
        stack.hubspot.recorder().count("POST", TOKEN_PATH),
        2,
        "refreshed ahead of expiry"
    );
    let unauthorized = stack
        .hubspot
        .recorder()
        .calls()
        .iter()
        .filter(|c| c.status == 401)
        .count();
    assert_eq!(
        unauthorized, 0,
        "the bridge never used a token about to expire"
    );
}

async fn a_rotated_refresh_token_is_stored_and_used_next_time(path: Path) {
    let stack = rotating_stack(path).await;
    let handoff = start_handoff(&stack).await;
    for round in 0..3 {
        stack.hubspot.expire_access_tokens();
        let (_, sent) = stack
            .caller
            .user_message(
                &handoff.conversation_id,
                &handoff.user_id,
                &format!("round {round}"),
            )
            .await;
        assert_eq!(sent.status, 200, "round {round}: {}", sent.text);
    }
    stack
        .bridge
        .tokens
        .refresh_now()
        .await
        .expect("the stored, rotated token still works");
}

async fn a_revoked_refresh_token_fails_loudly_and_says_what_to_do(path: Path) {
    let stack = rotating_stack(path).await;
    // Someone else used (and so rotated away) the grant: ours is now unknown to HubSpot.
    let other = reqwest::Client::new()
        .post(format!("{}{TOKEN_PATH}", stack.hubspot.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "sandbox-client-id"),
            ("client_secret", "sandbox-client-secret"),
            ("refresh_token", &stack.hubspot.current_refresh_token()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 200);
    let error = stack
        .bridge
        .tokens
        .refresh_now()
        .await
        .expect_err("the grant is gone");
    assert!(!error.retryable());
    assert!(error.to_string().contains("reinstall"), "{error}");
}

/// A stack whose HubSpot rotates the refresh token on every refresh.
async fn rotating_stack(path: Path) -> hitl_cli::sandbox_stack::SandboxStack {
    registered_stack_with(hitl_cli::sandbox_stack::SandboxOptions {
        hubspot: HubSpotSimConfig {
            rotate_refresh_tokens: true,
            ..HubSpotSimConfig::default()
        },
        ..options(path)
    })
    .await
}

on_both_paths!(
    an_expired_token_mid_conversation_costs_one_refresh_and_loses_nothing,
    concurrent_requests_with_an_expired_token_share_one_refresh,
    tokens_are_refreshed_ahead_of_expiry_without_a_401,
    a_rotated_refresh_token_is_stored_and_used_next_time,
    a_revoked_refresh_token_fails_loudly_and_says_what_to_do,
);
