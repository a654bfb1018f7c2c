//! One channel order into `sales.orders`, `sales.order_lines`, `sales.customers` and
//! `sales.order_status_history`; its day is noted in the caller's [`SalesDays`], which
//! recomputes or notes the transaction's days for `analytics.sales_aggregates_daily`.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::SeenBy;
use crate::flows::sales_aggregates::SalesDays;
use crate::model::channel::Channel;
use crate::model::customer_email::EmailHash;
use crate::model::customers::{record_customer, CustomerSighting};
use crate::model::personal_data::redact_json;
use crate::systems::mirakl::order_state::OrderState;
use crate::systems::shopify::ShopifyOrderStatus;

/// An order's or a line's status in its channel's own words, as `sales.orders.status`,
/// `sales.order_lines.status` and the status history keep it: each channel's vocabulary
/// is its own, and words a channel adds later are kept as it spells them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderStatus {
    /// A Best Buy (Mirakl) order or line state.
    Mirakl(OrderState),
    /// A Shopify order's status word.
    Shopify(ShopifyOrderStatus),
    /// A state the channel sent that sellerops does not know, stored as `UNKNOWN`
    /// rather than as the channel's word, so no rule reads it as a state it knows. The
    /// word itself is kept in the raw payload and raised in `ops.data_problems`.
    Unknown,
}

impl OrderStatus {
    /// The stored word.
    pub fn as_str(&self) -> &str {
        match self {
            OrderStatus::Mirakl(state) => state.as_str(),
            OrderStatus::Shopify(status) => status.as_str(),
            OrderStatus::Unknown => "UNKNOWN",
        }
    }
}

/// An order as a channel describes it, mapped to sellerops' words.
#[derive(Debug, Clone)]
pub struct ChannelOrder<'a> {
    /// Where it was placed.
    pub channel: Channel,
    /// The channel's id of the order.
    pub external_id: &'a str,
    /// The id the customer sees.
    pub commercial_id: Option<&'a str>,
    pub status: OrderStatus,
    /// ISO 4217 code.
    pub currency: &'a str,
    /// Lines total, shipping excluded.
    pub subtotal: Option<Decimal>,
    /// Shipping charged.
    pub shipping: Option<Decimal>,
    /// Taxes charged.
    pub tax: Option<Decimal>,
    /// The channel's commission.
    pub commission: Option<Decimal>,
    /// What the customer pays.
    pub total: Decimal,
    /// `card` or `other` (the `sales.payment_method` domain).
    pub payment_method: Option<&'static str>,
    /// When the customer placed it.
    pub placed_at: DateTime<Utc>,
    /// When the channel last changed it; the newest version wins.
    pub last_updated_at: DateTime<Utc>,
    /// The latest time to ship.
    pub shipping_deadline: Option<DateTime<Utc>>,
    /// The channel's shipping method.
    pub shipping_method_code: Option<&'a str>,
    /// Where it ships, when the channel says.
    pub ship_to: Option<ShipTo>,
    /// Who bought it, when the channel says.
    pub customer: Option<OrderCustomer<'a>>,
    /// What was bought.
    pub lines: Vec<ChannelOrderLine<'a>>,
    /// The whole document as received; its personal data is redacted before it is stored
    /// ([`redact_json`]): the ship-to columns keep what the label needs.
    pub raw_payload: &'a str,
}

/// A shipping address, flattened as `sales.orders` keeps it.
#[derive(Debug, Clone, Default)]
pub struct ShipTo {
    /// Recipient.
    pub name: Option<String>,
    pub company: Option<String>,
    /// First street line.
    pub line1: Option<String>,
    /// Second street line.
    pub line2: Option<String>,
    pub city: Option<String>,
    /// Province code.
    pub province: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166 alpha-2; anything else is left out.
    pub country_code: Option<String>,
    pub phone: Option<String>,
}

/// The order's customer as the channel knows them.
#[derive(Debug, Clone)]
pub struct OrderCustomer<'a> {
    /// The channel's customer id.
    pub external_id: &'a str,
    /// The hash of their address, when the channel shares one.
    pub email: Option<EmailHash>,
    /// Province or region shipped to.
    pub region: Option<&'a str>,
}

/// One line of a channel order.
#[derive(Debug, Clone)]
pub struct ChannelOrderLine<'a> {
    /// The channel's line id.
    pub external_line_id: &'a str,
    /// 1-based position.
    pub line_number: i32,
    /// The shop SKU, looked up in `catalog.shop_sku_map`.
    pub sku: &'a str,
    /// Title as listed.
    pub title: Option<&'a str>,
    /// Units.
    pub quantity: i32,
    /// Price of one unit.
    pub unit_price: Decimal,
    /// Price of the line, shipping excluded.
    pub line_total: Decimal,
    /// Shipping for the line.
    pub shipping: Option<Decimal>,
    /// Taxes on the line.
    pub tax: Option<Decimal>,
    /// The line's own state, when the channel gives lines one.
    pub status: Option<OrderStatus>,
}

