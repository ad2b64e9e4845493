//! `hitl-bench`: the measurements behind `scripts/bench`, printed as one table.
//!
//! Runs the three release function binaries under the Lambda Runtime API emulator against the
//! HubSpot and Botpress simulators and moto (the sandbox's Lambda path), plus a hello-world
//! `lambda_http` floor, and measures cold starts, warm relays, a latency-injected batch, the
//! calls per event and peak memory; then adds the zipped arm64 bootstrap sizes and the
//! criterion medians that `scripts/bench` produced before it. Targets are read from the output
//! (the last column), never asserted.

mod artifacts;
mod aws_timing_proxy;
mod batch;
mod cold;
mod flows;
mod meter;
mod stats;
mod table;
mod warm;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use hitl_cli::sandbox_stack::{BridgePath, DEMO_AGENTS, SandboxOptions, SandboxStack};
use hitl_sandbox::lambda::{FunctionSpec, HttpApiGateway, LambdaFunction, Route};

use crate::aws_timing_proxy::AwsTimingProxy;
use crate::cold::{Floor, Subject};
use crate::meter::{Meter, Span};
use crate::stats::{median, ms, percentile, ratio};
use crate::table::Table;

#[derive(Parser)]
#[command(about = "Benchmarks the bridge's Lambda functions; prints one table")]
struct Args {
    /// Folder with the release binaries (hubspot-webhook, botpress-outbound, token-refresher,
    /// hello-lambda).
    #[arg(long, default_value = "target/release")]
    binaries: PathBuf,
    /// The moto server the functions keep their state in.
    #[arg(long)]
    aws_endpoint: String,
    /// Cold starts per binary.
    #[arg(long, default_value_t = 20)]
    cold_rounds: usize,
    /// Warm user messages, and as many agent replies. A p99 of 500 rests on its 5 slowest
    /// samples rather than 2: steadier on a machine shared with moto and the simulators.
    #[arg(long, default_value_t = 500)]
    warm: usize,
    /// Where `cargo lambda build` put the arm64 bootstraps (`<fn>/bootstrap`).
    #[arg(long, default_value = "target/lambda")]
    lambda_dir: PathBuf,
    /// Criterion's output folder.
    #[arg(long, default_value = "target/criterion")]
    criterion_dir: PathBuf,
    /// Injected latency on every simulator call during the batch, in ms.
    #[arg(long, default_value_t = 20)]
    batch_latency_ms: u64,
    /// Also write every warm invocation's figures to this CSV file (one row per invocation,
    /// in the order they ran), to see how the relay overhead is spread behind its median and
    /// p99.
    #[arg(long)]
    warm_csv: Option<PathBuf>,
}

