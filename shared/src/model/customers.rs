//! Customers: one row per person, whatever the channel, found by email hash or by the
//! channel's own customer id. The address itself is never stored (see [`crate::model::customer_email`]).
//!
//! **The merge rule.** Every sighting of a customer, one from a webhook or thousands from
//! an order file, merges into the stored row the same way: the e-mail hash is kept once
//! known, the first and last order times only widen, and the region follows the most
//! recent order that names one. So sightings may arrive in any order and more than
//! once. The rule is written once in SQL (`MERGE_RULE`) for one set-based statement
//! whatever the number of sightings, and once in memory ([`CustomerVisit::add`]) for the
//! sightings of one customer within a batch.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::model::channel::Channel;
use crate::model::customer_email::EmailHash;

/// What one order (or one webhook) tells about a customer.
#[derive(Debug, Clone)]
pub struct CustomerSighting<'a> {
    channel: Channel,
    identity: CustomerIdentity<'a>,
    /// Where the customer is, as the channel names it (province, county, region).
    pub region: Option<&'a str>,
    /// When the order that mentions the customer was placed.
    pub ordered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
enum CustomerIdentity<'a> {
    Email(EmailHash),
    External {
        id: &'a str,
        email: Option<EmailHash>,
    },
}

impl<'a> CustomerSighting<'a> {
    /// A customer known by email alone, as in an order file: the same address in any
    /// file or channel is the same customer.
    pub fn by_email(channel: Channel, email: EmailHash) -> Self {
        Self {
            channel,
            identity: CustomerIdentity::Email(email),
            region: None,
            ordered_at: None,
        }
    }

    /// A customer known by the channel's own id (a Mirakl customer id), with the email
    /// hash when the channel shares the address.
    pub fn by_external_id(
        channel: Channel,
        external_id: &'a str,
        email: Option<EmailHash>,
    ) -> Self {
        Self {
            channel,
            identity: CustomerIdentity::External {
                id: external_id,
                email,
            },
            region: None,
            ordered_at: None,
        }
    }
}

/// What a batch of an order file says about one customer: the span of their new orders
/// and the region of the latest one that names a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerVisit {
    pub customer: EmailHash,
    /// Their region, from their latest order in the batch that gives one.
    pub region: Option<String>,
    /// Their earliest new order.
    pub first_order_at: DateTime<Utc>,
    /// Their latest new order.
    pub last_order_at: DateTime<Utc>,
}

impl CustomerVisit {
    /// A visit of one order.
    pub fn new(customer: EmailHash, at: DateTime<Utc>, region: Option<&str>) -> Self {
        Self {
            customer,
            region: region.map(str::to_owned),
            first_order_at: at,
            last_order_at: at,
        }
    }

    /// Merges another order of the same customer, by the rule `MERGE_RULE` applies in
    /// the database.
    pub fn add(&mut self, at: DateTime<Utc>, region: Option<&str>) {
        self.first_order_at = self.first_order_at.min(at);
        if at >= self.last_order_at {
            self.last_order_at = at;
            if let Some(region) = region {
                self.region = Some(region.to_owned());
            }
        } else if self.region.is_none() {
            self.region = region.map(str::to_owned);
        }
    }
}

/// The merge rule as the `do update` of an upsert into `sales.customers as c`: how a
/// sighting (`excluded`) merges into the customer it matches. A customer the sighting
/// would not change is not rewritten.
const MERGE_RULE: &str = "
    email_hash = coalesce(c.email_hash, excluded.email_hash),
    region = case
        when c.last_order_at is null or excluded.last_order_at >= c.last_order_at
        then coalesce(excluded.region, c.region)
        else coalesce(c.region, excluded.region)
    end,
    first_order_at = least(c.first_order_at, excluded.first_order_at),
    last_order_at = greatest(c.last_order_at, excluded.last_order_at)
    where (c.email_hash is null and excluded.email_hash is not null)
       or c.first_order_at is null or c.last_order_at is null
       or excluded.first_order_at < c.first_order_at
       or excluded.last_order_at > c.last_order_at
       or (excluded.region is not null and c.region is distinct from excluded.region
           and (c.region is null or excluded.last_order_at >= c.last_order_at))";