/// What recording did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderChange {
    /// The order was new.
    Created,
    /// A newer version replaced the stored one.
    Updated,
    /// The stored version is as new or newer: nothing was written.
    Unchanged,
}

/// The recorded order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedOrder {
    /// `sales.orders.id`.
    pub order_id: Uuid,
    /// What changed.
    pub change: OrderChange,
    /// Whether a status-history row was appended.
    pub status_changed: bool,
    /// Shop SKUs of lines not (yet) in `catalog.shop_sku_map`; their lines are recorded
    /// without a variant.
    pub unmapped_skus: Vec<String>,
}

/// Records `order` in the caller's transaction and notes its day in `days`, which the
/// caller refreshes or notes as stale once before committing. Safe to repeat; an older version than the
/// stored one changes nothing and notes no day.
pub async fn record_order(
    tx: &mut PgConnection,
    order: &ChannelOrder<'_>,
    seen_by: SeenBy,
    days: &mut SalesDays,
) -> Result<RecordedOrder, sqlx::Error> {
    let customer_id = match &order.customer {
        Some(customer) => Some(
            record_channel_customer(
                tx,
                order.channel,
                customer.external_id,
                customer.email,
                customer.region,
                Some(order.placed_at),
            )
            .await?,
        ),
        None => None,
    };
    let ship_to = order.ship_to.clone().unwrap_or_default();
    let upserted = sqlx::query!(
        r#"insert into sales.orders as o (
             channel, external_id, commercial_id, customer_id, status, currency,
             subtotal_amount, shipping_amount, tax_amount, commission_amount, total_amount,
             payment_method, placed_at, last_updated_at, shipping_deadline, shipping_method_code,
             shipping_name, shipping_company, shipping_line1, shipping_line2, shipping_city,
             shipping_province, shipping_postal_code, shipping_country_code, shipping_phone,
             raw_payload)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20, $21, $22, $23, $24, $25, $26::text::jsonb)
         on conflict on constraint orders_channel_external_id_key do update set
             commercial_id = coalesce(excluded.commercial_id, o.commercial_id),
             customer_id = coalesce(excluded.customer_id, o.customer_id),
             status = excluded.status,
             currency = excluded.currency,
             subtotal_amount = excluded.subtotal_amount,
             shipping_amount = excluded.shipping_amount,
             tax_amount = excluded.tax_amount,
             commission_amount = excluded.commission_amount,
             total_amount = excluded.total_amount,
             payment_method = coalesce(excluded.payment_method, o.payment_method),
             last_updated_at = excluded.last_updated_at,
             shipping_deadline = coalesce(excluded.shipping_deadline, o.shipping_deadline),
             shipping_method_code = coalesce(excluded.shipping_method_code, o.shipping_method_code),
             -- A later version without an address (a cancelled order) keeps the last one.
             shipping_name = coalesce(excluded.shipping_name, o.shipping_name),
             shipping_company = coalesce(excluded.shipping_company, o.shipping_company),
             shipping_line1 = coalesce(excluded.shipping_line1, o.shipping_line1),
             shipping_line2 = coalesce(excluded.shipping_line2, o.shipping_line2),
             shipping_city = coalesce(excluded.shipping_city, o.shipping_city),
             shipping_province = coalesce(excluded.shipping_province, o.shipping_province),
             shipping_postal_code = coalesce(excluded.shipping_postal_code, o.shipping_postal_code),
             shipping_country_code = coalesce(excluded.shipping_country_code, o.shipping_country_code),
             shipping_phone = coalesce(excluded.shipping_phone, o.shipping_phone),
             raw_payload = excluded.raw_payload
         where o.last_updated_at is null or o.last_updated_at < excluded.last_updated_at
         returning id, placed_at, (xmax = 0) as "created!""#,
        order.channel.as_str() as &str,
        order.external_id,
        order.commercial_id,
        customer_id,
        order.status.as_str(),
        order.currency as &str,
        order.subtotal,
        order.shipping,
        order.tax,
        order.commission,
        order.total,
        order.payment_method as Option<&str>,
        order.placed_at,
        order.last_updated_at,
        order.shipping_deadline,
        order.shipping_method_code,
        ship_to.name,
        ship_to.company,
        ship_to.line1,
        ship_to.line2,
        ship_to.city,
        ship_to.province,
        ship_to.postal_code,
        ship_to.country_code,
        ship_to.phone,
        redact_json(order.raw_payload),
    )
    .fetch_optional(&mut *tx)
    .await?
    .map(|row| (row.id, row.placed_at, row.created));

    let Some((order_id, placed_at, created)) = upserted else {
        let order_id = sqlx::query_scalar!(
            "select id from sales.orders where channel = $1 and external_id = $2",
            order.channel.as_str(),
            order.external_id,
        )
        .fetch_one(&mut *tx)
        .await?;
        return Ok(RecordedOrder {
            order_id,
            change: OrderChange::Unchanged,
            status_changed: false,
            unmapped_skus: Vec::new(),
        });
    };

    let unmapped_skus = record_lines(tx, order_id, order).await?;
    // The order row is locked by the upsert until commit, so a concurrent recording of
    // the same order runs this after ours and sees our history row.
    let status_changed = sqlx::query!(
        "insert into sales.order_status_history (order_id, status, changed_at, source)
         select $1, $2, $3, $4
         where (select h.status from sales.order_status_history h
                where h.order_id = $1
                order by h.changed_at desc, h.created_at desc
                limit 1) is distinct from $2",
        order_id,
        order.status.as_str(),
        order.last_updated_at,
        seen_by.as_str(),
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;

    // The day the order counts towards, recomputed from its orders by the day's next
    // refresh: a new order adds to it, a cancelled one or line leaves it.
    // (`placed_at` as stored: a later version never moves it.)
    days.touch(placed_at.date_naive());

    if !unmapped_skus.is_empty() {
        tracing::warn!(channel = %order.channel, order = order.external_id,
            skus = ?unmapped_skus, "order lines with shop SKUs missing from catalog.shop_sku_map");
    }
    Ok(RecordedOrder {
        order_id,
        change: if created {
            OrderChange::Created
        } else {
            OrderChange::Updated
        },
        status_changed,
        unmapped_skus,
    })
}

