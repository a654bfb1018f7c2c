//! Recording one snapshot of a product's offers, in one transaction.
//!
//! 1. The competitor product is upserted by `(channel, external_id)` (the ASIN) and its
//!    row locked: two deliveries of notifications about one product take turns.
//! 2. The known offers of the snapshot's condition are read. When one of them was
//!    written from a report as recent as this one, the snapshot is a redelivery (or
//!    arrived after a newer one) and nothing is written.
//! 3. The seller's listings of the product are linked to it (`tracked_listings`).
//! 4. Offers are upserted, one statement for all; known ones missing from a complete
//!    list are marked out of stock.
//! 5. The product's current figures are updated and its price history appended.
//! 6. The alerts of [`super::changes::detect_changes`] are inserted, keyed by product,
//!    kind, seller and observation time, so the same change is never raised twice.
//!
//! The seller's affected listings are returned in every case, a redelivery included:
//! re-evaluating them is harmless, and it finishes the work of an attempt that
//! recorded the snapshot but failed before the evaluation.

use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::changes::{detect_changes, AlertDraft, KnownOffer};
use super::snapshot::OfferSnapshot;
use crate::flows::pricing::decimal_from_json;
use crate::flows::pricing::load::OWN_SELLER_IDS_KEY;
use crate::ops::errors::ProcessError;
use crate::systems::amazon::offer_changed::{AnyOfferChanged, NOTIFICATION_TYPE};

/// The settings recording reads from `ops.settings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompetitorSettings {
    /// `pricing.own_seller_ids`: offers under these are the seller's own.
    pub own_seller_ids: Vec<String>,
    /// `competitors.price_alert_threshold_pct`: the smallest price change, in percent,
    /// that raises an alert.
    pub price_alert_threshold_pct: Decimal,
}

impl Default for CompetitorSettings {
    fn default() -> Self {
        Self {
            own_seller_ids: Vec::new(),
            price_alert_threshold_pct: Decimal::from(5),
        }
    }
}

const OWN_SELLER_IDS: &str = OWN_SELLER_IDS_KEY;
const THRESHOLD: &str = "competitors.price_alert_threshold_pct";

impl CompetitorSettings {
    /// Reads the settings; an absent one keeps its default.
    ///
    /// # Errors
    /// A setting that holds the wrong kind of value is a permanent error naming its key.
    pub async fn load<'e>(executor: impl PgExecutor<'e>) -> Result<Self, ProcessError> {
        let rows = sqlx::query!(
            "select key, value from ops.settings where key = any($1)",
            &[OWN_SELLER_IDS.to_owned(), THRESHOLD.to_owned()] as &[String],
        )
        .fetch_all(executor)
        .await
        .map_err(|err| ProcessError::database("reading the competitor settings", err))?;
        let mut settings = Self::default();
        for row in rows {
            settings.apply(&row.key, &row.value)?;
        }
        Ok(settings)
    }

    fn apply(&mut self, key: &str, value: &Value) -> Result<(), ProcessError> {
        let refuse = |problem: String| {
            ProcessError::permanent(format!("setting {key} in ops.settings: {problem}"))
        };
        match key {
            OWN_SELLER_IDS => {
                let ids = match value {
                    Value::Null => Vec::new(),
                    Value::Array(ids) => ids
                        .iter()
                        .map(|id| match id {
                            Value::String(id) => Ok(id.trim().to_owned()),
                            other => Err(refuse(format!(
                                "must list the seller's ids as strings, found {other}"
                            ))),
                        })
                        .collect::<Result<_, _>>()?,
                    other => {
                        return Err(refuse(format!(
                            "must be a list of the seller's ids, got {other}"
                        )))
                    }
                };
                self.own_seller_ids = ids;
            }
            THRESHOLD => {
                let pct = decimal_from_json(value).map_err(refuse)?;
                if pct <= Decimal::ZERO {
                    return Err(refuse(format!("must be above 0 (percent), got {pct}")));
                }
                self.price_alert_threshold_pct = pct;
            }
            _ => {}
        }
        Ok(())
    }
}