const FUNCTIONS: [&str; 3] = ["hubspot-webhook", "botpress-outbound", "token-refresher"];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let aws = AwsTimingProxy::start(&args.aws_endpoint).await?;
    let stack = SandboxStack::start(SandboxOptions {
        path: BridgePath::Lambda {
            binaries: args.binaries.clone(),
            aws_endpoint: aws.url().to_string(),
            // One execution environment per function: every figure is that process's.
            concurrency: 1,
        },
        ..SandboxOptions::default()
    })
    .await
    .context("starting the sandbox on the Lambda path")?;
    stack.register().await?;
    let deployment = stack.lambda.as_ref().context("Lambda path")?;
    let meter = Meter {
        hubspot: stack.hubspot.recorder(),
        botpress: stack.botpress.recorder(),
        aws: &aws,
        functions: vec![&deployment.hubspot_webhook, &deployment.botpress_outbound],
    };

    let hello = Arc::new(
        LambdaFunction::start(FunctionSpec {
            name: "hello-lambda".to_string(),
            binary: args.binaries.join("hello-lambda"),
            env: vec![("RUST_LOG".to_string(), "info".to_string())],
            timeout: Duration::from_secs(5),
            concurrency: 1,
        })
        .await?,
    );
    let hello_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hello_api = HttpApiGateway::serve(
        hello_listener,
        vec![Route {
            method: "GET",
            path: "/hello",
            function: Arc::clone(&hello),
        }],
    )?;
    let floor = Floor {
        function: &hello,
        url: format!("{}/hello", hello_api.base_url()),
        client: reqwest::Client::new(),
    };

    eprintln!("bench: warming up (a handoff, its assignment)…");
    let handoff = flows::open_handoff(&stack, "bench@example.com").await?;
    flows::assign(&stack, &handoff, DEMO_AGENTS[0].0).await?;
    flows::user_message(&stack, &handoff, "warm-up").await?;
    flows::agent_reply(&stack, &handoff, DEMO_AGENTS[0].0, "warm-up").await?;

    eprintln!("bench: {} cold starts of each binary…", args.cold_rounds);
    let cold = cold::run(&stack, &meter, &handoff, &floor, args.cold_rounds).await?;

    eprintln!("bench: {} warm user messages and agent replies…", args.warm);
    let cpu_before = (
        warm::cpu_time(deployment.botpress_outbound.pid()),
        warm::cpu_time(deployment.hubspot_webhook.pid()),
    );
    let (user_messages, agent_replies) = warm::relays(&stack, &meter, &handoff, args.warm).await?;
    if let Some(path) = &args.warm_csv {
        warm::write_csv(path, &user_messages, &agent_replies)?;
    }
    let cpu_per_invocation = |before: Option<Duration>, after: Option<Duration>| {
        before
            .zip(after)
            .map(|(before, after)| (after.saturating_sub(before)) / args.warm.max(1) as u32)
    };
    let cpu = (
        cpu_per_invocation(
            cpu_before.0,
            warm::cpu_time(deployment.botpress_outbound.pid()),
        ),
        cpu_per_invocation(
            cpu_before.1,
            warm::cpu_time(deployment.hubspot_webhook.pid()),
        ),
    );
    let floor_requests = warm::floor_requests(&floor, args.warm).await?;
    let rss: Vec<(String, Option<u64>)> = [
        ("hubspot-webhook", deployment.hubspot_webhook.pid()),
        ("botpress-outbound", deployment.botpress_outbound.pid()),
        ("token-refresher", deployment.token_refresher.pid()),
        ("hello-lambda (floor)", hello.pid()),
    ]
    .into_iter()
    .map(|(name, pid)| (name.to_string(), warm::peak_rss_kb(pid)))
    .collect();

    eprintln!("bench: handoff life cycles (calls per event)…");
    let life = warm::life_cycles(&stack, &meter, 6).await?;

    eprintln!("bench: a 100-event batch with injected latency…");
    let latency = Duration::from_millis(args.batch_latency_ms);
    let batch = batch::run(&stack, &meter, latency, true).await?;
    eprintln!("bench: the same batch against the bridge in process (SQLite, no moto)…");
    let local = SandboxStack::start(SandboxOptions::default()).await?;
    local.register().await?;
    let local_meter = Meter {
        hubspot: local.hubspot.recorder(),
        botpress: local.botpress.recorder(),
        aws: &aws,
        functions: Vec::new(),
    };
    let local_batch = batch::run(&local, &local_meter, latency, false).await?;

    let mut table = Table::default();
    cold_rows(&mut table, &cold);
    let floor_median = median(&floor_requests);
    table.row(
        "warm",
        &format!(
            "hello-lambda (floor) GET through the emulated HTTP API + Runtime API, median / p99 of {}",
            floor_requests.len()
        ),
        format!("{} / {}", ms(floor_median), ms(percentile(&floor_requests, 99.0))),
        "the emulation's own cost, inside every overhead below",
        None,
    );
    warm_rows(
        &mut table,
        "user message (botpress-outbound)",
        &user_messages,
    );
    warm_rows(&mut table, "agent reply (hubspot-webhook)", &agent_replies);
    for (what, time) in [
        (
            "botpress-outbound CPU (user + system) per warm user message",
            cpu.0,
        ),
        (
            "hubspot-webhook CPU (user + system) per warm agent reply",
            cpu.1,
        ),
    ] {
        table.row(
            "warm",
            what,
            time.map_or("unknown".to_string(), ms),
            "mean over the warm run, from /proc/<pid>/stat",
            None,
        );
    }
    batch_rows(&mut table, "Lambda + moto", &batch);
    batch_rows(&mut table, "in process, SQLite", &local_batch);
    call_rows(&mut table, &user_messages, &agent_replies, &life);
    for (name, kb) in rss {
        table.row(
            "memory",
            &format!("peak RSS {name}"),
            kb.map_or("unknown".to_string(), |kb| {
                format!("{:.1} MB", kb as f64 / 1024.0)
            }),
            "≤ 32 MB",
            kb.map(|kb| kb <= 32 * 1024),
        );
    }
    size_rows(&mut table, &args);
    cpu_rows(&mut table, &args);
    println!();
    println!(
        "hitl-bench: {} cold starts per binary, {} warm relays each way, on {} ({} cores, load average {}); {:.0} s",
        args.cold_rounds,
        args.warm,
        std::env::consts::ARCH,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        started.elapsed().as_secs_f64()
    );
    println!();
    table.print();
    Ok(())
}

