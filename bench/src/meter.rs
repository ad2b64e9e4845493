//! Counts and times what the simulators answered between two moments: the HubSpot and Botpress
//! simulators time their own handling of each call (`RecordedCall::handled_in`), the AWS timing
//! proxy times moto's. Invocations run one at a time, so the calls recorded between a mark and
//! the end of an invocation are that invocation's.

use std::time::{Duration, Instant};

use hitl_sandbox::Recorder;

use crate::aws_timing_proxy::AwsTimingProxy;

pub struct Meter<'a> {
    pub hubspot: Recorder,
    pub botpress: Recorder,
    pub aws: &'a AwsTimingProxy,
}

#[derive(Clone, Copy)]
pub struct Mark {
    hubspot: usize,
    botpress: usize,
    aws: usize,
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
}

impl Span {
    /// The bridge's own share: the end-to-end time less the time the simulators and moto took.
    pub fn overhead(&self) -> Duration {
        self.elapsed.saturating_sub(self.simulators)
    }
}

impl Meter<'_> {
    pub fn mark(&self) -> Mark {
        Mark {
            hubspot: self.hubspot.len(),
            botpress: self.botpress.len(),
            aws: self.aws.handled().len(),
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
        Span {
            elapsed,
            hubspot_calls: hubspot.len(),
            botpress_calls: botpress.len(),
            aws_calls: aws.len(),
            simulators: hubspot.iter().chain(&botpress).chain(&aws).sum(),
        }
    }
}
