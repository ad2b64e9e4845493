//! The pages against a real sandbox stack (no browser: that is `scripts/check-browser`).

use std::net::SocketAddr;

use hitl_sandbox::hubspot::MessageSnapshot;
use serde_json::json;

use super::helpdesk::message_html;
use super::{address_beside, escape};
use crate::sandbox_stack::{SandboxOptions, SandboxStack};

#[test]
fn escaping_covers_markup_and_quotes() {
    assert_eq!(
        escape(r#"<script>alert('x')</script> & "q""#),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
    );
}

#[test]
fn the_pages_go_beside_the_bridge() {
    let bridge: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    assert_eq!(address_beside(bridge).port(), 8081);
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    assert_eq!(address_beside(any).port(), 0);
}

#[test]
fn messages_show_escaped_text_and_their_attachments() {
    let message = MessageSnapshot {
        id: "m1".into(),
        direction: "INCOMING".into(),
        text: "<img src=x onerror=alert(1)>".into(),
        senders: json!([{ "name": "<b>Eve</b>" }]),
        recipients: json!([]),
        integration_idempotency_id: None,
        status: "RECEIVED".into(),
        created_at: "2026-11-25T10:11:12.000Z".into(),
        attachments: json!([
            { "type": "FILE", "name": "invoice.pdf", "url": "https://files.example.com/1" },
            { "type": "FILE", "name": "x", "url": "javascript:alert(1)" },
            { "type": "LOCATION", "latitude": 48.85, "longitude": 2.35 },
        ]),
    };
    let html = message_html(&message);
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(html.contains("&lt;b&gt;Eve&lt;/b&gt;"), "{html}");
    assert!(!html.contains("<img") && !html.contains("<b>"), "{html}");
    assert!(
        html.contains(r#"href="https://files.example.com/1""#),
        "{html}"
    );
    assert!(html.contains("invoice.pdf"), "{html}");
    assert!(!html.contains("javascript:"), "{html}");
    assert!(html.contains("48.85, 2.35"), "{html}");
    assert!(html.contains("10:11:12"), "{html}");
}

async fn get(url: &str, cookie: Option<&str>) -> (u16, String, Option<String>) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.get(url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let set_cookie = response.headers().get("set-cookie").map(|value| {
        value
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    });
    (status, response.text().await.unwrap(), set_cookie)
}

async fn post(url: &str, cookie: &str, form: &[(&str, &str)]) -> u16 {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    client
        .post(url)
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_handoff_over_the_pages_without_a_browser() {
    let stack = SandboxStack::start(SandboxOptions::default())
        .await
        .unwrap();
    stack.register().await.unwrap();
    let address = super::serve(&stack, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{address}");

    let (status, page, cookie) = get(&format!("{base}/chat"), None).await;
    assert_eq!(status, 200);
    assert!(page.contains("Talk to a human"));
    let cookie = cookie.expect("a chat cookie");

    assert_eq!(
        post(
            &format!("{base}/chat/send"),
            &cookie,
            &[("text", "hello bot")]
        )
        .await,
        303
    );
    let form = [("name", "Jane <Doe>"), ("contact", "jane.doe@example.com")];
    assert_eq!(
        post(&format!("{base}/chat/handoff"), &cookie, &form).await,
        303
    );
    let (_, header, _) = get(&format!("{base}/chat/live/header"), Some(&cookie)).await;
    assert!(header.contains("Waiting for an agent"), "{header}");
    assert_eq!(
        post(
            &format!("{base}/chat/send"),
            &cookie,
            &[("text", "<i>my parcel</i>")]
        )
        .await,
        303
    );

    let thread = stack.hubspot.threads().pop().expect("a thread");
    let (_, desk, _) = get(&format!("{base}/helpdesk"), None).await;
    assert!(desk.contains("Jane &lt;Doe&gt;"), "{desk}");
    assert!(desk.contains("&lt;i&gt;my parcel&lt;/i&gt;"), "{desk}");
    let thread_url = format!("{base}/helpdesk/threads/{}", thread.id);
    assert_eq!(
        post(&format!("{thread_url}/assign"), "", &[("actor", "A-1002")]).await,
        303
    );
    assert_eq!(
        post(&format!("{thread_url}/reply"), "", &[("text", "On it.")]).await,
        303
    );

    let (_, header, _) = get(&format!("{base}/chat/live/header"), Some(&cookie)).await;
    assert!(header.contains("Talking to Grace Hopper"), "{header}");
    let (_, feed, _) = get(&format!("{base}/chat/live/feed"), Some(&cookie)).await;
    assert!(
        feed.contains("Grace Hopper joined the conversation."),
        "{feed}"
    );
    assert!(feed.contains("On it."), "{feed}");

    assert_eq!(post(&format!("{thread_url}/close"), "", &[]).await, 303);
    let (_, feed, _) = get(&format!("{base}/chat/live/feed"), Some(&cookie)).await;
    assert!(
        feed.contains("The agent closed the conversation."),
        "{feed}"
    );
    let (_, log, _) = get(&format!("{base}/log/live"), None).await;
    for expected in [
        "action createUser",
        "action startHitl",
        "message_created (hitl)",
        "publish message",
        "propertyChange assignedTo=A-1002",
        "createEvent hitlAssigned",
        "createEvent hitlStopped",
        "OUTGOING_CHANNEL_MESSAGE_CREATED",
    ] {
        assert!(
            log.contains(expected),
            "{expected} missing from the log: {log}"
        );
    }
    assert!(!log.contains(r#"class="status bad""#), "{log}");
}

#[tokio::test]
async fn an_unknown_contact_gets_the_bridges_answer_in_the_chat() {
    let stack = SandboxStack::start(SandboxOptions::default())
        .await
        .unwrap();
    stack.register().await.unwrap();
    let address = super::serve(&stack, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{address}");
    let (_, _, cookie) = get(&format!("{base}/chat"), None).await;
    let cookie = cookie.unwrap();
    let form = [("name", "Nobody"), ("contact", "nobody@example.com")];
    assert_eq!(
        post(&format!("{base}/chat/handoff"), &cookie, &form).await,
        303
    );
    let (_, feed, _) = get(&format!("{base}/chat/live/feed"), Some(&cookie)).await;
    assert!(feed.contains("createUser failed (400)"), "{feed}");
    let (_, header, _) = get(&format!("{base}/chat/live/header"), Some(&cookie)).await;
    assert!(header.contains("Talk to a human"), "{header}");
    assert!(stack.hubspot.threads().is_empty());
}