fn cold_rows(table: &mut Table, cold: &std::collections::BTreeMap<Subject, Vec<cold::ColdStart>>) {
    let medians = |subject: Subject| {
        let samples = cold.get(&subject).cloned().unwrap_or_default();
        let init: Vec<Duration> = samples.iter().map(|s| s.init).collect();
        let request: Vec<Duration> = samples.iter().map(|s| s.cold_request).collect();
        let first: Vec<Duration> = samples
            .iter()
            .map(|s| s.cold_request.saturating_sub(s.init))
            .collect();
        let own: Vec<Duration> = samples
            .iter()
            .map(|s| s.cold_request.saturating_sub(s.simulators))
            .collect();
        (
            median(&init),
            median(&request),
            median(&first),
            median(&own),
            samples.len(),
        )
    };
    let (floor_init, floor_request, _, floor_own, _) = medians(Subject::Hello);
    for subject in Subject::ALL {
        let (init, request, first, own, count) = medians(subject);
        let is_floor = subject == Subject::Hello;
        table.row(
            "cold start",
            &format!("{} init (median of {count})", subject.name()),
            ms(init),
            &if is_floor {
                "floor".to_string()
            } else {
                format!("{:.2}× floor", ratio(init, floor_init))
            },
            None,
        );
        table.row(
            "cold start",
            &format!("{} cold request: {}", subject.name(), subject.first_event()),
            ms(request),
            &if is_floor {
                "floor".to_string()
            } else {
                format!("{:.2}× floor; ≤ 2×", ratio(request, floor_request))
            },
            (!is_floor).then(|| ratio(request, floor_request) <= 2.0),
        );
        table.row(
            "cold start",
            &format!("{} cold request less simulator + moto time", subject.name()),
            ms(own),
            &if is_floor {
                "floor".to_string()
            } else {
                format!("{:.2}× floor", ratio(own, floor_own))
            },
            None,
        );
        table.row(
            "cold start",
            &format!("{} first invocation (after init)", subject.name()),
            ms(first),
            "",
            None,
        );
        if !is_floor {
            table.row(
                "cold start",
                &format!(
                    "{} cold request's calls: AWS / HubSpot / Botpress (median)",
                    subject.name()
                ),
                cold_calls(cold.get(&subject).map(Vec::as_slice).unwrap_or_default()),
                "init's Secrets Manager read included",
                None,
            );
        }
    }
}

/// The median count of each kind of call over the cold starts.
fn cold_calls(samples: &[cold::ColdStart]) -> String {
    let median_of = |kind: usize| {
        let mut counts: Vec<usize> = samples.iter().map(|s| s.calls[kind]).collect();
        counts.sort_unstable();
        counts.get(counts.len() / 2).copied().unwrap_or_default()
    };
    format!("{} / {} / {}", median_of(0), median_of(1), median_of(2))
}

fn warm_rows(table: &mut Table, what: &str, spans: &[Span]) {
    let elapsed: Vec<Duration> = spans.iter().map(|s| s.elapsed).collect();
    let overhead: Vec<Duration> = spans.iter().map(Span::overhead).collect();
    let simulators: Vec<Duration> = spans.iter().map(|s| s.simulators).collect();
    table.row(
        "warm",
        &format!("{what}, end to end, median / p99 of {}", spans.len()),
        format!(
            "{} / {}",
            ms(median(&elapsed)),
            ms(percentile(&elapsed, 99.0))
        ),
        "",
        None,
    );
    table.row(
        "warm",
        &format!("{what}, in simulators + moto, median / p99"),
        format!(
            "{} / {}",
            ms(median(&simulators)),
            ms(percentile(&simulators, 99.0))
        ),
        "",
        None,
    );
    table.row(
        "warm",
        &format!("{what}, end to end less simulators + moto, median / p99"),
        format!(
            "{} / {}",
            ms(median(&overhead)),
            ms(percentile(&overhead, 99.0))
        ),
        "the bridge + the emulated API Gateway and Runtime API round trips (floor's warm GET)",
        None,
    );
    let bridge: Vec<Duration> = spans.iter().map(Span::bridge_time).collect();
    let p99 = percentile(&bridge, 99.0);
    table.row(
        "warm",
        &format!("{what}, relay overhead: Lambda Duration less simulators + moto, median / p99"),
        format!("{} / {}", ms(median(&bridge)), ms(p99)),
        "p99 ≤ 2 ms",
        Some(p99 <= Duration::from_millis(2)),
    );
}

