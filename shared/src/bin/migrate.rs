//! Applies the schema migrations to `DATABASE_URL`: `cargo run -p sellerops --bin migrate`.
//! The local stack scripts and deployments run it; it is safe to run again.

use std::process::ExitCode;

use sqlx::postgres::PgPoolOptions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("migrate: environment variable DATABASE_URL is required but not set");
        return ExitCode::FAILURE;
    };
    let pool = match PgPoolOptions::new().max_connections(1).connect(&url).await {
        Ok(pool) => pool,
        Err(err) => {
            eprintln!("migrate: cannot connect to the database: {err}");
            return ExitCode::FAILURE;
        }
    };
    match sellerops::MIGRATOR.run(&pool).await {
        Ok(()) => {
            println!(
                "migrate: schema is up to date ({} migrations)",
                sellerops::MIGRATOR.iter().count()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("migrate: {}", sellerops::ops::errors::error_chain(&err));
            ExitCode::FAILURE
        }
    }
}
