//! Counts and times what the simulators answered between two moments: the HubSpot and Botpress
//! simulators time their own handling of each call (`RecordedCall::handled_in`), the AWS timing
//! proxy times moto's, and the Runtime API emulator times each invocation as Lambda does
//! (`Duration`: event handed to the function → its answer). Invocations run one at a time, so
//! the calls and invocations recorded between a mark and the end of an action are that
//! action's.

use std::time::{Duration, Instant};

use hitl_sandbox::Recorder;
use hitl_sandbox::lambda::LambdaFunction;

use crate::aws_timing_proxy::AwsTimingProxy;

pub struct Meter<'a> {
    pub hubspot: Recorder,
    pub botpress: Recorder,
    pub aws: &'a AwsTimingProxy,
    /// The functions whose invocations are timed (none for the bridge in process).
    pub functions: Vec<&'a LambdaFunction>,
}

#[derive(Clone)]
pub struct Mark {
    hubspot: usize,
    botpress: usize,
    aws: usize,
    invocations: Vec<usize>,
    at: Instant,
}

/// What one measured action cost.
#[derive(Clone, Copy, Debug, Default)]
pub struct Span {
    pub elapsed: Duration,
    pub hubspot_calls: usize,
    pub botpress_calls: usize,
    pub aws_calls: usize,
    /// Time during which the simulators or moto were answering the bridge: the union of their
    /// calls' intervals, so two calls the bridge makes at once count once.
    pub simulators: Duration,
    /// The simulators' and moto's times added up, overlaps counted twice: the work they did.
    pub simulators_summed: Duration,
    /// Lambda's `Duration` of the invocations the action caused, summed.
    pub in_function: Duration,
}

impl Span {
    /// The end-to-end time less the time the simulators and moto took: the bridge's own work
    /// plus the emulated API Gateway's and Runtime API's round trips to it.
    pub fn overhead(&self) -> Duration {
        self.elapsed.saturating_sub(self.simulators)
    }

    /// The bridge's own time: what the function took (Lambda's `Duration`) less the time the
    /// simulators and moto took answering it.
    pub fn bridge_time(&self) -> Duration {
        self.in_function.saturating_sub(self.simulators)
    }
}

impl Meter<'_> {
    pub fn mark(&self) -> Mark {
        Mark {
            hubspot: self.hubspot.len(),
            botpress: self.botpress.len(),
            aws: self.aws.handled_count(),
            invocations: self
                .functions
                .iter()
                .map(|function| function.durations().len())
                .collect(),
            at: Instant::now(),
        }
    }

    pub fn since(&self, mark: Mark) -> Span {
        let elapsed = mark.at.elapsed();
        let simulated = |recorder: &Recorder, seen: usize| -> Vec<(Instant, Duration)> {
            recorder
                .calls_since(seen)
                .iter()
                .map(|call| (call.arrived, call.handled_in))
                .collect()
        };
        let hubspot = simulated(&self.hubspot, mark.hubspot);
        let botpress = simulated(&self.botpress, mark.botpress);
        let aws: Vec<(Instant, Duration)> = self
            .aws
            .handled_since(mark.aws)
            .iter()
            .map(|call| (call.arrived, call.took))
            .collect();
        let in_function = self
            .functions
            .iter()
            .zip(&mark.invocations)
            .flat_map(|(function, seen)| function.durations().into_iter().skip(*seen))
            .sum();
        let all: Vec<(Instant, Duration)> = [&hubspot[..], &botpress[..], &aws[..]].concat();
        Span {
            elapsed,
            hubspot_calls: hubspot.len(),
            botpress_calls: botpress.len(),
            aws_calls: aws.len(),
            simulators: covered(&all),
            simulators_summed: all.iter().map(|(_, took)| *took).sum(),
            in_function,
        }
    }
}

/// How much time the intervals `[start, start + length)` cover together.
fn covered(intervals: &[(Instant, Duration)]) -> Duration {
    let mut spans: Vec<(Instant, Instant)> = intervals
        .iter()
        .map(|(start, length)| (*start, *start + *length))
        .collect();
    spans.sort();
    let mut total = Duration::ZERO;
    let mut current: Option<(Instant, Instant)> = None;
    for (start, end) in spans {
        current = match current {
            Some((open, close)) if start <= close => Some((open, close.max(end))),
            Some((open, close)) => {
                total += close - open;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    total + current.map_or(Duration::ZERO, |(open, close)| close - open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_calls_count_once_and_separate_ones_add_up() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(covered(&[]), Duration::ZERO);
        // 0–10 and 5–12 overlap (12 ms), 20–23 stands alone, 21–22 lies inside it.
        let calls = [
            (t0 + ms(20), ms(3)),
            (t0, ms(10)),
            (t0 + ms(5), ms(7)),
            (t0 + ms(21), ms(1)),
        ];
        assert_eq!(covered(&calls), ms(15));
        // Calls one after another (the sequential flows): the plain sum.
        assert_eq!(covered(&[(t0, ms(4)), (t0 + ms(4), ms(2))]), ms(6));
    }
}
