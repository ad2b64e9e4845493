//! Fault injection for a simulator: rate limits, server errors and latency on chosen paths,
//! the next N calls or a seeded share of them. Tests arm faults to check that the bridge
//! retries, backs off, honours `Retry-After`, and never loses or doubles a message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::json;

/// One kind of failure.
#[derive(Clone, Debug)]
pub struct Failure {
    pub status: u16,
    /// Seconds for a `Retry-After` header (429s from HubSpot usually carry one).
    pub retry_after: Option<u32>,
}

#[derive(Clone, Debug)]
enum Rule {
    Next {
        prefix: String,
        failure: Failure,
        remaining: usize,
        /// The call is carried out first, and only its answer is the failure: what a
        /// service does when it fails (or its answer is lost) after acting.
        after_applying: bool,
    },
    Ratio {
        prefix: String,
        failure: Failure,
        ratio: f64,
    },
}

#[derive(Debug)]
struct Plan {
    rules: Vec<Rule>,
    latency: Duration,
    rng: StdRng,
    injected: usize,
}

/// The faults armed on one simulator. Cheap to clone; clones share the plan.
#[derive(Clone, Debug)]
pub struct FaultPlan {
    plan: Arc<Mutex<Plan>>,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self::seeded(7)
    }
}

impl FaultPlan {
    /// A plan whose ratios draw from a fixed seed, so a run can be repeated exactly.
    pub fn seeded(seed: u64) -> Self {
        Self {
            plan: Arc::new(Mutex::new(Plan {
                rules: Vec::new(),
                latency: Duration::ZERO,
                rng: StdRng::seed_from_u64(seed),
                injected: 0,
            })),
        }
    }

    /// The next `count` calls under `prefix` fail (a `prefix` ending in `$`: that path only).
    pub fn fail_next(&self, prefix: &str, failure: Failure, count: usize) {
        self.push_next(prefix, failure, count, false);
    }

    /// The next `count` calls under `prefix` are carried out, then answered with `failure`:
    /// the service acted, and the caller cannot tell (an answer lost, a 5xx after the write).
    pub fn fail_next_after_applying(&self, prefix: &str, failure: Failure, count: usize) {
        self.push_next(prefix, failure, count, true);
    }

    fn push_next(&self, prefix: &str, failure: Failure, count: usize, after_applying: bool) {
        if count > 0 {
            self.lock().rules.push(Rule::Next {
                prefix: prefix.to_string(),
                failure,
                remaining: count,
                after_applying,
            });
        }
    }

    /// Each call under `prefix` fails with probability `ratio`.
    pub fn fail_ratio(&self, prefix: &str, failure: Failure, ratio: f64) {
        self.lock().rules.push(Rule::Ratio {
            prefix: prefix.to_string(),
            failure,
            ratio: ratio.clamp(0.0, 1.0),
        });
    }

    /// Every call waits this long before it is answered.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Disarms everything (latency too).
    pub fn clear(&self) {
        let mut plan = self.lock();
        plan.rules.clear();
        plan.latency = Duration::ZERO;
    }

    /// How many calls were failed on purpose so far.
    pub fn injected(&self) -> usize {
        self.lock().injected
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().expect("fault plan lock")
    }

    /// The failure for a call to `path`, if one is due, using up a `Next` shot, and whether
    /// the call is carried out before it is answered with it.
    fn draw(&self, path: &str) -> (Duration, Option<(Failure, bool)>) {
        let mut plan = self.lock();
        let latency = plan.latency;
        let mut chosen = None;
        for index in 0..plan.rules.len() {
            let failure = match &mut plan.rules[index] {
                Rule::Next {
                    prefix,
                    failure,
                    remaining,
                    after_applying,
                } if covers(prefix, path) => {
                    *remaining -= 1;
                    Some((failure.clone(), *after_applying, *remaining == 0))
                }
                Rule::Ratio {
                    prefix,
                    failure,
                    ratio,
                } if covers(prefix, path) => {
                    let (failure, ratio) = (failure.clone(), *ratio);
                    plan.rng
                        .random_bool(ratio)
                        .then_some((failure, false, false))
                }
                _ => None,
            };
            if let Some((failure, after_applying, used_up)) = failure {
                if used_up {
                    plan.rules.remove(index);
                }
                chosen = Some((failure, after_applying));
                break;
            }
        }
        if chosen.is_some() {
            plan.injected += 1;
        }
        (latency, chosen)
    }
}