fn batch_rows(table: &mut Table, path: &str, batch: &batch::BatchResult) {
    let wall = batch.span.elapsed;
    let times = ratio(wall, batch.ideal);
    table.row(
        "batch",
        &format!(
            "{path}: 100 events / {} threads, {} ms on every simulator call: wall time (answered {})",
            batch::THREADS,
            batch.latency.as_millis(),
            batch.status
        ),
        ms(wall),
        "well inside 5 s",
        Some(batch.status == 200 && wall < Duration::from_millis(2_500)),
    );
    table.row(
        "batch",
        &format!(
            "{path}: ideal at {} threads in parallel ({} HubSpot + {} Botpress + {} AWS calls, {} in simulators + moto, added up)",
            batch::THREADS_IN_PARALLEL,
            batch.span.hubspot_calls,
            batch.span.botpress_calls,
            batch.span.aws_calls,
            ms(batch.span.simulators_summed)
        ),
        ms(batch.ideal),
        &format!("{times:.2}× ideal; ≤ 1.5×"),
        Some(times <= 1.5),
    );
    if let Some(moto) = &batch.with_moto {
        table.row(
            "batch",
            &format!(
                "{path}: that ideal with each thread's AWS calls at moto's unloaded time, {} per call (each operation's median answered alone in the set-up)",
                ms(moto.per_call)
            ),
            ms(moto.ideal),
            &format!("{:.2}× this ideal", ratio(wall, moto.ideal)),
            None,
        );
        table.row(
            "batch",
            &format!(
                "{path}: moto's own floor, its {} calls answered one at a time",
                batch.span.aws_calls
            ),
            ms(moto.serial),
            &format!("{:.2}× this floor", ratio(wall, moto.serial)),
            None,
        );
    }
}

fn call_rows(table: &mut Table, user: &[Span], agent: &[Span], life: &warm::LifeCycle) {
    let rows: [(&str, &[Span], Option<usize>); 6] = [
        ("user message", user, Some(1)),
        ("agent reply (incl. SENT status)", agent, Some(2)),
        ("assignment", &life.assign, Some(1)),
        ("close by the agent (hitlStopped)", &life.agent_close, None),
        ("stop by the bot (stopHitl)", &life.bot_stop, None),
        ("handoff start (createUser + startHitl)", &life.open, None),
    ];
    for (what, spans, hubspot_target) in rows {
        if spans.is_empty() {
            continue;
        }
        let steady = if spans.len() > 1 { &spans[1..] } else { spans };
        let per = |count: fn(&Span) -> usize, spans: &[Span]| {
            spans.iter().map(count).sum::<usize>() as f64 / spans.len() as f64
        };
        let hubspot = per(|s| s.hubspot_calls, steady);
        let first_hubspot = spans[0].hubspot_calls;
        table.row(
            "calls",
            &format!("per {what}: HubSpot / Botpress / AWS (steady; first)"),
            format!(
                "{hubspot:.1} / {:.1} / {:.1} ({first_hubspot} / {} / {})",
                per(|s| s.botpress_calls, steady),
                per(|s| s.aws_calls, steady),
                spans[0].botpress_calls,
                spans[0].aws_calls
            ),
            &hubspot_target.map_or("hosted integration: 3 per assignment".to_string(), |t| {
                format!("≤ {t} HubSpot")
            }),
            hubspot_target.map(|t| hubspot <= t as f64),
        );
    }
}

fn size_rows(table: &mut Table, args: &Args) {
    for name in FUNCTIONS.iter().copied().chain(["hello-lambda"]) {
        let bootstrap = args.lambda_dir.join(name).join("bootstrap");
        let (value, verdict) = match artifacts::zipped_size(&bootstrap) {
            Ok(bytes) => (
                format!(
                    "{:.2} MB zipped ({:.2} MB unzipped)",
                    bytes as f64 / 1e6,
                    std::fs::metadata(&bootstrap).map_or(0.0, |m| m.len() as f64 / 1e6)
                ),
                Some(bytes <= 4_000_000),
            ),
            Err(error) => (format!("not measured: {error}"), None),
        };
        table.row(
            "size",
            &format!("{name} arm64 bootstrap"),
            value,
            "≤ 4 MB",
            verdict,
        );
    }
}

fn cpu_rows(table: &mut Table, args: &Args) {
    const CRITERION: &str = "criterion median";
    for (id, what, against) in [
        (
            "signature_verify_v3",
            "HubSpot signature v3 check (1 event body)",
            CRITERION,
        ),
        (
            "read_hubspot_delivery_100",
            "HubSpot webhook parse (100-event batch)",
            CRITERION,
        ),
        (
            "read_hubspot_delivery_1",
            "HubSpot webhook parse (1 event)",
            CRITERION,
        ),
        (
            "read_botpress_call_message",
            "Botpress message_created parse",
            CRITERION,
        ),
        (
            "read_botpress_call_start_hitl",
            "Botpress startHitl parse",
            CRITERION,
        ),
        (
            "sdk_dynamodb_get_item",
            "AWS SDK: one DynamoDB GetItem, answered at once in memory",
            "criterion median; the SDK's own work per call (signing, interceptors, (de)serialisation), 3 per warm relay",
        ),
    ] {
        let value = artifacts::criterion_median_ns(&args.criterion_dir, id)
            .map_or("not run (cargo bench -p hitl-bridge)".to_string(), |ns| {
                format!("{:.2} µs", ns / 1e3)
            });
        table.row("cpu", what, value, against, None);
    }
}
