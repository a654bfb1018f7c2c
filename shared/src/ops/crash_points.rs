//! Crash points: places in the exactly-once flows where a test stops an attempt as if its
//! process died there, to prove that a retry still finishes the work exactly once.
//!
//! A flow marks a point with `crash_point!(Name)`. Without the `crash-points` feature the
//! mark compiles to nothing; only the tests crate turns the feature on, as a
//! dev-dependency feature, so no function binary carries it.
//!
//! With the feature, a test arms one point for one future with `Crash::during`. The
//! crash is a panic, caught by `during`: nothing after the point runs, no lease is
//! released and nothing is cleaned up, and the open transaction, dropped, is rolled back
//! as it would be for a dead process. Other futures, even those of the same test, run
//! unharmed: the arming lives in a task-local value around the one future.

/// Marks a crash point (a variant of [`CrashPoint`]); nothing without the feature.
macro_rules! crash_point {
    ($point:ident) => {
        #[cfg(feature = "crash-points")]
        $crate::ops::crash_points::reached($crate::ops::crash_points::CrashPoint::$point);
    };
}
pub(crate) use crash_point;

#[cfg(feature = "crash-points")]
pub(crate) use armed::reached;
#[cfg(feature = "crash-points")]
pub use armed::{Crash, CrashPoint, Crashed};

#[cfg(feature = "crash-points")]
mod armed {
    use std::cell::Cell;
    use std::future::{poll_fn, Future};
    use std::panic::{catch_unwind, panic_any, resume_unwind, AssertUnwindSafe};
    use std::pin::pin;
    use std::task::Poll;

    /// Where a flow can be stopped.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum CrashPoint {
        /// Labels: Canada Post answered the purchase; the answer is not recorded yet.
        LabelAnswered,
        /// Labels: Canada Post answered and the answer is recorded.
        LabelBought,
        /// Labels: the PDF is in S3 and recorded.
        LabelStored,
        /// Labels: OR23 was sent and recorded.
        TrackingReported,
        /// Order files: between two batches, the one before committed, the next not yet
        /// begun; also passed once before the first batch.
        OrderFileBatchBoundary,
        /// Outbox: a message was sent to SQS and is not yet marked sent.
        OutboxSent,
    }

    /// A crash armed at one point.
    #[derive(Debug)]
    pub struct Crash {
        point: CrashPoint,
        passes_left: Cell<usize>,
    }

    /// The work stopped at its crash point.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
    #[error("simulated crash at {0:?}")]
    pub struct Crashed(pub CrashPoint);

    tokio::task_local! {
        static ARMED: Crash;
    }

    impl Crash {
        /// A crash the first time the work reaches `point`.
        pub fn at(point: CrashPoint) -> Self {
            Self {
                point,
                passes_left: Cell::new(0),
            }
        }

        /// Lets the work pass the point `passes` times and crashes at the next.
        pub fn after_passing(self, passes: usize) -> Self {
            self.passes_left.set(passes);
            self
        }

        /// Runs `work` with this crash armed. `Err(Crashed)`: it reached the point and
        /// stopped there; a panic of its own is passed on.
        pub async fn during<F: Future>(self, work: F) -> Result<F::Output, Crashed> {
            let mut work = pin!(ARMED.scope(self, work));
            poll_fn(
                |cx| match catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx))) {
                    Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
                    Ok(Poll::Pending) => Poll::Pending,
                    Err(panic) => match panic.downcast::<Crashed>() {
                        Ok(crashed) => Poll::Ready(Err(*crashed)),
                        Err(other) => resume_unwind(other),
                    },
                },
            )
            .await
        }
    }

    /// Crashes here if the current work armed this point and has no passes left.
    pub(crate) fn reached(point: CrashPoint) {
        let crash = ARMED
            .try_with(|armed| {
                if armed.point != point {
                    return false;
                }
                match armed.passes_left.get() {
                    0 => true,
                    left => {
                        armed.passes_left.set(left - 1);
                        false
                    }
                }
            })
            .unwrap_or(false);
        if crash {
            panic_any(Crashed(point));
        }
    }
}
