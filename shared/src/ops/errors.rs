//! The error taxonomy: every failure is either retryable or permanent, decided here.
//!
//! - **Retryable**: a dependency (PostgreSQL, S3, SQS, a marketplace or carrier API) is
//!   down, slow or throttling. The SQS message goes back to its queue and is tried again;
//!   after the queue's maximum receives it lands in the dead-letter queue, never lost.
//! - **Permanent**: the input can never be processed as it is (a file that is not CSV,
//!   an order that breaks a rule). The reason is written to `ops.process_failures` for a
//!   person and the message is acknowledged, so it does not block its queue.
//!
//! Sources are kept as a cause chain; [`error_chain`] renders the whole chain once, at the
//! boundary that logs it. Nothing here ever carries a secret or a customer email.

use std::error::Error as StdError;
use std::fmt::Write as _;

// The SDK crates share these types; S3's re-exports serve for SQS too.
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::ops::lease::LeaseError;

/// A boxed cause.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What a consumer does with a message whose processing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Leave the message on its queue to be delivered again.
    Retry,
    /// Record the failure for a person and acknowledge the message.
    GiveUp,
}

/// A failure while processing one unit of work (a message, a file, a delivery).
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// A dependency is unavailable or busy; trying again later can succeed.
    #[error("{context}")]
    Retryable {
        /// What was being done, in the seller's words.
        context: String,
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
    /// The input cannot be processed as it is; a person must look at `reason`.
    #[error("{reason}")]
    Permanent {
        /// A human-readable reason naming what is wrong.
        reason: String,
        /// The underlying failure, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

impl ProcessError {
    /// A permanent failure with a reason a person can act on.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent {
            reason: reason.into(),
            source: None,
        }
    }

    /// A retryable failure of a dependency.
    pub fn retryable(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Retryable {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A database failure, classified by [`database_disposition`].
    pub fn database(context: impl Into<String>, err: sqlx::Error) -> Self {
        Self::classified(context.into(), database_disposition(&err), err.into())
    }

    /// A write under a lease that did not happen: retryable when another attempt took
    /// the work over (a later delivery finds it done or still held), otherwise
    /// classified as a database failure.
    pub fn lease(context: impl Into<String>, err: LeaseError) -> Self {
        match err {
            LeaseError::Lost => Self::retryable(context, err),
            LeaseError::Database(err) => Self::database(context, err),
        }
    }

    /// An AWS SDK failure (S3, SQS), classified by [`aws_disposition`].
    pub fn aws<E>(context: impl Into<String>, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let disposition = aws_disposition(&err);
        Self::classified(context.into(), disposition, err.into())
    }

    fn classified(context: String, disposition: Disposition, source: BoxError) -> Self {
        match disposition {
            Disposition::Retry => Self::Retryable { context, source },
            Disposition::GiveUp => Self::Permanent {
                reason: context,
                source: Some(source),
            },
        }
    }

    /// What the consumer should do with the message.
    pub fn disposition(&self) -> Disposition {
        match self {
            Self::Retryable { .. } => Disposition::Retry,
            Self::Permanent { .. } => Disposition::GiveUp,
        }
    }
}

/// Classifies a database error: lost connections, timeouts, serialisation failures,
/// deadlocks and an overloaded or restarting server are retryable; a violated constraint
/// or a bad statement is permanent (the same input would fail the same way).
pub fn database_disposition(err: &sqlx::Error) -> Disposition {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => Disposition::Retry,
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some(code) if is_retryable_sqlstate(code) => Disposition::Retry,
            _ => Disposition::GiveUp,
        },
        _ => Disposition::GiveUp,
    }
}

/// SQLSTATEs worth retrying: transaction rollback (class 40), insufficient resources
/// (class 53), operator intervention (class 57: shutdown, cannot connect now), connection
/// exceptions (class 08), and lock not available (55P03).
fn is_retryable_sqlstate(code: &str) -> bool {
    ["40", "53", "57", "08"]
        .iter()
        .any(|class| code.starts_with(class))
        || code == "55P03"
}

/// Classifies an AWS SDK error: no answer, a timeout, a 5xx, throttling or a 429 is
/// retryable; any other answer from the service (no such bucket, access denied, bad
/// request) is permanent, as is a request that could not even be built.
pub fn aws_disposition<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Disposition {
    match err {
        SdkError::ConstructionFailure(_) => Disposition::GiveUp,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Disposition::Retry
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let throttled = service
                .err()
                .code()
                .is_some_and(|code| code.contains("Throttl") || code == "SlowDown");
            if status >= 500 || status == 429 || throttled {
                Disposition::Retry
            } else {
                Disposition::GiveUp
            }
        }
        _ => Disposition::Retry,
    }
}

/// The error and all its causes on one line, `outer: cause: root cause`, for the one log
/// line written where the error is handled.
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let _ = write!(line, ": {cause}");
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_and_pool_timeouts_are_retryable() {
        let io = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        ));
        assert_eq!(database_disposition(&io), Disposition::Retry);
        assert_eq!(
            database_disposition(&sqlx::Error::PoolTimedOut),
            Disposition::Retry
        );
    }

    #[test]
    fn a_missing_row_is_permanent() {
        assert_eq!(
            database_disposition(&sqlx::Error::RowNotFound),
            Disposition::GiveUp
        );
    }

    #[test]
    fn transaction_and_resource_sqlstates_are_retryable_and_constraints_are_not() {
        for code in [
            "40001", "40P01", "53300", "57P01", "57P03", "08006", "55P03",
        ] {
            assert!(is_retryable_sqlstate(code), "{code}");
        }
        for code in ["23505", "23503", "22P02", "42P01"] {
            assert!(!is_retryable_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn the_chain_names_every_cause() {
        let err = ProcessError::retryable(
            "reading order file s3://orders/a.csv",
            std::io::Error::new(std::io::ErrorKind::TimedOut, "connection timed out"),
        );
        assert_eq!(err.disposition(), Disposition::Retry);
        assert_eq!(
            error_chain(&err),
            "reading order file s3://orders/a.csv: connection timed out"
        );
    }

    #[test]
    fn a_permanent_failure_carries_its_reason() {
        let err = ProcessError::permanent("order file is missing columns: sku, quantity");
        assert_eq!(err.disposition(), Disposition::GiveUp);
        assert_eq!(
            err.to_string(),
            "order file is missing columns: sku, quantity"
        );
    }
}