/// The unique key a sighting finds its customer by.
#[derive(Debug, Clone, Copy)]
enum MatchBy {
    Email,
    ExternalId,
}

/// Sightings as columns, for one statement.
#[derive(Debug, Default)]
struct Sightings<'a> {
    external_ids: Vec<Option<&'a str>>,
    email_hashes: Vec<Option<&'a [u8]>>,
    regions: Vec<Option<&'a str>>,
    first_order_at: Vec<Option<DateTime<Utc>>>,
    last_order_at: Vec<Option<DateTime<Utc>>>,
}

/// A customer a merge matched: its id, and its e-mail hash to match a visit by.
#[derive(Debug, sqlx::FromRow)]
struct Matched {
    id: Uuid,
    email_hash: Option<Vec<u8>>,
}

/// Inserts the customers not seen before and merges the others by [`MERGE_RULE`], in one
/// statement whatever the number of sightings, and returns every sighting's customer,
/// changed or not (each sighting is of a different customer).
///
/// Matched by the channel's id, a sighting's e-mail hash is attached only when no other
/// customer holds it already: one address is one customer (`customers_email_hash_key`),
/// and a collision must never cost the order.
async fn merge(
    conn: &mut PgConnection,
    channel: Channel,
    match_by: MatchBy,
    sightings: &Sightings<'_>,
) -> Result<Vec<Matched>, sqlx::Error> {
    let (conflict_target, email_hash, matches) = match match_by {
        MatchBy::Email => (
            "(email_hash) where email_hash is not null",
            "s.email_hash",
            "c.email_hash = s.email_hash",
        ),
        MatchBy::ExternalId => (
            "on constraint customers_channel_external_id_key",
            "case when not exists (
                 select from sales.customers h
                 where h.email_hash = s.email_hash
                   and (h.channel <> $1 or h.external_id is distinct from s.external_id))
             then s.email_hash end",
            "c.channel = $1 and c.external_id = s.external_id",
        ),
    };
    // One sighting (a webhook's) is bound as plain values, many (a file's batch) as
    // arrays. An array's length shows in each plan made for its values, so PostgreSQL
    // would plan a statement bound with arrays afresh on every execution, where the one
    // bound with values is planned once per connection and reused: its planning costs
    // several times its execution.
    let one = sightings.external_ids.len() == 1;
    let source = if one {
        "select $2::text as external_id, $3::bytea as email_hash, $4::text as region,
                $5::timestamptz as first_order_at, $6::timestamptz as last_order_at"
    } else {
        "select * from unnest($2::text[], $3::bytea[], $4::text[], $5::timestamptz[],
                              $6::timestamptz[])
             as s(external_id, email_hash, region, first_order_at, last_order_at)"
    };
    // The customers the upsert leaves as they are do not come back from it; the
    // statement's snapshot still shows them as they were, and only them: a row the
    // upsert wrote is returned by it and skipped in the second half. One exception: a
    // customer another transaction inserted and committed while this statement ran
    // (the upsert waited for it, then left it alone) is in neither half, so what is
    // missing is read again, in a statement of its own ([`reread`]).
    // Each interpolated part is one of the fixed strings above; every value is bound.
    let sql = format!(
        "with s as ({source}),
         merged as (
             insert into sales.customers as c
                 (channel, external_id, email_hash, region, first_order_at, last_order_at)
             select $1, s.external_id, {email_hash}, s.region, s.first_order_at,
                    s.last_order_at
             from s
             on conflict {conflict_target} do update set {MERGE_RULE}
             returning c.id, c.email_hash
         )
         select id, email_hash from merged
         union all
         select c.id, c.email_hash
         from sales.customers c join s on {matches}
         where c.id not in (select id from merged)"
    );
    let query = sqlx::query_as(&sql).bind(channel.as_str());
    let query = if one {
        query
            .bind(sightings.external_ids[0])
            .bind(sightings.email_hashes[0])
            .bind(sightings.regions[0])
            .bind(sightings.first_order_at[0])
            .bind(sightings.last_order_at[0])
    } else {
        query
            .bind(&sightings.external_ids)
            .bind(&sightings.email_hashes)
            .bind(&sightings.regions)
            .bind(&sightings.first_order_at)
            .bind(&sightings.last_order_at)
    };
    let matched = query.fetch_all(&mut *conn).await?;
    if matched.len() < sightings.external_ids.len() {
        return reread(conn, channel, match_by, sightings).await;
    }
    Ok(matched)
}

