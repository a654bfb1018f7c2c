//! Customers: one row per person, whatever the channel, found by email hash or by the
//! channel's own customer id. The address itself is never stored (see [`crate::model::customer_email`]).

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

/// Records a sighting and returns the customer's id. The first and last order times
/// only widen, and the region follows the most recent order, so sightings may arrive in
/// any order and more than once.
pub async fn record_customer(
    conn: &mut PgConnection,
    sighting: &CustomerSighting<'_>,
) -> Result<Uuid, sqlx::Error> {
    let (external_id, email_hash) = match &sighting.identity {
        CustomerIdentity::Email(hash) => (None, Some(hash)),
        CustomerIdentity::External { id, email } => (Some(*id), email.as_ref()),
    };
    let email_bytes = email_hash.map(|hash| hash.as_bytes().as_slice());
    let conflict_target = match sighting.identity {
        CustomerIdentity::Email(_) => "(email_hash) where email_hash is not null",
        CustomerIdentity::External { .. } => "on constraint customers_channel_external_id_key",
    };
    // The conflict target is one of two fixed strings; every value is bound.
    let sql = format!(
        "insert into sales.customers as c
             (channel, external_id, email_hash, region, first_order_at, last_order_at)
         values ($1, $2, $3, $4, $5, $5)
         on conflict {conflict_target} do update set
             email_hash = coalesce(c.email_hash, excluded.email_hash),
             region = case
                 when c.last_order_at is null or excluded.last_order_at >= c.last_order_at
                 then coalesce(excluded.region, c.region)
                 else coalesce(c.region, excluded.region)
             end,
             first_order_at = least(c.first_order_at, excluded.first_order_at),
             last_order_at = greatest(c.last_order_at, excluded.last_order_at)
         returning id"
    );
    sqlx::query_scalar(&sql)
        .bind(sighting.channel.as_str())
        .bind(external_id)
        .bind(email_bytes)
        .bind(sighting.region)
        .bind(sighting.ordered_at)
        .fetch_one(conn)
        .await
}
