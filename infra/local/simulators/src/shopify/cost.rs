//! Shopify's query-cost rate limit: a bucket of points that refills at a steady rate.
//!
//! Before running a query Shopify works out what it may cost at most (its requested
//! cost) and refuses it with a `THROTTLED` error, charging nothing, when the bucket
//! holds less than that. A query that runs is charged what it actually cost, which
//! is less when its connections returned fewer nodes than asked for. Every answer
//! reports both costs and the bucket under `extensions.cost`.
//!
//! The simulator's cost model is Shopify's documented one, reduced to what the orders
//! query asks for: a connection costs 2 plus, for each node it may return (its `first`),
//! 1 for the node and the cost of the connections inside it. Scalars and plain objects
//! are free here. The largest query Shopify runs at all costs 1,000 points.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The most a single query may cost; dearer ones are refused whatever the bucket holds.
pub const MAX_QUERY_COST: u32 = 1000;

/// The bucket of a store on the standard plans, as Shopify reports it today.
const DEFAULT_MAXIMUM: f64 = 2000.0;
/// See [`DEFAULT_MAXIMUM`].
const DEFAULT_RESTORE_RATE: f64 = 100.0;

/// One store's bucket of query points.
#[derive(Debug, Clone)]
pub struct CostBucket {
    maximum_available: f64,
    restore_rate: f64,
    available: f64,
    as_of: Instant,
}

impl Default for CostBucket {
    fn default() -> Self {
        Self {
            maximum_available: DEFAULT_MAXIMUM,
            restore_rate: DEFAULT_RESTORE_RATE,
            available: DEFAULT_MAXIMUM,
            as_of: Instant::now(),
        }
    }
}

/// The bucket as `extensions.cost.throttleStatus` and `/_sim/state` show it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStatus {
    /// The bucket's size.
    pub maximum_available: f64,
    /// Points in the bucket now.
    pub currently_available: f64,
    /// Points restored each second.
    pub restore_rate: f64,
}

/// A change to the bucket, posted to `/_sim/shopify/bucket`: any of its size, its
/// restore rate, and how full it is now (a test empties it to see a throttle).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketChange {
    #[serde(default)]
    pub maximum_available: Option<f64>,
    #[serde(default)]
    pub restore_rate: Option<f64>,
    #[serde(default)]
    pub currently_available: Option<f64>,
}

/// What asking to run a query did to the bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Charge {
    /// The bucket could pay: the query runs; charge its actual cost with [`CostBucket::charge`].
    Granted,
    /// The bucket holds less than the requested cost: nothing runs, nothing is charged.
    Throttled,
}

impl CostBucket {
    /// The bucket after its refill up to `now`.
    pub fn status(&mut self, now: Instant) -> ThrottleStatus {
        let elapsed = now.saturating_duration_since(self.as_of).as_secs_f64();
        self.available = (self.available + elapsed * self.restore_rate).min(self.maximum_available);
        self.as_of = now;
        ThrottleStatus {
            maximum_available: self.maximum_available,
            currently_available: self.available.floor(),
            restore_rate: self.restore_rate,
        }
    }

    /// Whether a query of `requested` points may run now.
    pub fn ask(&mut self, requested: u32, now: Instant) -> Charge {
        if self.status(now).currently_available < f64::from(requested) {
            Charge::Throttled
        } else {
            Charge::Granted
        }
    }

    /// Takes a query's actual cost out of the bucket.
    pub fn charge(&mut self, actual: u32, now: Instant) {
        self.status(now);
        self.available = (self.available - f64::from(actual)).max(0.0);
    }

    /// Applies a change; a negative or absurd value is refused with a reason.
    pub fn change(&mut self, change: BucketChange, now: Instant) -> Result<ThrottleStatus, String> {
        let valid = |name: &str, value: Option<f64>| match value {
            Some(v) if !v.is_finite() || v < 0.0 => Err(format!("{name} must be 0 or more")),
            _ => Ok(value),
        };
        let maximum = valid("maximum_available", change.maximum_available)?;
        let rate = valid("restore_rate", change.restore_rate)?;
        let available = valid("currently_available", change.currently_available)?;
        self.status(now);
        if let Some(maximum) = maximum {
            self.maximum_available = maximum;
            self.available = self.available.min(maximum);
        }
        if let Some(rate) = rate {
            self.restore_rate = rate;
        }
        if let Some(available) = available {
            self.available = available.min(self.maximum_available);
        }
        Ok(self.status(now))
    }
}

/// A connection's cost for `first` nodes each costing `node` (1 plus their own
/// connections'): 2 plus `first` times `node`.
pub fn connection_cost(first: u32, node: u32) -> u32 {
    first.saturating_mul(node).saturating_add(2)
}

/// `extensions.cost` of an answer; `actual` is `None` for a query that did not run.
pub fn extensions(requested: u32, actual: Option<u32>, status: ThrottleStatus) -> Value {
    json!({
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": status,
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_query_dearer_than_the_bucket_is_throttled_and_charged_nothing() {
        let start = Instant::now();
        let mut bucket = CostBucket::default();
        bucket
            .change(
                BucketChange {
                    currently_available: Some(100.0),
                    restore_rate: Some(50.0),
                    ..BucketChange::default()
                },
                start,
            )
            .unwrap();
        assert_eq!(bucket.ask(652, start), Charge::Throttled);
        assert_eq!(bucket.status(start).currently_available, 100.0);
        // Eleven seconds later the bucket holds 650: still short; twelve: enough.
        assert_eq!(
            bucket.ask(652, start + Duration::from_secs(11)),
            Charge::Throttled
        );
        let later = start + Duration::from_secs(12);
        assert_eq!(bucket.ask(652, later), Charge::Granted);
        bucket.charge(9, later);
        assert_eq!(bucket.status(later).currently_available, 691.0);
    }

    #[test]
    fn the_bucket_refills_no_further_than_its_size() {
        let start = Instant::now();
        let mut bucket = CostBucket::default();
        bucket.charge(1500, start);
        let status = bucket.status(start + Duration::from_secs(3600));
        assert_eq!(status.currently_available, DEFAULT_MAXIMUM);
    }

    #[test]
    fn a_negative_setting_is_refused() {
        let mut bucket = CostBucket::default();
        let change = BucketChange {
            restore_rate: Some(-1.0),
            ..BucketChange::default()
        };
        assert!(bucket.change(change, Instant::now()).is_err());
    }

    #[test]
    fn the_orders_page_costs_two_plus_each_order_and_its_lines() {
        let order = 1 + connection_cost(50, 1) + connection_cost(10, 1);
        assert_eq!(connection_cost(10, order), 652);
    }
}
