//! The PostgreSQL pool: built once per Lambda instance, connected lazily.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};

use crate::ops::config::{ConfigError, DatabaseSettings};

/// How long a record waits for a free connection before the attempt fails as retryable.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection idle for longer is pinged before it is handed out, and replaced if the
/// ping fails; one used more recently is handed out as it is. A Lambda instance frozen
/// between events always finds its connections idle for longer, while a busy one does
/// not pay a round trip per acquire.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Builds the pool without connecting: the first query opens the first connection, so a
/// cold start does no network work before its first event.
///
/// `application_name` shows up in `pg_stat_activity`, telling which function holds a
/// connection. Every connection starts with the settings' `statement_timeout` and
/// `lock_timeout`: a statement waiting on a row another attempt holds fails fast (SQLSTATE
/// 55P03, retryable) and its message goes back to the queue, instead of the invocation
/// waiting until Lambda kills it.
pub fn pool(settings: &DatabaseSettings, application_name: &str) -> Result<PgPool, ConfigError> {
    let options = PgConnectOptions::from_str(settings.expose_url())
        // The parse error may quote the URL and its password, so it is not passed on.
        .map_err(|_| ConfigError::invalid("DATABASE_URL", "not a valid PostgreSQL connection URL"))?
        .application_name(application_name)
        .options([
            ("statement_timeout", millis(settings.statement_timeout)),
            ("lock_timeout", millis(settings.lock_timeout)),
        ]);
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(0)
        // A Lambda instance may sleep for minutes between events; RDS closes idle
        // connections, so drop them first rather than fail on a dead one.
        .idle_timeout(Duration::from_secs(60))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options))
}

/// A duration as PostgreSQL reads a bare number of a time setting: milliseconds.
fn millis(duration: Duration) -> String {
    duration.as_millis().to_string()
}
