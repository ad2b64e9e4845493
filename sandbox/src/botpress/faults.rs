//! Fault injection: make the next few calls under a path fail.
//!
//! Botpress does fail now and then (rate limits, 5xx during deploys); a test arms a fault to check the
//! bridge retries, or reports, instead of losing an agent's reply or a `hitlStopped` event.

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
        self.latency = std::time::Duration::ZERO;
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
}
