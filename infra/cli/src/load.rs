//! `hitl load`: a bounded load run against a bridge in a process of its own.
//!
//! This process plays HubSpot and Botpress (the simulators) and many senders at once; the
//! bridge under load is a separate `hitl serve` child process, over SQLite, reached on
//! loopback. Every sender writes numbered messages into its own thread and retries as the real
//! services do (until answered 200); at the end each thread must hold every message exactly
//! once, in order, on the other side. Bounded in time and in count; it stops by itself.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use hitl_sandbox::botpress::{BotpressCaller, BotpressSim, BotpressSimConfig, CallerIdentity};
use hitl_sandbox::handoff::open_handoff;
use hitl_sandbox::hubspot::{HubSpotSim, HubSpotSimConfig};
use tokio::process::Command;

use crate::sandbox_stack::{DEMO_AGENTS, SANDBOX_SHARED_SECRET, bridge_environment};

/// What to run.
pub struct LoadPlan {
    pub seconds: u64,
    /// Senders playing HubSpot (agents replying), one thread each.
    pub hubspot_senders: usize,
    /// Senders playing Botpress (customers writing), one thread each.
    pub botpress_senders: usize,
    /// A ceiling on the messages sent, whatever the time.
    pub max_messages: usize,
    /// The `hitl` binary to run as the bridge.
    pub bridge_binary: PathBuf,
}

/// A sender tries this often before its message counts as lost (HubSpot tries 10 times).
const ATTEMPTS: usize = 10;

struct Counters {
    sent: AtomicUsize,
    refused: AtomicUsize,
    failed: AtomicUsize,
}

