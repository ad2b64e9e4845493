//! Fault injection: make the next few calls under a path fail.
//!
//! Botpress does fail now and then (rate limits, 5xx during deploys); a test arms a fault to check the
//! bridge retries, or reports, instead of losing an agent's reply or a `hitlStopped` event.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

/// How long a test waits for a held call to arrive before failing, instead of hanging.
const ARRIVAL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One armed fault: the next `remaining` calls whose path starts with `path_prefix` answer `status`.
#[derive(Debug, Clone)]
struct Fault {
    path_prefix: String,
    status: u16,
    remaining: usize,
}

/// The faults armed on a simulator, consumed in the order they were armed.
#[derive(Debug, Default)]
pub struct Faults {
    armed: Vec<Fault>,
    /// Every call waits this long before it is answered (a slow Botpress).
    latency: std::time::Duration,
    /// Calls to hold until the test releases them, by path prefix, in the order armed.
    holds: Vec<(String, Gate)>,
    /// Calls carried out, whose answers are held until the test releases them.
    answer_holds: Vec<(String, Gate)>,
}

/// The two signals between a held call and the test holding it: whether the call has arrived
/// (kept, so every wait for it sees it), and its release (a permit, kept if given first).
#[derive(Debug, Clone)]
pub struct Gate {
    arrived: Arc<watch::Sender<bool>>,
    released: Arc<Notify>,
}

impl Gate {
    fn new() -> Self {
        Self {
            arrived: Arc::new(watch::Sender::new(false)),
            released: Arc::new(Notify::new()),
        }
    }

    /// Run by the held call: says it has arrived, then waits for its release.
    pub async fn pass(&self) {
        self.arrived.send_replace(true);
        self.released.notified().await;
    }
}

/// A test's hold on the next call under a path: the call waits, unanswered, until this is
/// released or dropped. Lets a test put a call exactly "in flight" while something else
/// happens, where a latency could only make that likely.
#[derive(Debug)]
pub struct HeldCall {
    gate: Gate,
}

impl HeldCall {
    /// Returns once the held call has arrived (at once if it already has). Panics when it
    /// has not within 10 s, so a test whose call never comes fails instead of hanging.
    pub async fn arrived(&self) {
        let mut arrived = self.gate.arrived.subscribe();
        tokio::time::timeout(ARRIVAL_WAIT, arrived.wait_for(|arrived| *arrived))
            .await
            .expect("the held call arrived within 10 s")
            .expect("the hold's gate is alive");
    }

    /// Lets the held call be answered.
    pub fn release(self) {}
}

impl Drop for HeldCall {
    fn drop(&mut self) {
        self.gate.released.notify_one();
    }
}

/// Removes and returns the gate of the first hold whose prefix `path` starts with.
fn take_first(holds: &mut Vec<(String, Gate)>, path: &str) -> Option<Gate> {
    let index = holds
        .iter()
        .position(|(prefix, _)| path.starts_with(prefix.as_str()))?;
    Some(holds.remove(index).1)
}

impl Faults {
    pub fn arm(&mut self, path_prefix: &str, status: u16, count: usize) {
        if count == 0 {
            return;
        }
        self.armed.push(Fault {
            path_prefix: path_prefix.to_string(),
            status,
            remaining: count,
        });
    }

    pub fn clear(&mut self) {
        self.armed.clear();
        self.holds.clear();
        self.answer_holds.clear();
        self.latency = std::time::Duration::ZERO;
    }

    /// Holds the next call whose path starts with `path_prefix` until the returned hold is
    /// released or dropped.
    pub fn hold(&mut self, path_prefix: &str) -> HeldCall {
        let gate = Gate::new();
        self.holds.push((path_prefix.to_string(), gate.clone()));
        HeldCall { gate }
    }

    /// Carries out the next call whose path starts with `path_prefix`, then holds its answer
    /// until the returned hold is released or dropped: Botpress has acted, and the caller does
    /// not know it yet.
    pub fn hold_answer(&mut self, path_prefix: &str) -> HeldCall {
        let gate = Gate::new();
        self.answer_holds
            .push((path_prefix.to_string(), gate.clone()));
        HeldCall { gate }
    }

    /// The gate a call to `path` must pass, using up the first matching hold.
    pub fn take_hold(&mut self, path: &str) -> Option<Gate> {
        take_first(&mut self.holds, path)
    }

    /// The gate the answer to a call to `path` must pass, using up the first matching hold.
    pub fn take_answer_hold(&mut self, path: &str) -> Option<Gate> {
        take_first(&mut self.answer_holds, path)
    }

    pub fn set_latency(&mut self, latency: std::time::Duration) {
        self.latency = latency;
    }

    pub fn latency(&self) -> std::time::Duration {
        self.latency
    }

    /// The status to fail a call to `path` with, using up one shot of the first matching fault.
    pub fn take(&mut self, path: &str) -> Option<u16> {
        let index = self
            .armed
            .iter()
            .position(|fault| path.starts_with(&fault.path_prefix))?;
        let fault = &mut self.armed[index];
        let status = fault.status;
        fault.remaining -= 1;
        if fault.remaining == 0 {
            self.armed.remove(index);
        }
        Some(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_fires_count_times_then_disarms() {
        let mut faults = Faults::default();
        faults.arm("/v1/chat/messages", 503, 2);
        assert_eq!(faults.take("/v1/chat/users/get-or-create"), None);
        assert_eq!(faults.take("/v1/chat/messages"), Some(503));
        assert_eq!(faults.take("/v1/chat/messages/get-or-create"), Some(503));
        assert_eq!(faults.take("/v1/chat/messages"), None);
    }

    #[test]
    fn faults_fire_in_the_order_they_were_armed() {
        let mut faults = Faults::default();
        faults.arm("/v1/chat", 429, 1);
        faults.arm("/v1/chat/events", 500, 1);
        faults.arm("/v1/chat/events", 400, 0);
        assert_eq!(faults.take("/v1/chat/events"), Some(429));
        assert_eq!(faults.take("/v1/chat/events"), Some(500));
        assert_eq!(faults.take("/v1/chat/events"), None);
    }

    #[tokio::test]
    async fn a_held_call_waits_until_released_and_holds_only_once() {
        let mut faults = Faults::default();
        let held = faults.hold("/v1/chat/messages");
        assert!(faults.take_hold("/v1/chat/events").is_none());
        let gate = faults.take_hold("/v1/chat/messages/get-or-create").unwrap();
        assert!(faults.take_hold("/v1/chat/messages").is_none());
        let call = tokio::spawn(async move { gate.pass().await });
        held.arrived().await;
        held.arrived().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!call.is_finished(), "the call passed before its release");
        held.release();
        tokio::time::timeout(std::time::Duration::from_secs(5), call)
            .await
            .expect("the released call passes")
            .unwrap();
    }
}