/// Upserts every line in one statement, resolving SKUs through the shop SKU map.
/// Returns the SKUs the map does not know.
async fn record_lines(
    tx: &mut PgConnection,
    order_id: Uuid,
    order: &ChannelOrder<'_>,
) -> Result<Vec<String>, sqlx::Error> {
    let lines = &order.lines;
    // `as _`: the macros type-check an array parameter only as `&[T]`, not the borrowed
    // or nullable elements bound here; the casts in the SQL fix each array's type.
    let unmapped: Vec<String> = sqlx::query_scalar!(
        "insert into sales.order_lines as l (
             order_id, line_number, external_line_id, sku, variant_id, title, quantity,
             unit_price, currency, line_total, shipping_amount, tax_amount, status)
         select $1, n.line_number, n.external_line_id, n.sku, m.variant_id, n.title,
                n.quantity, n.unit_price, $2, n.line_total, n.shipping_amount, n.tax_amount,
                n.status
         from unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::int[],
                     $8::numeric[], $9::numeric[], $10::numeric[], $11::numeric[], $12::text[])
              as n(line_number, external_line_id, sku, title, quantity, unit_price,
                   line_total, shipping_amount, tax_amount, status)
         left join catalog.shop_sku_map m on m.channel = $13 and m.shop_sku = n.sku
         on conflict on constraint order_lines_order_id_external_line_id_key do update set
             line_number = excluded.line_number,
             sku = excluded.sku,
             variant_id = coalesce(excluded.variant_id, l.variant_id),
             title = excluded.title,
             quantity = excluded.quantity,
             unit_price = excluded.unit_price,
             currency = excluded.currency,
             line_total = excluded.line_total,
             shipping_amount = excluded.shipping_amount,
             tax_amount = excluded.tax_amount,
             status = excluded.status
         returning case when variant_id is null then sku end",
        order_id,
        order.currency as &str,
        &lines.iter().map(|l| l.line_number).collect::<Vec<_>>(),
        lines.iter().map(|l| l.external_line_id).collect::<Vec<_>>() as _,
        lines.iter().map(|l| l.sku).collect::<Vec<_>>() as _,
        lines.iter().map(|l| l.title).collect::<Vec<_>>() as _,
        &lines.iter().map(|l| l.quantity).collect::<Vec<_>>(),
        &lines.iter().map(|l| l.unit_price).collect::<Vec<_>>(),
        &lines.iter().map(|l| l.line_total).collect::<Vec<_>>(),
        lines.iter().map(|l| l.shipping).collect::<Vec<_>>() as _,
        lines.iter().map(|l| l.tax).collect::<Vec<_>>() as _,
        lines
            .iter()
            .map(|l| l.status.as_ref().map(OrderStatus::as_str))
            .collect::<Vec<_>>() as _,
        order.channel.as_str(),
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .flatten()
    .collect();
    Ok(unmapped)
}

/// Records a customer by the channel's id, with the e-mail hash unless another customer
/// holds it already ([`record_customer`]).
pub(crate) async fn record_channel_customer(
    tx: &mut PgConnection,
    channel: Channel,
    external_id: &str,
    email: Option<EmailHash>,
    region: Option<&str>,
    ordered_at: Option<DateTime<Utc>>,
) -> Result<Uuid, sqlx::Error> {
    let mut sighting = CustomerSighting::by_external_id(channel, external_id, email);
    sighting.region = region;
    sighting.ordered_at = ordered_at;
    record_customer(tx, &sighting).await
}