/// Records a sighting and returns the customer's id, in one statement.
pub async fn record_customer(
    conn: &mut PgConnection,
    sighting: &CustomerSighting<'_>,
) -> Result<Uuid, sqlx::Error> {
    let (match_by, external_id, email_hash) = match &sighting.identity {
        CustomerIdentity::Email(hash) => (MatchBy::Email, None, Some(hash)),
        CustomerIdentity::External { id, email } => {
            (MatchBy::ExternalId, Some(*id), email.as_ref())
        }
    };
    let one = Sightings {
        external_ids: vec![external_id],
        email_hashes: vec![email_hash.map(|hash| hash.as_bytes().as_slice())],
        regions: vec![sighting.region],
        first_order_at: vec![sighting.ordered_at],
        last_order_at: vec![sighting.ordered_at],
    };
    let matched = merge(conn, sighting.channel, match_by, &one).await?;
    matched
        .first()
        .map(|customer| customer.id)
        .ok_or(sqlx::Error::RowNotFound)
}

/// The customers of `sightings` as a new statement sees them: for the rare sighting a
/// [`merge`] could not see, a customer committed by another transaction while it ran.
async fn reread(
    conn: &mut PgConnection,
    channel: Channel,
    match_by: MatchBy,
    sightings: &Sightings<'_>,
) -> Result<Vec<Matched>, sqlx::Error> {
    // `as _`: the macros know a bytea array only as `&[Vec<u8>]`, not borrowed slices.
    match match_by {
        MatchBy::Email => {
            sqlx::query_as!(
                Matched,
                "select id, email_hash from sales.customers where email_hash = any($1)",
                &sightings.email_hashes as _,
            )
            .fetch_all(conn)
            .await
        }
        MatchBy::ExternalId => {
            sqlx::query_as!(
                Matched,
                "select id, email_hash from sales.customers
             where channel = $1 and external_id = any($2)",
                channel.as_str(),
                &sightings.external_ids as _,
            )
            .fetch_all(conn)
            .await
        }
    }
}

/// Records the customers of a batch of `channel`'s orders, known by e-mail, and returns
/// their ids by e-mail hash.
pub async fn record_customer_visits(
    conn: &mut PgConnection,
    channel: Channel,
    visits: &[CustomerVisit],
) -> Result<HashMap<EmailHash, Uuid>, sqlx::Error> {
    if visits.is_empty() {
        return Ok(HashMap::new());
    }
    let hashes: Vec<&[u8]> = visits
        .iter()
        .map(|visit| visit.customer.as_bytes().as_slice())
        .collect();
    let sightings = Sightings {
        external_ids: vec![None; visits.len()],
        email_hashes: hashes.iter().copied().map(Some).collect(),
        regions: visits.iter().map(|visit| visit.region.as_deref()).collect(),
        first_order_at: visits
            .iter()
            .map(|visit| Some(visit.first_order_at))
            .collect(),
        last_order_at: visits
            .iter()
            .map(|visit| Some(visit.last_order_at))
            .collect(),
    };
    let matched = merge(conn, channel, MatchBy::Email, &sightings).await?;
    Ok(matched
        .into_iter()
        .filter_map(|customer| {
            let hash = EmailHash::from_stored(customer.email_hash.as_deref()?)?;
            Some((hash, customer.id))
        })
        .collect())
}
