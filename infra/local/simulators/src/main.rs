//! `sellerops-simulators`: serves the Mirakl, Canada Post, Freshdesk and Shopify simulators until
//! stopped.
//!
//! Environment (all optional):
//!   SIM_HOST                  address to listen on (127.0.0.1)
//!   SIM_MIRAKL_PORT           Mirakl seller API port (8091)
//!   SIM_CANADAPOST_PORT       Canada Post port (8092)
//!   SIM_FRESHDESK_PORT        Freshdesk port (8093)
//!   SIM_SHOPIFY_PORT          Shopify Admin API port (8094)
//!   SIM_MIRAKL_API_KEY        the shop API key expected in Authorization (local-mirakl-key)
//!   SIM_CANADAPOST_USERNAME   Basic auth user (local-canadapost-user)
//!   SIM_CANADAPOST_PASSWORD   Basic auth password (local-canadapost-password)
//!   SIM_FRESHDESK_API_KEY     Freshdesk API key, the Basic auth user (local-freshdesk-key)
//!   SIM_SHOPIFY_ACCESS_TOKEN  the X-Shopify-Access-Token expected (local-shopify-admin-token)
//!   SIM_SEED_FILE             JSON {"orders": [...], "threads": [...], "tickets": [...],
//!                             "shopify_orders": [...]} to start with
//!   RUST_LOG                  log filter (info)

use std::process::ExitCode;

use sellerops_simulators::{start, Settings};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let settings = match Settings::from_lookup(|name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(reason) => {
            tracing::error!("{reason}");
            return ExitCode::FAILURE;
        }
    };
    let running = match start(settings).await {
        Ok(running) => running,
        Err(err) => {
            tracing::error!(error = %err, "could not start the simulators");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        mirakl = %running.mirakl_url,
        canadapost = %running.canadapost_url,
        freshdesk = %running.freshdesk_url,
        shopify = %running.shopify_url,
        "simulators ready"
    );
    match running.serve_until(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "a simulator stopped");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
