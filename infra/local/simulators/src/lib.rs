//! Local stand-ins for the outside services sellerops calls: the Mirakl seller API
//! (Best Buy Canada), Canada Post's non-contract shipping API, the Freshdesk helpdesk
//! and a Shopify store's Admin GraphQL API. They keep state, answer in the real
//! services' shapes (shared/reference/), and fail on request.
//!
//! Layout:
//! - [`mirakl`]: OR11, OR21, OR23, OR24, M10, M11, M12, SH21, OF21, OF24, OF02, OF04
//!   under `/api/`.
//! - [`canadapost`]: `ncshipment` (buy, list, read, details, refund) and the label
//!   artifact under `/rs/`.
//! - [`shopify`]: the Admin GraphQL API's `orders` connection, with its query-cost limit,
//!   under `/admin/api/{version}/graphql.json`.
//! - [`freshdesk`]: tickets, conversations and replies under `/api/v2/`, with a
//!   per-minute limit.
//! - `control`: the `/_sim/` API (seed, faults, state, counters, reset), on every port.
//! - [`faults`]: what `/_sim/faults` injects.
//!
//! Each service listens on a port of its own (`SIM_MIRAKL_PORT`, `SIM_CANADAPOST_PORT`,
//! `SIM_FRESHDESK_PORT`, `SIM_SHOPIFY_PORT`) and all share one state.

pub mod canadapost;
mod control;
pub mod faults;
pub mod freshdesk;
pub mod mirakl;
mod pdf;
pub mod shopify;
pub mod state;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use state::{Credentials, Simulator};

/// Default ports, on 127.0.0.1.
pub const DEFAULT_MIRAKL_PORT: u16 = 8091;
/// See [`DEFAULT_MIRAKL_PORT`].
pub const DEFAULT_CANADAPOST_PORT: u16 = 8092;
/// See [`DEFAULT_MIRAKL_PORT`].
pub const DEFAULT_FRESHDESK_PORT: u16 = 8093;
/// See [`DEFAULT_MIRAKL_PORT`].
pub const DEFAULT_SHOPIFY_PORT: u16 = 8094;

/// How to run the simulators.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Mirakl API's address (port 0: any free port).
    pub mirakl_addr: SocketAddr,
    /// Canada Post's address.
    pub canadapost_addr: SocketAddr,
    /// Freshdesk's address.
    pub freshdesk_addr: SocketAddr,
    /// The Shopify Admin API's address.
    pub shopify_addr: SocketAddr,
    /// The credentials checked.
    pub credentials: Credentials,
    /// Orders, threads, offers and tickets to start with: `{"orders": [...], "threads":
    /// [...], "offers": [...], "tickets": [...], "shopify_orders": [...]}`.
    pub seed: Option<serde_json::Value>,
}

impl Settings {
    /// Settings for tests: every service on a free port of 127.0.0.1, the local
    /// stack's credentials, no seed.
    pub fn for_tests() -> Self {
        let any_port = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        Self {
            mirakl_addr: any_port,
            canadapost_addr: any_port,
            shopify_addr: any_port,
            freshdesk_addr: any_port,
            credentials: Credentials {
                mirakl_api_key: "local-mirakl-key".to_owned(),
                canadapost_username: "local-canadapost-user".to_owned(),
                canadapost_password: "local-canadapost-password".to_owned(),
                shopify_access_token: "local-shopify-admin-token".to_owned(),
                freshdesk_api_key: "local-freshdesk-key".to_owned(),
            },
            seed: None,
        }
    }

    /// Settings from the environment (see the binary's help); `lookup` reads one
    /// variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let defaults = Self::for_tests();
        let host: IpAddr = match lookup("SIM_HOST") {
            Some(host) => host
                .parse()
                .map_err(|_| format!("SIM_HOST={host} is not an IP address"))?,
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let port = |name: &str, default: u16| -> Result<u16, String> {
            lookup(name).map_or(Ok(default), |value| {
                value
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name}={value} is not a port number"))
            })
        };
        let text = |name: &str, default: String| lookup(name).unwrap_or(default);
        let seed = match lookup("SIM_SEED_FILE") {
            None => None,
            Some(path) => {
                let raw = std::fs::read_to_string(&path)
                    .map_err(|err| format!("SIM_SEED_FILE={path}: {err}"))?;
                Some(
                    serde_json::from_str(&raw)
                        .map_err(|err| format!("SIM_SEED_FILE={path} is not JSON: {err}"))?,
                )
            }
        };
        Ok(Self {
            mirakl_addr: SocketAddr::new(host, port("SIM_MIRAKL_PORT", DEFAULT_MIRAKL_PORT)?),
            canadapost_addr: SocketAddr::new(
                host,
                port("SIM_CANADAPOST_PORT", DEFAULT_CANADAPOST_PORT)?,
            ),
            shopify_addr: SocketAddr::new(host, port("SIM_SHOPIFY_PORT", DEFAULT_SHOPIFY_PORT)?),
            freshdesk_addr: SocketAddr::new(
                host,
                port("SIM_FRESHDESK_PORT", DEFAULT_FRESHDESK_PORT)?,
            ),
            credentials: Credentials {
                mirakl_api_key: text("SIM_MIRAKL_API_KEY", defaults.credentials.mirakl_api_key),
                canadapost_username: text(
                    "SIM_CANADAPOST_USERNAME",
                    defaults.credentials.canadapost_username,
                ),
                canadapost_password: text(
                    "SIM_CANADAPOST_PASSWORD",
                    defaults.credentials.canadapost_password,
                ),
                shopify_access_token: text(
                    "SIM_SHOPIFY_ACCESS_TOKEN",
                    defaults.credentials.shopify_access_token,
                ),
                freshdesk_api_key: text(
                    "SIM_FRESHDESK_API_KEY",
                    defaults.credentials.freshdesk_api_key,
                ),
            },
            seed,
        })
    }
}

