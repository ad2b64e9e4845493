//! One 100-event HubSpot delivery about 10 threads (10 assignment changes each), with every
//! HubSpot and Botpress call delayed by the injected latency, timed from send to answer.
//! The ideal for the bridge's concurrency (`relay::batch`: 8 threads at a time, each thread's
//! events in order) is the number of waves times one thread's calls times the latency.

use std::ops::Range;
use std::time::Duration;

use anyhow::ensure;
use hitl_cli::sandbox_stack::{DEMO_AGENTS, SandboxStack};
use serde_json::json;

use crate::aws_timing_proxy;
use crate::flows;
use crate::meter::{Meter, Span};

pub const THREADS: usize = 10;
pub const EVENTS_PER_THREAD: usize = 10;
/// `relay::batch::THREADS_IN_PARALLEL`.
pub const THREADS_IN_PARALLEL: usize = 8;
/// `property_change` events' subscription in the simulated HubSpot.
const SUBSCRIPTION_ID: u64 = 1_870_311;

pub struct BatchResult {
    pub status: u16,
    pub span: Span,
    pub latency: Duration,
    /// Waves × calls per thread × latency.
    pub ideal: Duration,
    /// On the Lambda path: the same ideal with each thread's AWS calls at moto's unloaded
    /// time per call added, and moto's own floor, all of them served one after another.
    pub with_moto: Option<MotoBound>,
}

/// What moto alone makes the batch take: it answers one request at a time (one Python
/// process), so the ideal's waves also wait for its calls.
pub struct MotoBound {
    /// moto's mean unloaded time per call of the batch: each call at the median its operation
    /// took when answered alone during the batch's set-up (the same operations, one at a time).
    pub per_call: Duration,
    pub ideal: Duration,
    /// Every AWS call of the batch, one after another.
    pub serial: Duration,
}

/// `on_moto`: the bridge's AWS calls go to moto (the Lambda path), so its bounds are reported.
pub async fn run(
    stack: &SandboxStack,
    meter: &Meter<'_>,
    latency: Duration,
    on_moto: bool,
) -> anyhow::Result<BatchResult> {
    let set_up_from = meter.aws.handled_count();
    let mut threads = Vec::new();
    for n in 0..THREADS {
        let handoff = flows::open_handoff(stack, &format!("batch{n}@example.com")).await?;
        flows::assign(stack, &handoff, DEMO_AGENTS[0].0).await?;
        threads.push(handoff);
    }
    let config = stack.hubspot.config();
    let now = chrono_millis();
    let mut events = Vec::new();
    for k in 0..EVENTS_PER_THREAD {
        for (t, handoff) in threads.iter().enumerate() {
            // Alternate agents, so every event is a real change of assignee.
            let agent = DEMO_AGENTS[(k + 1) % 2].0;
            events.push(json!({
                "eventId": 9_000_000 + t * 100 + k,
                "subscriptionId": SUBSCRIPTION_ID,
                "portalId": config.portal_id,
                "appId": config.app_id,
                "occurredAt": now + k as i64,
                "subscriptionType": "conversation.propertyChange",
                "attemptNumber": 0,
                "objectId": handoff.thread_id.parse::<u64>().map(serde_json::Value::from)
                    .unwrap_or_else(|_| json!(handoff.thread_id)),
                "propertyName": "assignedTo",
                "propertyValue": agent,
                "changeSource": "AGENT",
            }));
        }
    }
    ensure!(events.len() == THREADS * EVENTS_PER_THREAD);
    let body = serde_json::Value::Array(events).to_string();
    stack.hubspot.faults().set_latency(latency);
    stack.botpress.set_latency(latency);
    let batch_from = meter.aws.handled_count();
    let mark = meter.mark();
    let delivery = stack
        .hubspot
        .deliver_raw(&stack.settings.hubspot_webhook_url(), body)
        .await;
    let span = meter.since(mark);
    stack.hubspot.faults().clear();
    stack.botpress.clear_faults();
    let delivery = delivery?;
    let calls = span.hubspot_calls + span.botpress_calls;
    let waves = THREADS.div_ceil(THREADS_IN_PARALLEL) as u32;
    let calls_per_thread = calls as f64 / THREADS as f64;
    let ideal = latency.mul_f64(calls_per_thread) * waves;
    let with_moto = if on_moto {
        moto_bound(meter, set_up_from..batch_from, ideal, waves)
    } else {
        None
    };
    Ok(BatchResult {
        status: delivery.status,
        span,
        latency,
        ideal,
        with_moto,
    })
}

/// The batch's AWS calls priced at moto's unloaded time per operation, measured on the set-up's
/// calls (the threads' handoffs and first assignments, made one at a time before the mark).
/// `set_up`: the indexes of the set-up's calls in the proxy's log; the batch's follow them.
fn moto_bound(
    meter: &Meter<'_>,
    set_up: Range<usize>,
    ideal: Duration,
    waves: u32,
) -> Option<MotoBound> {
    let calls = meter.aws.handled_since(set_up.start);
    let (set_up_calls, batch_calls) = calls.split_at(set_up.len());
    let unloaded = aws_timing_proxy::unloaded_by_operation(set_up_calls);
    let serial = aws_timing_proxy::unloaded_serial(batch_calls, &unloaded)?;
    let per_call = serial / batch_calls.len().max(1) as u32;
    let per_thread = serial / THREADS as u32;
    Some(MotoBound {
        per_call,
        ideal: ideal + per_thread * waves,
        serial,
    })
}

fn chrono_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}
