//! The simulators' shared state: one lock over everything, held only between awaits.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::canadapost::shipments::Shipments;
use crate::faults::Faults;
use crate::freshdesk::helpdesk::Helpdesk;
use crate::mirakl::offers::Offers;
use crate::mirakl::orders::Orders;
use crate::mirakl::threads::Threads;
use crate::shopify::cost::CostBucket;
use crate::shopify::orders::ShopifyOrders;

/// How many calls `/_sim/state` remembers.
const CALLS_KEPT: usize = 1000;

/// Credentials the simulated services check.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The Mirakl shop API key, sent as the whole `Authorization` header.
    pub mirakl_api_key: String,
    /// Canada Post API user name (Basic auth).
    pub canadapost_username: String,
    /// Canada Post API password (Basic auth).
    pub canadapost_password: String,
    /// The Shopify app's Admin API access token (`X-Shopify-Access-Token`).
    pub shopify_access_token: String,
    /// The Freshdesk API key, the Basic-auth user.
    pub freshdesk_api_key: String,
}

/// The simulated services: their state, the faults in force and the calls seen.
#[derive(Debug)]
pub struct Simulator {
    credentials: Credentials,
    state: Mutex<SimState>,
}

/// Everything that changes.
#[derive(Debug, Default)]
pub struct SimState {
    /// Mirakl orders.
    pub orders: Orders,
    /// Mirakl inbox threads.
    pub threads: Threads,
    /// Mirakl offers and their imports.
    pub offers: Offers,
    /// Canada Post shipments and their labels.
    pub shipments: Shipments,
    /// The Shopify store's orders.
    pub shopify_orders: ShopifyOrders,
    /// The Shopify store's query-cost bucket.
    pub shopify_bucket: CostBucket,
    /// Freshdesk tickets and their conversations.
    pub helpdesk: Helpdesk,
    /// Failures to inject.
    pub faults: Faults,
    /// The latest calls to the simulated APIs, oldest first.
    pub calls: VecDeque<CallRecord>,
    /// Every call received since the last reset, by route (`NCSHIPMENT`: purchase
    /// requests, `REFUND`: refund requests), counted on arrival, whatever the answer
    /// and even when the caller hung up before it.
    pub requests: BTreeMap<&'static str, u64>,
}

/// One call to a simulated API, for inspection.
#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    /// `mirakl`, `canadapost`, `freshdesk` or `shopify`.
    pub service: &'static str,
    /// The operation (`OR21`, `NCSHIPMENT`, …) when the path is one.
    pub route: Option<&'static str>,
    /// The HTTP method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The status answered.
    pub status: u16,
    /// Whether an injected fault answered it.
    pub injected: bool,
    /// When it was answered.
    pub at: String,
}

impl Simulator {
    /// A simulator with empty state.
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            state: Mutex::new(SimState::default()),
        }
    }

    /// The credentials the services check.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The state, locked. A panic while it was held leaves it usable: the simulator
    /// keeps answering rather than failing every later call.
    pub fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one call to `route` as it arrives.
    pub fn count_request(&self, route: &'static str) {
        *self.lock().requests.entry(route).or_default() += 1;
    }

    /// Remembers one call.
    pub fn record_call(&self, call: CallRecord) {
        let mut state = self.lock();
        if state.calls.len() == CALLS_KEPT {
            state.calls.pop_front();
        }
        state.calls.push_back(call);
    }
}

/// Now, as Mirakl and Canada Post write it: RFC 3339 in UTC with milliseconds.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a date-time query value; a `+` that the query decoding turned into a space
/// is put back.
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim().replace(' ', "+");
    DateTime::parse_from_rfc3339(&value)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// The objects a seeding call names: one object, an array of them, or
/// `{"<plural>": [...]}` (`one` is the singular with its article: "an order").
pub fn seed_objects(
    seed: Value,
    plural: &str,
    one: &str,
) -> Result<Vec<Map<String, Value>>, String> {
    let items = match seed {
        Value::Array(items) => items,
        Value::Object(mut object) if object.contains_key(plural) => match object.remove(plural) {
            Some(Value::Array(items)) => items,
            _ => return Err(format!("`{plural}` must be an array")),
        },
        item @ Value::Object(_) => vec![item],
        _ => {
            return Err(format!(
                "expected {one}, an array of {plural} or {{\"{plural}\": [...]}}"
            ))
        }
    };
    let noun = one.split_once(' ').map_or(one, |(_, noun)| noun);
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(object) => Ok(object),
            _ => Err(format!("every {noun} must be a JSON object")),
        })
        .collect()
}
