//! sellerops — the domain crate every Lambda function shares.

/// The forward-only schema migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