/// Runs the plan and prints the table; an error if anything was lost, doubled or refused.
pub async fn run(plan: LoadPlan) -> anyhow::Result<()> {
    let hubspot = HubSpotSim::start(HubSpotSimConfig::default()).await?;
    let botpress = BotpressSim::start(BotpressSimConfig::default()).await?;
    for (actor_id, name, email) in DEMO_AGENTS {
        hubspot.add_agent(actor_id, name, email);
    }
    let port = hitl_sandbox::ports::port_for_a_child()?;
    let bridge_url = format!("http://127.0.0.1:{port}");
    let db = std::env::temp_dir().join(format!("hitl-load-{}.db", uuid::Uuid::new_v4().simple()));
    let environment = bridge_environment(
        &bridge_url,
        &hubspot,
        &botpress,
        (hubspot.base_url(), botpress.base_url()),
    );
    let mut bridge = Command::new(&plan.bridge_binary)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--db"])
        .arg(&db)
        .envs(
            environment
                .iter()
                .map(|(name, value)| (*name, value.as_str())),
        )
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting the bridge {}", plan.bridge_binary.display()))?;
    wait_until_healthy(&bridge_url).await?;
    hubspot.set_app_webhook_url(&format!("{bridge_url}/hubspot/webhook"));

    let caller = BotpressCaller::new(
        &format!("{bridge_url}/botpress"),
        CallerIdentity {
            bot_id: botpress.config().bot_id.clone(),
            integration_id: "intver_load_hubspot_hitl_00000001".to_string(),
            integration_alias: "hubspot-hitl".to_string(),
            webhook_id: "wh_load_hubspot_hitl_0000000000001".to_string(),
            bot_user_id: "user_load_bot_00000000000000000001".to_string(),
        },
        SANDBOX_SHARED_SECRET,
    );
    ensure!(
        caller
            .register(&format!("{bridge_url}/unused"))
            .await
            .status
            == 200,
        "register failed"
    );
    let threads = plan.hubspot_senders.max(plan.botpress_senders);
    let mut handoffs = Vec::new();
    for n in 0..threads {
        let email = format!("load{n}@example.com");
        let name = format!("Load {n}");
        hubspot.add_contact(Some(&email), None, &name);
        let opened = open_handoff(&caller, &hubspot, (&name, &email), Some("Load test"), None)
            .await
            .map_err(anyhow::Error::msg)?;
        let assigned = hubspot
            .assign(&opened.thread_id, DEMO_AGENTS[n % DEMO_AGENTS.len()].0)
            .await?;
        ensure!(
            assigned.status == 200,
            "assignment: {}",
            assigned.response_body
        );
        handoffs.push((opened.user_id, opened.conversation_id, opened.thread_id));
    }

    let counters = Arc::new(Counters {
        sent: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
    });
    let deadline = Instant::now() + Duration::from_secs(plan.seconds);
    let started = Instant::now();
    let mut senders = Vec::new();
    for (n, (user_id, conversation_id, _)) in
        handoffs.iter().enumerate().take(plan.botpress_senders)
    {
        let (caller, counters) = (caller.clone(), Arc::clone(&counters));
        let (user_id, conversation_id, max) =
            (user_id.clone(), conversation_id.clone(), plan.max_messages);
        senders.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            while Instant::now() < deadline && counters.sent.fetch_add(1, Ordering::Relaxed) < max {
                let text = format!("customer {n} #{}", sent.len());
                let (id, mut answer) = caller.user_message(&conversation_id, &user_id, &text).await;
                for _ in 1..ATTEMPTS {
                    if answer.status == 200 {
                        break;
                    }
                    counters.refused.fetch_add(1, Ordering::Relaxed);
                    answer = caller
                        .user_message_with_id(&id, &conversation_id, &user_id, &text)
                        .await;
                }
                if answer.status != 200 {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                }
                sent.push(text);
            }
            (n, "customer", sent)
        }));
    }
    for (n, (_, _, thread_id)) in handoffs.iter().enumerate().take(plan.hubspot_senders) {
        let (hubspot, counters) = (hubspot.clone(), Arc::clone(&counters));
        let (thread_id, max) = (thread_id.clone(), plan.max_messages);
        senders.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            while Instant::now() < deadline && counters.sent.fetch_add(1, Ordering::Relaxed) < max {
                let text = format!("agent {n} #{}", sent.len());
                let actor = DEMO_AGENTS[n % DEMO_AGENTS.len()].0;
                let mut delivery = match hubspot.agent_reply(&thread_id, actor, &text).await {
                    Ok(delivery) => delivery,
                    Err(_) => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                };
                for _ in 1..ATTEMPTS {
                    if delivery.status == 200 {
                        break;
                    }
                    counters.refused.fetch_add(1, Ordering::Relaxed);
                    match hubspot.redeliver(&delivery).await {
                        Ok(next) => delivery = next,
                        Err(_) => continue,
                    }
                }
                if delivery.status != 200 {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                }
                sent.push(text);
            }
            (n, "agent", sent)
        }));
    }
    let mut written = Vec::new();
    for sender in senders {
        written.push(sender.await.context("a sender panicked")?);
    }
    let elapsed = started.elapsed();

    let (mut sent, mut delivered, mut duplicated, mut lost, mut out_of_order) = (0, 0, 0, 0, 0);
    for (n, side, texts) in &written {
        let (_, conversation_id, thread_id) = &handoffs[*n];
        let arrived: Vec<String> = if *side == "customer" {
            hubspot
                .thread(thread_id)
                .context("thread gone")?
                .messages
                .iter()
                .filter(|m| m.direction == "INCOMING" && m.text.starts_with("customer "))
                .map(|m| m.text.clone())
                .collect()
        } else {
            botpress
                .messages_in(conversation_id)
                .iter()
                .filter_map(|m| m["payload"]["text"].as_str().map(str::to_string))
                .collect()
        };
        sent += texts.len();
        for text in texts {
            match arrived.iter().filter(|a| *a == text).count() {
                0 => lost += 1,
                copies => {
                    delivered += 1;
                    duplicated += copies - 1;
                }
            }
        }
        // The first arrival of each message must follow the order they were written in.
        let mut seen = std::collections::HashSet::new();
        let firsts: Vec<&String> = arrived.iter().filter(|text| seen.insert(*text)).collect();
        let expected: Vec<&String> = texts.iter().filter(|text| arrived.contains(text)).collect();
        if firsts != expected {
            out_of_order += 1;
        }
    }
    let _ = bridge.kill().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let refused = counters.refused.load(Ordering::Relaxed);
    let failed = counters.failed.load(Ordering::Relaxed);
    println!(
        "load: {} HubSpot senders + {} Botpress senders for {:.1} s against a bridge process on loopback",
        plan.hubspot_senders,
        plan.botpress_senders,
        elapsed.as_secs_f64()
    );
    println!(
        "  sent {sent} / delivered {delivered} / duplicated {duplicated} / lost {lost} / out of order {out_of_order}"
    );
    println!("  answers other than 200: {refused} (retried), gave up: {failed}");
    println!(
        "  throughput: {:.0} messages/s relayed",
        delivered as f64 / elapsed.as_secs_f64()
    );
    ensure!(
        delivered == sent
            && duplicated == 0
            && lost == 0
            && out_of_order == 0
            && refused == 0
            && failed == 0,
        "the load run lost, doubled, reordered or refused messages"
    );
    Ok(())
}

async fn wait_until_healthy(bridge_url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(response) = client.get(format!("{bridge_url}/healthz")).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the bridge at {bridge_url} did not come up")
}