/// What recording a snapshot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedOffers {
    /// The competitor product (`competitors.products.id`).
    pub competitor_id: Uuid,
    /// The seller's listings of the product, to re-evaluate.
    pub affected_listing_ids: Vec<Uuid>,
    /// The alerts raised.
    pub alerts: Vec<AlertDraft>,
    /// Whether the snapshot was older than what was recorded (a redelivery), so
    /// nothing was written.
    pub stale: bool,
}

/// Records `snapshot` (see the module documentation); `raw_payload` is the document it
/// was read from, kept on the product for audit.
///
/// # Errors
/// Database failures, classified retryable or permanent.
pub async fn record_offers(
    pool: &PgPool,
    snapshot: &OfferSnapshot,
    raw_payload: Option<&Value>,
    settings: &CompetitorSettings,
) -> Result<RecordedOffers, ProcessError> {
    let db = |what: &'static str| {
        move |err| ProcessError::database(format!("recording competitor offers: {what}"), err)
    };
    let channel = snapshot.channel.as_str();
    let mut tx = pool.begin().await.map_err(db("beginning"))?;

    sqlx::query!(
        "insert into competitors.products (channel, external_id, marketplace_id, currency)
         values ($1::text::sales.channel, $2, $3, $4::text::ops.currency_code)
         on conflict (channel, external_id) do nothing",
        channel,
        snapshot.product_id,
        snapshot.marketplace_id,
        snapshot.currency.code(),
    )
    .execute(&mut *tx)
    .await
    .map_err(db("upserting the product"))?;
    let competitor_id = sqlx::query_scalar!(
        "select id from competitors.products
         where channel = $1::text::sales.channel and external_id = $2
         for update",
        channel,
        snapshot.product_id,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db("locking the product"))?;

    let known_rows = sqlx::query!(
        "select seller_id, is_own, landed_price, is_buy_box, in_stock, observed_at
         from competitors.offers
         where competitor_id = $1 and item_condition = $2",
        competitor_id,
        snapshot.condition,
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db("reading the known offers"))?;
    let stale = known_rows
        .iter()
        .any(|row| row.observed_at >= snapshot.observed_at);

    let affected_listing_ids = if stale {
        tracked_listings(&mut tx, competitor_id).await?
    } else {
        sqlx::query!(
            "insert into competitors.tracked_listings (competitor_id, listing_id)
             select $1, l.id from catalog.shop_sku_map l
             where l.channel = $2::text::sales.channel and l.channel_product_id = $3
             on conflict do nothing",
            competitor_id,
            channel,
            snapshot.product_id,
        )
        .execute(&mut *tx)
        .await
        .map_err(db("linking the seller's listings"))?;
        tracked_listings(&mut tx, competitor_id).await?
    };
    if stale {
        tx.commit().await.map_err(db("committing"))?;
        return Ok(RecordedOffers {
            competitor_id,
            affected_listing_ids,
            alerts: Vec::new(),
            stale: true,
        });
    }

    let known: Vec<KnownOffer> = known_rows
        .into_iter()
        .map(|row| KnownOffer {
            seller_id: row.seller_id,
            is_own: row.is_own,
            landed_price: row.landed_price,
            is_buy_box: row.is_buy_box,
            in_stock: row.in_stock,
        })
        .collect();
    let alerts = detect_changes(&known, snapshot, settings.price_alert_threshold_pct);

    write_offers(&mut tx, competitor_id, snapshot).await?;

    let lowest = snapshot.lowest_competing();
    let buy_box = snapshot.buy_box();
    sqlx::query!(
        "update competitors.products set
             marketplace_id = coalesce($2, marketplace_id),
             currency = $3::text::ops.currency_code,
             current_price = $4,
             seller_id = $5,
             buy_box_price = $6,
             buy_box_seller = $7,
             current_bsr = coalesce($8, current_bsr),
             last_synced_at = $9,
             raw_payload = coalesce($10, raw_payload)
         where id = $1",
        competitor_id,
        snapshot.marketplace_id,
        snapshot.currency.code(),
        lowest.map(|offer| offer.landed_price()),
        lowest.map(|offer| offer.seller_id.clone()),
        buy_box.map(|offer| offer.landed_price()),
        buy_box.map(|offer| offer.seller_id.clone()),
        snapshot
            .sales_rank
            .and_then(|rank| i32::try_from(rank).ok()),
        snapshot.observed_at,
        raw_payload,
    )
    .execute(&mut *tx)
    .await
    .map_err(db("updating the product"))?;

    sqlx::query!(
        "insert into competitors.price_history
             (competitor_id, observed_at, price, currency, buy_box_price, bsr, source)
         values ($1, $2, $3, $4::text::ops.currency_code, $5, $6, $7)
         on conflict (competitor_id, observed_at) do nothing",
        competitor_id,
        snapshot.observed_at,
        lowest.map(|offer| offer.landed_price()),
        snapshot.currency.code(),
        buy_box.map(|offer| offer.landed_price()),
        snapshot
            .sales_rank
            .and_then(|rank| i32::try_from(rank).ok()),
        history_source(snapshot),
    )
    .execute(&mut *tx)
    .await
    .map_err(db("appending the price history"))?;

    if !alerts.is_empty() {
        let kinds: Vec<String> = alerts.iter().map(|a| a.kind.as_str().to_owned()).collect();
        let severities: Vec<String> = alerts
            .iter()
            .map(|a| a.severity.as_str().to_owned())
            .collect();
        let sellers: Vec<Option<String>> = alerts.iter().map(|a| a.seller_id.clone()).collect();
        let previous: Vec<Option<String>> =
            alerts.iter().map(|a| a.previous_value.clone()).collect();
        let new: Vec<Option<String>> = alerts.iter().map(|a| a.new_value.clone()).collect();
        let change: Vec<Option<Decimal>> = alerts.iter().map(|a| a.change_pct).collect();
        sqlx::query!(
            "insert into competitors.alerts
                 (competitor_id, alert_type, severity, seller_id, previous_value, new_value,
                  change_pct, affected_listing_ids, observed_at)
             select $1, kind, severity, seller, previous, new, change, $8, $9
             from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::numeric[])
                 as alert (kind, severity, seller, previous, new, change)
             on conflict do nothing",
            competitor_id,
            &kinds,
            &severities,
            &sellers as &[Option<String>],
            &previous as &[Option<String>],
            &new as &[Option<String>],
            &change as &[Option<Decimal>],
            &affected_listing_ids,
            snapshot.observed_at,
        )
        .execute(&mut *tx)
        .await
        .map_err(db("raising the alerts"))?;
    }

    tx.commit().await.map_err(db("committing"))?;
    Ok(RecordedOffers {
        competitor_id,
        affected_listing_ids,
        alerts,
        stale: false,
    })
}

