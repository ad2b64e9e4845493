//! Warm relays, the calls each kind of event costs, and the functions' memory.

use std::time::Duration;

use hitl_cli::sandbox_stack::{DEMO_AGENTS, SandboxStack};

use crate::cold::Floor;
use crate::flows::{self, Handoff};
use crate::meter::{Meter, Span};

/// `count` user messages and `count` agent replies through the warm functions, alternating,
/// each measured on its own.
pub async fn relays(
    stack: &SandboxStack,
    meter: &Meter<'_>,
    handoff: &Handoff,
    count: usize,
) -> anyhow::Result<(Vec<Span>, Vec<Span>)> {
    let (mut user_messages, mut agent_replies) = (Vec::new(), Vec::new());
    for n in 0..count {
        let mark = meter.mark();
        flows::user_message(stack, handoff, &format!("warm message {n}")).await?;
        user_messages.push(meter.since(mark));
        let mark = meter.mark();
        flows::agent_reply(stack, handoff, DEMO_AGENTS[0].0, &format!("warm reply {n}")).await?;
        agent_replies.push(meter.since(mark));
    }
    Ok((user_messages, agent_replies))
}

/// Every warm invocation's figures in microseconds, one CSV row each, in the order they ran:
/// end to end, Lambda's `Duration`, the simulators' and moto's time, and the relay overhead
/// (the table's target row: `Duration` less the simulators' and moto's time).
pub fn write_csv(
    path: &std::path::Path,
    user_messages: &[Span],
    agent_replies: &[Span],
) -> anyhow::Result<()> {
    std::fs::write(path, csv(user_messages, agent_replies))
        .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", path.display()))
}

fn csv(user_messages: &[Span], agent_replies: &[Span]) -> String {
    let mut text = String::from(
        "kind,number,end_to_end_us,lambda_duration_us,simulators_and_moto_us,relay_overhead_us\n",
    );
    for (kind, spans) in [
        ("user message", user_messages),
        ("agent reply", agent_replies),
    ] {
        for (number, span) in spans.iter().enumerate() {
            text.push_str(&format!(
                "{kind},{number},{},{},{},{}\n",
                span.elapsed.as_micros(),
                span.in_function.as_micros(),
                span.simulators.as_micros(),
                span.bridge_time().as_micros()
            ));
        }
    }
    text
}

/// `count` warm requests to the hello-world floor through the same emulated HTTP API and
/// Runtime API: what the emulation itself costs per invocation.
pub async fn floor_requests(floor: &Floor<'_>, count: usize) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::new();
    for _ in 0..count {
        let started = std::time::Instant::now();
        let answer = floor.client.get(&floor.url).send().await?;
        anyhow::ensure!(
            answer.status().is_success(),
            "hello answered {}",
            answer.status()
        );
        answer.bytes().await?;
        times.push(started.elapsed());
    }
    Ok(times)
}

/// The calls of a whole handoff's life, per kind of event, over `handoffs` fresh handoffs: the
/// first shows the cold caches (agent lookups), the rest the steady state.
#[derive(Debug, Default)]
pub struct LifeCycle {
    pub open: Vec<Span>,
    pub assign: Vec<Span>,
    pub agent_close: Vec<Span>,
    pub bot_stop: Vec<Span>,
}

pub async fn life_cycles(
    stack: &SandboxStack,
    meter: &Meter<'_>,
    handoffs: usize,
) -> anyhow::Result<LifeCycle> {
    let mut life = LifeCycle::default();
    for n in 0..handoffs {
        let mark = meter.mark();
        let handoff = flows::open_handoff(stack, &format!("lifecycle{n}@example.com")).await?;
        life.open.push(meter.since(mark));
        let mark = meter.mark();
        flows::assign(stack, &handoff, DEMO_AGENTS[1].0).await?;
        life.assign.push(meter.since(mark));
        let mark = meter.mark();
        if n % 2 == 0 {
            flows::close_by_agent(stack, &handoff).await?;
            life.agent_close.push(meter.since(mark));
        } else {
            flows::stop_by_bot(stack, &handoff).await?;
            life.bot_stop.push(meter.since(mark));
            // HubSpot then tells the bridge the thread closed: let that settle outside the spans.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    Ok(life)
}

/// The peak resident set of a process (`VmHWM`), in kB.
pub fn peak_rss_kb(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`, at the
/// kernel's 100 ticks per second.
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid?)).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3, the state.
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index)?.parse::<u64>().ok();
    Some(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_has_a_row_per_invocation_with_its_relay_overhead() {
        let span = |elapsed, in_function, simulators| Span {
            elapsed: Duration::from_micros(elapsed),
            in_function: Duration::from_micros(in_function),
            simulators: Duration::from_micros(simulators),
            ..Span::default()
        };
        let text = csv(
            &[span(25_000, 22_000, 20_000), span(30_000, 27_500, 25_000)],
            &[span(60_000, 57_000, 54_000)],
        );
        assert_eq!(
            text,
            "kind,number,end_to_end_us,lambda_duration_us,simulators_and_moto_us,relay_overhead_us\n\
             user message,0,25000,22000,20000,2000\n\
             user message,1,30000,27500,25000,2500\n\
             agent reply,0,60000,57000,54000,3000\n"
        );
    }
}
