//! The PostgreSQL pool: built once per Lambda instance, connected lazily.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::ops::config::{ConfigError, DatabaseSettings};

/// Builds the pool without connecting: the first query opens the first connection, so a
/// cold start does no network work before its first event.
///
/// `application_name` shows up in `pg_stat_activity`, telling which function holds a
/// connection.
pub fn pool(settings: &DatabaseSettings, application_name: &str) -> Result<PgPool, ConfigError> {
    let options = PgConnectOptions::from_str(settings.expose_url())
        // The parse error may quote the URL and its password, so it is not passed on.
        .map_err(|_| ConfigError::invalid("DATABASE_URL", "not a valid PostgreSQL connection URL"))?
        .application_name(application_name);
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(0)
        // A Lambda instance may sleep for minutes between events; RDS closes idle
        // connections, so drop them first rather than fail on a dead one.
        .idle_timeout(Duration::from_secs(60))
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(true)
        .connect_lazy_with(options))
}