async fn tracked_listings(
    tx: &mut sqlx::PgConnection,
    competitor_id: Uuid,
) -> Result<Vec<Uuid>, ProcessError> {
    sqlx::query_scalar!(
        "select listing_id from competitors.tracked_listings
         where competitor_id = $1 order by listing_id",
        competitor_id,
    )
    .fetch_all(tx)
    .await
    .map_err(|err| {
        ProcessError::database(
            "recording competitor offers: reading the tracked listings",
            err,
        )
    })
}

async fn write_offers(
    tx: &mut sqlx::PgConnection,
    competitor_id: Uuid,
    snapshot: &OfferSnapshot,
) -> Result<(), ProcessError> {
    let db = |what: &'static str| {
        move |err| ProcessError::database(format!("recording competitor offers: {what}"), err)
    };
    let offers = &snapshot.offers;
    let sellers: Vec<String> = offers.iter().map(|o| o.seller_id.clone()).collect();
    let own: Vec<bool> = offers.iter().map(|o| o.is_own).collect();
    let listing: Vec<Decimal> = offers.iter().map(|o| o.listing_price).collect();
    let shipping: Vec<Decimal> = offers.iter().map(|o| o.shipping).collect();
    let landed: Vec<Decimal> = offers.iter().map(|o| o.landed_price()).collect();
    let buy_box: Vec<bool> = offers.iter().map(|o| o.is_buy_box).collect();
    let fulfilled: Vec<bool> = offers.iter().map(|o| o.is_fulfilled_by_channel).collect();
    let in_stock: Vec<bool> = offers.iter().map(|o| o.in_stock).collect();
    sqlx::query!(
        "insert into competitors.offers
             (competitor_id, item_condition, seller_id, is_own, listing_price, shipping,
              landed_price, currency, is_buy_box, is_fulfilled_by_amazon, in_stock, observed_at)
         select $1, $2, seller, own, listing, shipping, landed, $3::text::ops.currency_code,
                buy_box, fulfilled, in_stock, $4
         from unnest($5::text[], $6::bool[], $7::numeric[], $8::numeric[], $9::numeric[],
                     $10::bool[], $11::bool[], $12::bool[])
             as offer (seller, own, listing, shipping, landed, buy_box, fulfilled, in_stock)
         on conflict (competitor_id, item_condition, seller_id) do update set
             is_own = excluded.is_own,
             listing_price = excluded.listing_price,
             shipping = excluded.shipping,
             landed_price = excluded.landed_price,
             currency = excluded.currency,
             is_buy_box = excluded.is_buy_box,
             is_fulfilled_by_amazon = excluded.is_fulfilled_by_amazon,
             in_stock = excluded.in_stock,
             observed_at = excluded.observed_at",
        competitor_id,
        snapshot.condition,
        snapshot.currency.code(),
        snapshot.observed_at,
        &sellers,
        &own,
        &listing,
        &shipping,
        &landed,
        &buy_box,
        &fulfilled,
        &in_stock,
    )
    .execute(&mut *tx)
    .await
    .map_err(db("writing the offers"))?;

    // Offers missing from the report: gone from a complete list, they cannot be bought
    // any more; missing from a full one, only their observation time moves on.
    sqlx::query!(
        "update competitors.offers set
             in_stock = in_stock and not $4,
             is_buy_box = is_buy_box and not $4,
             observed_at = $5
         where competitor_id = $1 and item_condition = $2 and seller_id <> all($3)",
        competitor_id,
        snapshot.condition,
        &sellers,
        snapshot.complete,
        snapshot.observed_at,
    )
    .execute(&mut *tx)
    .await
    .map_err(db("marking the missing offers"))?;
    Ok(())
}

