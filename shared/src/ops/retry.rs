//! The one retry policy: how many attempts a failing call gets and how the waits grow.
//!
//! Two kinds of retry follow it. Inside one invocation, [`with_retries`] repeats a call
//! whose failure may pass in a moment (a 5xx, a timeout, a 429 with a short
//! `Retry-After`): that saves a round trip through the queue, and the bound keeps the
//! invocation well inside the Lambda timeout. When the attempts run out, or the server
//! asks for a longer wait than the policy allows, the error is returned and the caller's
//! queue (or schedule) tries again later. Across invocations, the outbox stores its next
//! attempt's time in the database, computed with [`RetryPolicy::delay_after`]. Both take
//! their waits from the same exponential schedule.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};

/// How often and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each further failure.
    pub base_delay: Duration,
    /// The longest single wait: the doubling stops there, and a server asking for more
    /// (`Retry-After`) is not waited for: the error is returned at once and the queue
    /// retries later.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// Two attempts, 1 s apart, waiting at most 2 s for a `Retry-After`: one quick second
    /// try saves a trip through the queue, and anything longer is the queue's to retry,
    /// so a batch stays inside its function's time budget ([`crate::ops::time_budget`]).
    pub const DEFAULT: Self = Self {
        attempts: 2,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(2),
    };

    /// No retries: one attempt.
    pub const ONCE: Self = Self {
        attempts: 1,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    /// The waits between attempts: `base_delay`, doubling up to `max_delay`, without
    /// jitter (one invocation's few calls do not stampede), `attempts - 1` of them.
    fn schedule(&self) -> ExponentialBuilder {
        let retries = usize::try_from(self.attempts.max(1) - 1).unwrap_or(usize::MAX);
        ExponentialBuilder::new()
            .with_factor(2.0)
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(retries)
    }

    /// The wait before the next attempt: the schedule's (`planned`, `None` once the
    /// attempts are used up), or the server's when it asks for one the cap allows.
    fn wait(&self, planned: Option<Duration>, failure: Transient) -> Option<Duration> {
        match (planned, failure) {
            (None, _) => None,
            (Some(_), Transient::Yes(Some(asked))) => (asked <= self.max_delay).then_some(asked),
            (Some(planned), _) => Some(planned),
        }
    }

    /// The longest these attempts can take together when each runs to `timeout`: every
    /// attempt timed out and every wait between them the longest allowed (a `Retry-After`
    /// up to `max_delay` replaces the planned wait).
    pub fn worst_case(&self, timeout: Duration) -> Duration {
        let attempts = self.attempts.max(1);
        timeout
            .saturating_mul(attempts)
            .saturating_add(self.max_delay.saturating_mul(attempts - 1))
    }

    /// The wait after the `failures`-th failure in a row (1 for the first), for a retry
    /// scheduled outside this process; the number of attempts is not checked.
    pub fn delay_after(&self, failures: u32) -> Duration {
        // The schedule is flat at `max_delay` long before 64 steps.
        let step = usize::try_from(failures.clamp(1, 64) - 1).unwrap_or(0);
        self.schedule()
            .without_max_times()
            .build()
            .nth(step)
            .unwrap_or(self.max_delay)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Whether a failure is worth another attempt now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transient {
    /// Not transient: return it.
    No,
    /// Transient; the server may say how long to wait.
    Yes(Option<Duration>),
}

/// Runs `attempt` until it succeeds, fails for good, or the policy's attempts run out.
/// A wait the server asks for replaces the policy's own, up to `max_delay`; asking for
/// longer ends the retries at once.
pub async fn with_retries<T, E, F, Fut>(
    policy: RetryPolicy,
    classify: impl Fn(&E) -> Transient,
    attempt: F,
) -> Result<T, E>
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    attempt
        .retry(policy.schedule())
        .when(|err| classify(err) != Transient::No)
        .adjust(|err, planned| policy.wait(planned, classify(err)))
        .notify(|err, wait| {
            let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            tracing::info!(wait_ms, error = %err, "transient failure; trying again");
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const FAST: RetryPolicy = RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(50),
    };

    #[tokio::test]
    async fn a_transient_failure_is_retried_until_it_succeeds() {
        let calls = Cell::new(0);
        let result: Result<u32, &str> = with_retries(
            FAST,
            |_| Transient::Yes(None),
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err("busy")
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(result, Ok(3));
    }

    #[tokio::test]
    async fn attempts_are_bounded_and_permanent_failures_are_not_retried() {
        let calls = Cell::new(0);
        let result: Result<(), &str> = with_retries(
            FAST,
            |_| Transient::Yes(None),
            || {
                calls.set(calls.get() + 1);
                async { Err("busy") }
            },
        )
        .await;
        assert_eq!((result, calls.get()), (Err("busy"), 3));

        calls.set(0);
        let _: Result<(), &str> = with_retries(
            FAST,
            |_| Transient::No,
            || {
                calls.set(calls.get() + 1);
                async { Err("bad request") }
            },
        )
        .await;
        assert_eq!(calls.get(), 1);
    }

    #[tokio::test]
    async fn a_retry_after_longer_than_the_cap_is_not_waited_for() {
        let calls = Cell::new(0);
        let _: Result<(), &str> = with_retries(
            FAST,
            |_| Transient::Yes(Some(Duration::from_secs(60))),
            || {
                calls.set(calls.get() + 1);
                async { Err("slow down") }
            },
        )
        .await;
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn the_waits_double_and_a_retry_after_within_the_cap_replaces_them() {
        let policy = RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        };
        let planned: Vec<Duration> = policy.schedule().build().collect();
        assert_eq!(planned, [1, 2, 4].map(Duration::from_secs));

        let secs = |s| Some(Duration::from_secs(s));
        let asked = |s| Transient::Yes(secs(s));
        assert_eq!(policy.wait(secs(2), Transient::Yes(None)), secs(2));
        assert_eq!(policy.wait(secs(2), asked(7)), secs(7));
        assert_eq!(policy.wait(secs(2), asked(31)), None, "longer than the cap");
        assert_eq!(policy.wait(None, asked(7)), None, "attempts used up");
    }

    #[test]
    fn the_worst_case_counts_every_attempt_timing_out_and_every_wait_at_its_cap() {
        let policy = RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
        };
        assert_eq!(
            policy.worst_case(Duration::from_secs(10)),
            Duration::from_secs(40)
        );
        assert_eq!(
            RetryPolicy::ONCE.worst_case(Duration::from_secs(10)),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn a_delay_scheduled_elsewhere_follows_the_same_doubling_and_cap() {
        let policy = RetryPolicy {
            attempts: 1,
            base_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(900),
        };
        let delays: Vec<u64> = [1, 2, 4, 8, 9, 1000]
            .map(|failures| policy.delay_after(failures).as_secs())
            .to_vec();
        assert_eq!(delays, [5, 10, 40, 640, 900, 900]);
    }
}
