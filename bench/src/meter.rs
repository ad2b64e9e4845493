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
    /// Time spent inside the simulators and moto, answering the bridge.
    pub simulators: Duration,
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
            aws: self.aws.handled().len(),
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
        let hubspot: Vec<Duration> = self.hubspot.calls()[mark.hubspot..]
            .iter()
            .map(|call| call.handled_in)
            .collect();
        let botpress: Vec<Duration> = self.botpress.calls()[mark.botpress..]
            .iter()
            .map(|call| call.handled_in)
            .collect();
        let aws = self.aws.handled()[mark.aws..].to_vec();
        let in_function = self
            .functions
            .iter()
            .zip(&mark.invocations)
            .flat_map(|(function, seen)| function.durations().into_iter().skip(*seen))
            .sum();
        Span {
            elapsed,
            hubspot_calls: hubspot.len(),
            botpress_calls: botpress.len(),
            aws_calls: aws.len(),
            simulators: hubspot.iter().chain(&botpress).chain(&aws).sum(),
            in_function,
        }
    }
}