fn history_source(snapshot: &OfferSnapshot) -> &'static str {
    match snapshot.channel {
        crate::model::channel::Channel::Amazon => "sp_api",
        _ => "mirakl",
    }
}

/// Records an SP-API notification as it came off the pricing queue: an
/// `ANY_OFFER_CHANGED` one is read ([`AnyOfferChanged::parse`]) and its offers recorded
/// with the seller's own told apart; the document is kept on the competitor product.
///
/// # Errors
/// Permanent for another notification type or a notification that cannot be read
/// (naming the field); database failures classified retryable or permanent.
pub async fn record_notification(
    pool: &PgPool,
    notification: &Value,
) -> Result<RecordedOffers, ProcessError> {
    let notification_type = notification
        .get("NotificationType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if notification_type != NOTIFICATION_TYPE {
        return Err(ProcessError::permanent(format!(
            "SP-API notification {notification_type:?} is not read: the pricing queue \
             takes {NOTIFICATION_TYPE}"
        )));
    }
    let parsed = AnyOfferChanged::parse(&notification.to_string()).map_err(|err| {
        ProcessError::permanent(format!("SP-API {NOTIFICATION_TYPE} notification: {err}"))
    })?;
    let settings = CompetitorSettings::load(pool).await?;
    let snapshot = OfferSnapshot::from_notification(&parsed, &settings.own_seller_ids);
    let recorded = record_offers(pool, &snapshot, Some(notification), &settings).await?;
    tracing::info!(
        notification_id = %parsed.notification_metadata.notification_id,
        asin = %snapshot.product_id,
        offers = snapshot.offers.len(),
        alerts = recorded.alerts.len(),
        listings = recorded.affected_listing_ids.len(),
        stale = recorded.stale,
        "competitor offers recorded"
    );
    Ok(recorded)
}