/// Whether a rule's `prefix` covers `path`: every path it begins, or, ending in `$`, only the
/// path before the `$` (`/crm/v3/objects/contacts$`: the create, not `.../search`).
fn covers(prefix: &str, path: &str) -> bool {
    match prefix.strip_suffix('$') {
        Some(exact) => path == exact,
        None => path.starts_with(prefix),
    }
}

/// axum middleware: `axum::middleware::from_fn_with_state(plan, faults::inject)`. Failures are
/// answered in HubSpot's error shape (also readable by any client that reads `message`).
pub async fn inject(State(plan): State<FaultPlan>, request: Request, next: Next) -> Response {
    let (latency, failure) = plan.draw(request.uri().path());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Some((failure, after_applying)) = failure else {
        return next.run(request).await;
    };
    if after_applying {
        let _applied = next.run(request).await;
    }
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = if status == StatusCode::TOO_MANY_REQUESTS {
        json!({
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": uuid::Uuid::new_v4().to_string(),
            "policyName": "TEN_SECONDLY_ROLLING",
        })
    } else {
        json!({
            "status": "error",
            "message": "An internal error occurred (injected).",
            "correlationId": uuid::Uuid::new_v4().to_string(),
            "category": "INTERNAL_ERROR",
        })
    };
    let mut response = (status, Json(body)).into_response();
    if let Some(seconds) = failure.retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate_limited() -> Failure {
        Failure {
            status: 429,
            retry_after: Some(1),
        }
    }

    #[test]
    fn a_prefix_ending_in_a_dollar_covers_that_path_only() {
        let plan = FaultPlan::default();
        plan.fail_next("/crm/v3/objects/contacts$", rate_limited(), 1);
        assert!(plan.draw("/crm/v3/objects/contacts/search").1.is_none());
        assert!(plan.draw("/crm/v3/objects/contacts").1.is_some());
    }

    #[test]
    fn next_faults_fire_count_times_on_their_prefix() {
        let plan = FaultPlan::default();
        plan.fail_next("/crm", rate_limited(), 2);
        assert!(plan.draw("/conversations/v3").1.is_none());
        assert_eq!(plan.draw("/crm/v3/objects").1.unwrap().0.status, 429);
        assert_eq!(plan.draw("/crm/v3/objects").1.unwrap().0.status, 429);
        assert!(plan.draw("/crm/v3/objects").1.is_none());
        assert_eq!(plan.injected(), 2);
    }

    #[test]
    fn a_fault_after_applying_says_so() {
        let plan = FaultPlan::default();
        plan.fail_next_after_applying("/crm", rate_limited(), 1);
        let (failure, after_applying) = plan.draw("/crm/v3/objects").1.unwrap();
        assert_eq!((failure.status, after_applying), (429, true));
        assert!(plan.draw("/crm/v3/objects").1.is_none());
    }

    #[test]
    fn ratios_are_repeatable_for_a_seed() {
        let draws = |seed| {
            let plan = FaultPlan::seeded(seed);
            plan.fail_ratio("/", rate_limited(), 0.3);
            (0..200).filter(|_| plan.draw("/x").1.is_some()).count()
        };
        assert_eq!(draws(1), draws(1));
        let share = draws(1);
        assert!((30..90).contains(&share), "about 30 % of 200: {share}");
    }
}
