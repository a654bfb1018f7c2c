//! Bounded retries inside one invocation, for calls whose failure may pass in a moment
//! (a 5xx, a timeout, a 429 with a short `Retry-After`).
//!
//! Retrying here saves a round trip through the queue; the bound keeps the invocation
//! well inside the Lambda timeout. When the attempts run out the caller returns a
//! retryable error and the queue tries again later.

use std::future::Future;
use std::time::Duration;

/// How often and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each further failure.
    pub base_delay: Duration,
    /// The longest single wait. A server asking for more (`Retry-After`) is not
    /// waited for: the error is returned at once and the queue retries later.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// Three attempts, 500 ms then 1 s apart, waiting at most 5 s for a `Retry-After`.
    pub const DEFAULT: Self = Self {
        attempts: 3,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(5),
    };

    /// No retries: one attempt.
    pub const ONCE: Self = Self {
        attempts: 1,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    fn delay(&self, failures: u32, asked: Option<Duration>) -> Option<Duration> {
        let exponential = self
            .base_delay
            .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
        let wait = asked.unwrap_or(exponential);
        (wait <= self.max_delay).then_some(wait)
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
pub async fn with_retries<T, E, F, Fut>(
    policy: RetryPolicy,
    classify: impl Fn(&E) -> Transient,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut failures = 0;
    loop {
        let err = match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        failures += 1;
        let Transient::Yes(asked) = classify(&err) else {
            return Err(err);
        };
        if failures >= policy.attempts.max(1) {
            return Err(err);
        }
        match policy.delay(failures, asked) {
            Some(wait) => tokio::time::sleep(wait).await,
            None => return Err(err),
        }
    }
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
}