/// The running simulators.
#[derive(Debug)]
pub struct Running {
    /// Where the Mirakl API answers, e.g. `http://127.0.0.1:8091`.
    pub mirakl_url: String,
    /// Where Canada Post answers.
    pub canadapost_url: String,
    /// Where the Shopify Admin API answers (the store's base URL).
    pub shopify_url: String,
    /// Where Freshdesk answers.
    pub freshdesk_url: String,
    /// Their shared state, for tests to look into.
    pub simulator: Arc<Simulator>,
    mirakl_server: JoinHandle<std::io::Result<()>>,
    canadapost_server: JoinHandle<std::io::Result<()>>,
    shopify_server: JoinHandle<std::io::Result<()>>,
    freshdesk_server: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Serves until a server stops (an I/O error) or `shutdown` completes.
    pub async fn serve_until(mut self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let joined = |result: Result<std::io::Result<()>, tokio::task::JoinError>| {
            result.unwrap_or_else(|err| Err(std::io::Error::other(err)))
        };
        tokio::select! {
            result = &mut self.mirakl_server => joined(result),
            result = &mut self.canadapost_server => joined(result),
            result = &mut self.shopify_server => joined(result),
            result = &mut self.freshdesk_server => joined(result),
            () = shutdown => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.mirakl_server.abort();
        self.canadapost_server.abort();
        self.freshdesk_server.abort();
        self.shopify_server.abort();
    }
}

/// Binds every service's port and starts serving.
pub async fn start(settings: Settings) -> std::io::Result<Running> {
    let simulator = Arc::new(Simulator::new(settings.credentials));
    if let Some(seed) = settings.seed {
        seed_state(&simulator, seed).map_err(std::io::Error::other)?;
    }
    let mirakl = Router::new()
        .merge(mirakl::router(simulator.clone()))
        .merge(control::router())
        .with_state(simulator.clone());
    let canadapost = Router::new()
        .merge(canadapost::router(simulator.clone()))
        .merge(control::router())
        .with_state(simulator.clone());
    let shopify = Router::new()
        .merge(shopify::router(simulator.clone()))
        .merge(control::router())
        .with_state(simulator.clone());
    let freshdesk = Router::new()
        .merge(freshdesk::router(simulator.clone()))
        .merge(control::router())
        .with_state(simulator.clone());

    let mirakl_listener = TcpListener::bind(settings.mirakl_addr).await?;
    let canadapost_listener = TcpListener::bind(settings.canadapost_addr).await?;
    let mirakl_url = format!("http://{}", mirakl_listener.local_addr()?);
    let shopify_listener = TcpListener::bind(settings.shopify_addr).await?;
    let canadapost_url = format!("http://{}", canadapost_listener.local_addr()?);
    let freshdesk_listener = TcpListener::bind(settings.freshdesk_addr).await?;
    let shopify_url = format!("http://{}", shopify_listener.local_addr()?);
    let freshdesk_url = format!("http://{}", freshdesk_listener.local_addr()?);
    Ok(Running {
        mirakl_url,
        canadapost_url,
        freshdesk_url,
        shopify_url,
        simulator,
        mirakl_server: tokio::spawn(async move { axum::serve(mirakl_listener, mirakl).await }),
        canadapost_server: tokio::spawn(async move {
            axum::serve(canadapost_listener, canadapost).await
        }),
        shopify_server: tokio::spawn(async move { axum::serve(shopify_listener, shopify).await }),
        freshdesk_server: tokio::spawn(
            async move { axum::serve(freshdesk_listener, freshdesk).await },
        ),
    })
}

fn seed_state(simulator: &Simulator, seed: serde_json::Value) -> Result<(), String> {
    let mut state = simulator.lock();
    let now = Utc::now();
    if let Some(orders) = seed.get("orders") {
        state.orders.seed(orders.clone(), true, now)?;
    }
    if let Some(threads) = seed.get("threads") {
        state.threads.seed(threads.clone(), true, now)?;
    }
    if let Some(offers) = seed.get("offers") {
        state.offers.seed(offers.clone(), true)?;
    }
    if let Some(orders) = seed.get("shopify_orders") {
        state.shopify_orders.seed(orders.clone(), true, now)?;
    }
    if let Some(tickets) = seed.get("tickets") {
        state.helpdesk.seed(tickets.clone(), true, now)?;
    }
    Ok(())
}
