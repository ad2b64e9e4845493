//! Medians and percentiles of timings, and how the table prints them.

use std::time::Duration;

/// The nearest-rank percentile `p` (0–100) of `samples`; zero when there are none.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(samples: &[Duration]) -> Duration {
    percentile(samples, 50.0)
}

/// Milliseconds with two decimals.
pub fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

/// `a / b`, for ratios against a floor or an ideal.
pub fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() {
        return f64::NAN;
    }
    a.as_secs_f64() / b.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Vec<Duration> {
        values.iter().copied().map(Duration::from_millis).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples = millis(&[5, 1, 4, 2, 3]);
        assert_eq!(median(&samples), Duration::from_millis(3));
        assert_eq!(percentile(&samples, 99.0), Duration::from_millis(5));
        assert_eq!(percentile(&samples, 0.0), Duration::from_millis(1));
        let hundred: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&hundred, 99.0), Duration::from_millis(99));
        assert_eq!(median(&[]), Duration::ZERO);
    }

    #[test]
    fn ratios_refuse_a_zero_floor() {
        assert_eq!(
            ratio(Duration::from_millis(30), Duration::from_millis(10)),
            3.0
        );
        assert!(ratio(Duration::from_millis(1), Duration::ZERO).is_nan());
    }
}
