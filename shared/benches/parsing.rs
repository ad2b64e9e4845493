//! CPU per event, for `scripts/bench`: checking a HubSpot signature, reading a HubSpot webhook
//! delivery (one event and a full 100-event batch), and reading Botpress calls. The ids are what
//! `hitl-bench` looks up under target/criterion/.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hitl_bridge::adapters::signature::{sign_v3, verify_v3};
use hitl_bridge::http::parsing::{read_botpress_call, read_hubspot_delivery};
use hitl_sandbox::botpress::{BotpressCaller, CallerIdentity};
use serde_json::{Value, json};

const SECRET: &[u8] = b"abbababa-beef-aaaa-bbbb-abbaabbaabba";
const URL: &str = "https://bridge.example.com/hubspot/webhook";
const NOW_MS: i64 = 1_764_000_000_000;

fn property_changes(count: usize) -> String {
    let events: Vec<Value> = (0..count)
        .map(|n| {
            json!({
                "eventId": 3_814_323_381_u64 + n as u64,
                "subscriptionId": 1_870_311,
                "portalId": 22_761_544,
                "appId": 1_098_266,
                "occurredAt": NOW_MS + n as i64,
                "subscriptionType": "conversation.propertyChange",
                "attemptNumber": 0,
                "objectId": 3_624_100_000_u64 + (n % 10) as u64,
                "propertyName": "assignedTo",
                "propertyValue": "A-1001",
                "changeSource": "AGENT",
            })
        })
        .collect();
    Value::Array(events).to_string()
}

fn signature(c: &mut Criterion) {
    let body = property_changes(1);
    let timestamp = NOW_MS.to_string();
    let signed = sign_v3(SECRET, "POST", URL, body.as_bytes(), &timestamp);
    c.bench_function("signature_verify_v3", |b| {
        b.iter(|| {
            verify_v3(
                SECRET,
                "POST",
                black_box(URL),
                black_box(body.as_bytes()),
                Some(&timestamp),
                Some(&signed),
                NOW_MS,
            )
            .expect("a valid signature")
        })
    });
}

fn hubspot_delivery(c: &mut Criterion) {
    for count in [1, 100] {
        let body = property_changes(count);
        c.bench_function(&format!("read_hubspot_delivery_{count}"), |b| {
            b.iter(|| read_hubspot_delivery(black_box(body.as_bytes())).expect("a valid delivery"))
        });
    }
}

fn botpress_calls(c: &mut Criterion) {
    let caller = BotpressCaller::new(
        "https://bridge.example.com/botpress",
        CallerIdentity {
            bot_id: "bot_01".to_string(),
            integration_id: "intver_bench_0000000000000000001".to_string(),
            integration_alias: "hubspot-hitl".to_string(),
            webhook_id: "wh_bench_000000000000000000001".to_string(),
            bot_user_id: "user_bench_bot_0000000000000001".to_string(),
        },
        "shared-secret",
    );
    let at = "2026-11-25T02:00:00.000Z";
    let payload = json!({ "text": "Hi, my parcel never came.", "userId": "user_01" });
    let message = json!({
        "type": "text",
        "payload": payload,
        "conversation": { "id": "conv_01", "channel": "hitl", "integration": "hubspot-hitl",
                          "tags": {}, "createdAt": at, "updatedAt": at },
        "message": { "id": "msg_01", "type": "text", "payload": payload, "userId": "user_01",
                     "conversationId": "conv_01", "direction": "outgoing", "tags": {},
                     "createdAt": at, "updatedAt": at },
        "user": { "id": "user_01", "tags": {}, "createdAt": at, "updatedAt": at },
    })
    .to_string();
    let headers = caller.headers("message_created");
    c.bench_function("read_botpress_call_message", |b| {
        b.iter(|| read_botpress_call(&headers, black_box(message.as_bytes())).expect("valid"))
    });
    let start = json!({
        "type": "startHitl",
        "input": { "userId": "user_01", "title": "Order did not arrive",
                   "description": "Order #1234", "messageHistory": [] },
    })
    .to_string();
    let headers = caller.headers("action_triggered");
    c.bench_function("read_botpress_call_start_hitl", |b| {
        b.iter(|| read_botpress_call(&headers, black_box(start.as_bytes())).expect("valid"))
    });
}

criterion_group!(benches, signature, hubspot_delivery, botpress_calls);
criterion_main!(benches);
