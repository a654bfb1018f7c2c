//! Shopify orders into the canonical order tables, customers into the
//! `etl.shopify_customers` envelope (the raw document less its personal data).

use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::checks::{shopify_data_problems, CheckedOrder};
use super::data_problems::record_data_problems;
use super::order::{
    record_channel_customer, record_order, ChannelOrder, ChannelOrderLine, OrderChange,
    OrderCustomer, OrderStatus, RecordedOrder, ShipTo,
};
use super::{hash_email, SeenBy};
use crate::flows::sales_aggregates::SalesDays;
use crate::model::channel::Channel;
use crate::model::customer_email::EmailPepper;
use crate::model::personal_data::redact_json;
use crate::model::received::Received;
use crate::systems::shopify::{ShopifyCustomer, ShopifyOrder};

/// Records a checked Shopify order through the shared order path, in the caller's
/// transaction, noting its day in `days` (recomputed or noted as stale once per transaction).
/// The webhook and the reconciliation both come here (`seen_by` says which): the same
/// version of an order seen by both is recorded once (`updated_at` decides).
/// A total that disagrees with the lines is raised in `ops.data_problems`
/// ([`shopify_data_problems`]).
pub async fn record_shopify_order(
    tx: &mut PgConnection,
    checked: &CheckedOrder<ShopifyOrder>,
    pepper: &EmailPepper,
    seen_by: SeenBy,
    days: &mut SalesDays,
) -> Result<RecordedOrder, sqlx::Error> {
    let received = checked.received();
    let order = &received.value;
    let external_id = order.id.to_string();
    let customer_id = order.customer.as_ref().map(|c| c.id.to_string());
    let email = order
        .customer
        .as_ref()
        .and_then(|c| c.email.as_deref())
        .or(order.email.as_deref());
    let address = order.shipping_address.as_ref();
    let line_ids: Vec<String> = order.line_items.iter().map(|l| l.id.to_string()).collect();
    let lines = order
        .line_items
        .iter()
        .zip(&line_ids)
        .enumerate()
        .map(|(index, (line, line_id))| ChannelOrderLine {
            external_line_id: line_id,
            line_number: i32::try_from(index + 1).unwrap_or(i32::MAX),
            sku: line.sku.as_deref().unwrap_or(""),
            title: line.title.as_deref(),
            quantity: line.quantity,
            unit_price: line.price,
            line_total: line.price * Decimal::from(line.quantity),
            shipping: None,
            tax: None,
            status: None,
        })
        .collect();
    let channel_order = ChannelOrder {
        channel: Channel::Shopify,
        external_id: &external_id,
        commercial_id: order.name.as_deref(),
        status: OrderStatus::Shopify(order.status()),
        currency: &order.currency,
        subtotal: order.subtotal_price,
        shipping: None,
        tax: order.total_tax,
        commission: None,
        total: order.total_price,
        payment_method: None,
        placed_at: order.created_at,
        last_updated_at: order.updated_at,
        shipping_deadline: None,
        shipping_method_code: None,
        ship_to: address.map(|a| ShipTo {
            name: Some(
                [a.first_name.as_deref(), a.last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .filter(|n| !n.is_empty()),
            company: a.company.clone(),
            line1: a.address1.clone(),
            line2: a.address2.clone(),
            city: a.city.clone(),
            province: a.province_code.clone(),
            postal_code: a.zip.clone(),
            country_code: a
                .country_code
                .clone()
                .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())),
            phone: a.phone.clone(),
        }),
        customer: customer_id.as_deref().map(|id| OrderCustomer {
            external_id: id,
            email: hash_email(email, pepper),
            region: address.and_then(|a| a.province_code.as_deref()),
        }),
        lines,
        raw_payload: received.raw(),
    };
    let recorded = record_order(tx, &channel_order, seen_by, days).await?;
    if recorded.change != OrderChange::Unchanged {
        let problems = shopify_data_problems(order);
        let first_version = recorded.change == OrderChange::Created;
        record_data_problems(tx, Channel::Shopify, &external_id, &problems, first_version).await?;
    }
    Ok(recorded)
}

/// Upserts a customer document into `etl.shopify_customers` (keyed by store and Shopify
/// id) and links it to its `sales.customers` row. Returns that row's id.
pub async fn record_shopify_customer(
    tx: &mut PgConnection,
    shop_domain: &str,
    received: &Received<ShopifyCustomer>,
    pepper: &EmailPepper,
) -> Result<Uuid, sqlx::Error> {
    let customer = &received.value;
    let shopify_id = customer.id.to_string();
    let email = hash_email(customer.email.as_deref(), pepper);
    let customer_id =
        record_channel_customer(tx, Channel::Shopify, &shopify_id, email, None, None).await?;
    sqlx::query!(
        "insert into etl.shopify_customers as s
             (shop_domain, shopify_customer_id, customer_id, email_hash, data)
         values ($1, $2, $3, $4, $5::text::jsonb)
         on conflict on constraint shopify_customers_shop_domain_customer_id_key do update set
             customer_id = excluded.customer_id,
             email_hash = coalesce(excluded.email_hash, s.email_hash),
             data = excluded.data
         where $6::timestamptz is null
            or s.data ->> 'updated_at' is null
            or (s.data ->> 'updated_at')::timestamptz <= $6",
        shop_domain,
        &shopify_id,
        customer_id,
        email.as_ref().map(|hash| hash.as_bytes().as_slice()),
        redact_json(received.raw()),
        customer.updated_at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(customer_id)
}
