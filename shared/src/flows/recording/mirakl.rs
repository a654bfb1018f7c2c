//! Best Buy (Mirakl) orders and message threads, and the follow-up work they cause.
//!
//! Follow-ups go through the outbox in the caller's transaction, each under a
//! deduplication id that names the work, so however often an event is recorded the
//! work is queued once:
//! - an order waiting for acceptance → accept queue, `accept:bestbuy_ca:<order id>`;
//! - an order in `SHIPPING` without a shipment → label queue,
//!   `label:bestbuy_ca:<order id>:shipping`;
//! - a new customer message not yet answered in its thread → reply queue,
//!   `reply:<message id>`.
//!
//! In the same transaction the order's stock follows its state
//! ([`stock::follow_marketplace_order`]): lines cancelled, refused or refunded in full
//! release their reservations with that reason, and shipped lines consume theirs.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::checks::{mirakl_data_problems, CheckedOrder};
use super::data_problems::record_data_problems;
use super::order::{
    record_order, ChannelOrder, ChannelOrderLine, OrderChange, OrderCustomer, OrderStatus,
    RecordedOrder, ShipTo,
};
use super::{hash_email, SeenBy};
use crate::flows::fulfilment::stock::{self, MarketplaceLine};
use crate::flows::sales_aggregates::SalesDays;
use crate::model::channel::Channel;
use crate::model::conversation::{ConversationStatus, SenderType};
use crate::model::customer_email::EmailPepper;
use crate::model::personal_data::{redact_email_addresses, redact_json};
use crate::model::received::Received;
use crate::ops::outbox::{enqueue, WorkQueue};
use crate::systems::mirakl::order_state::OrderState;
use crate::systems::mirakl::orders::{MiraklAddress, MiraklOrder};
use crate::systems::mirakl::threads::MiraklThread;

const CHANNEL: Channel = Channel::BestBuyCa;

/// What recording a Mirakl order did, follow-ups included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedMiraklOrder {
    /// The order itself.
    pub order: RecordedOrder,
    /// Outbox messages newly written (0 when they existed already).
    pub follow_ups: u32,
    /// Data problems raised for this version (`ops.data_problems`).
    pub data_problems: u32,
}

/// Records one checked Mirakl order and queues its follow-up work, in the caller's
/// transaction, noting its day in `days` (recomputed or noted as stale once per transaction).
/// A state not known is stored as `UNKNOWN`; it and a total that disagrees with the
/// lines are raised in `ops.data_problems` ([`mirakl_data_problems`]).
pub async fn record_mirakl_order(
    tx: &mut PgConnection,
    checked: &CheckedOrder<MiraklOrder>,
    pepper: &EmailPepper,
    seen_by: SeenBy,
    days: &mut SalesDays,
) -> Result<RecordedMiraklOrder, sqlx::Error> {
    let received = checked.received();
    let order = &received.value;
    let address = order.customer.shipping_address.as_ref();
    let channel_order = ChannelOrder {
        channel: CHANNEL,
        external_id: &order.order_id,
        commercial_id: order.commercial_id.as_deref(),
        status: known_or_unknown(&order.order_state),
        currency: &order.currency_iso_code,
        subtotal: Some(order.price),
        shipping: order.shipping_price,
        tax: Some(order.order_lines.iter().map(|line| line.tax_total()).sum()),
        commission: order.total_commission,
        total: order.total_price,
        payment_method: order.payment().map(payment_method),
        placed_at: order.created_date,
        last_updated_at: order.last_updated_date,
        shipping_deadline: order.shipping_deadline,
        shipping_method_code: order.shipping_type_code.as_deref(),
        ship_to: address.map(ship_to),
        customer: Some(OrderCustomer {
            external_id: &order.customer.customer_id,
            email: hash_email(order.customer_notification_email.as_deref(), pepper),
            region: address.and_then(|a| a.state.as_deref()),
        }),
        lines: order
            .order_lines
            .iter()
            .map(|line| ChannelOrderLine {
                external_line_id: &line.order_line_id,
                line_number: line.order_line_index,
                sku: &line.offer_sku,
                title: line.product_title.as_deref(),
                quantity: line.quantity,
                unit_price: line.price_unit,
                line_total: line.price,
                shipping: line.shipping_price,
                tax: Some(line.tax_total()),
                status: line.order_line_state.as_ref().map(known_or_unknown),
            })
            .collect(),
        raw_payload: received.raw(),
    };
    let recorded = record_order(tx, &channel_order, seen_by, days).await?;
    let (follow_ups, data_problems) = if recorded.change == OrderChange::Unchanged {
        // An older (or the same) version: what it would cause was queued, its stock
        // followed and its problems raised when the stored version was recorded.
        (0, 0)
    } else {
        let problems = mirakl_data_problems(order);
        let first_version = recorded.change == OrderChange::Created;
        record_data_problems(tx, CHANNEL, &order.order_id, &problems, first_version).await?;
        follow_stock(tx, recorded.order_id, order).await?;
        let follow_ups = queue_order_follow_ups(tx, recorded.order_id, order).await?;
        (
            follow_ups,
            u32::try_from(problems.len()).unwrap_or(u32::MAX),
        )
    };
    Ok(RecordedMiraklOrder {
        order: recorded,
        follow_ups,
        data_problems,
    })
}

/// A state as stored: Mirakl's word when sellerops knows it, otherwise `UNKNOWN`.
fn known_or_unknown(state: &OrderState) -> OrderStatus {
    match state {
        OrderState::Other(_) => OrderStatus::Unknown,
        known => OrderStatus::Mirakl(known.clone()),
    }
}

async fn follow_stock(
    tx: &mut PgConnection,
    order_id: Uuid,
    order: &MiraklOrder,
) -> Result<(), sqlx::Error> {
    let lines: Vec<MarketplaceLine<'_>> = order
        .order_lines
        .iter()
        .map(|line| MarketplaceLine {
            external_line_id: &line.order_line_id,
            state: line.order_line_state.as_ref(),
            refunded_in_full: line.refunded_in_full(),
        })
        .collect();
    let followed =
        stock::follow_marketplace_order(tx, order_id, &order.order_state, &lines).await?;
    if followed != stock::StockFollowed::default() {
        tracing::info!(order = %order.order_id, state = %order.order_state,
            released = followed.released, consumed = followed.consumed,
            "reservations follow the order");
    }
    Ok(())
}

async fn queue_order_follow_ups(
    tx: &mut PgConnection,
    order_id: Uuid,
    order: &MiraklOrder,
) -> Result<u32, sqlx::Error> {
    let body = json!({
        "order_id": order_id,
        "channel": CHANNEL.as_str(),
        "external_id": order.order_id,
    });
    let queued = match order.order_state {
        OrderState::WaitingAcceptance => {
            let dedup_id = format!("accept:{CHANNEL}:{}", order.order_id);
            enqueue(tx, WorkQueue::Accept, &dedup_id, &body).await?
        }
        OrderState::Shipping => {
            let has_shipment = sqlx::query_scalar!(
                r#"select exists (select 1 from sales.shipments where order_id = $1) as "exists!""#,
                order_id,
            )
            .fetch_one(&mut *tx)
            .await?;
            if has_shipment {
                false
            } else {
                let dedup_id = format!("label:{CHANNEL}:{}:shipping", order.order_id);
                enqueue(tx, WorkQueue::Label, &dedup_id, &body).await?
            }
        }
        _ => false,
    };
    Ok(u32::from(queued))
}

fn payment_method(kind: &str) -> &'static str {
    let kind = kind.to_ascii_lowercase();
    let cards = [
        "visa",
        "master",
        "amex",
        "american express",
        "card",
        "discover",
    ];
    if cards.iter().any(|card| kind.contains(card)) {
        "card"
    } else {
        "other"
    }
}

fn ship_to(address: &MiraklAddress) -> ShipTo {
    let name = [address.firstname.as_deref(), address.lastname.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    ShipTo {
        name: Some(name).filter(|n| !n.is_empty()),
        company: address.company.clone(),
        line1: address.street_1.clone(),
        line2: address.street_2.clone(),
        city: address.city.clone(),
        province: address.state.clone(),
        postal_code: address.zip_code.clone(),
        country_code: address.country_iso_code.as_deref().and_then(alpha2),
        phone: address.phone.clone(),
    }
}

/// Mirakl sends ISO alpha-3; `sales.orders` keeps alpha-2.
fn alpha2(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    match code.as_str() {
        "CAN" => Some("CA".into()),
        "USA" => Some("US".into()),
        two if two.len() == 2 && two.bytes().all(|b| b.is_ascii_uppercase()) => Some(code),
        _ => None,
    }
}

/// What recording a thread did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedThread {
    /// `support.conversations.id`.
    pub conversation_id: Uuid,
    /// Messages seen for the first time.
    pub new_messages: u32,
    /// Reply-queue messages newly written.
    pub follow_ups: u32,
}

/// Records one Mirakl thread and its messages in the caller's transaction, and queues
/// each new customer message that the shop has not answered since.
pub async fn record_mirakl_thread(
    tx: &mut PgConnection,
    received: &Received<MiraklThread>,
) -> Result<RecordedThread, sqlx::Error> {
    let thread = &received.value;
    let last_message_at = thread.messages.iter().map(|m| m.value.date_created).max();
    let conversation_id = sqlx::query_scalar!(
        r#"insert into support.conversations as c (
             channel, external_id, customer_id, order_id, subject, topic, last_message_at,
             raw_payload)
         values ($1::text, $2,
                 (select id from sales.customers where channel = $1 and external_id = $3),
                 (select id from sales.orders where channel = $1 and external_id = $4),
                 $5, $6, $7, $8::text::jsonb)
         on conflict on constraint conversations_channel_external_id_key do update set
             customer_id = coalesce(c.customer_id, excluded.customer_id),
             order_id = coalesce(c.order_id, excluded.order_id),
             last_message_at = greatest(c.last_message_at, excluded.last_message_at),
             -- The newer version of the thread wins; an older one only fills gaps.
             subject = case when c.raw_payload ->> 'date_updated' is null
                                 or (c.raw_payload ->> 'date_updated')::timestamptz <= $9
                            then excluded.subject else c.subject end,
             topic = case when c.raw_payload ->> 'date_updated' is null
                               or (c.raw_payload ->> 'date_updated')::timestamptz <= $9
                          then excluded.topic else c.topic end,
             raw_payload = case when c.raw_payload ->> 'date_updated' is null
                                 or (c.raw_payload ->> 'date_updated')::timestamptz <= $9
                            then excluded.raw_payload else c.raw_payload end
         returning id as "id!""#,
        CHANNEL.as_str(),
        &thread.id,
        thread.customer_id(),
        thread.order_id(),
        thread.topic.as_ref().and_then(|t| t.value.as_deref()),
        thread.topic.as_ref().map(|t| t.kind.as_str()),
        last_message_at,
        redact_json(received.raw()),
        thread.date_updated,
    )
    .fetch_one(&mut *tx)
    .await?;

    let messages = &thread.messages;
    // `as _`: the macros type-check a text array only as `&[String]`, not the borrowed
    // or nullable elements bound here; the casts in the SQL fix each array's type.
    let inserted = sqlx::query!(
        r#"insert into support.messages (
             conversation_id, channel, external_id, sender_type, sender_name, body, sent_at,
             raw_payload)
         select $1, $2, m.external_id, m.sender_type, m.sender_name,
                m.body, m.sent_at, m.raw::jsonb
         from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
                     $8::text[])
              as m(external_id, sender_type, sender_name, body, sent_at, raw)
         on conflict on constraint messages_channel_external_id_key do nothing
         returning id, external_id as "external_id!", sender_type as "sender_type: SenderType",
             sent_at"#,
        conversation_id,
        CHANNEL.as_str() as &str,
        messages
            .iter()
            .map(|m| m.value.id.as_str())
            .collect::<Vec<_>>() as _,
        messages
            .iter()
            .map(|m| m.value.from.sender_type())
            .collect::<Vec<_>>() as _,
        messages
            .iter()
            .map(|m| m.value.from.display_name.as_deref())
            .collect::<Vec<_>>() as _,
        messages
            .iter()
            .map(|m| redact_email_addresses(&m.value.body))
            .collect::<Vec<_>>() as _,
        &messages
            .iter()
            .map(|m| m.value.date_created)
            .collect::<Vec<_>>(),
        messages
            .iter()
            .map(|m| redact_json(m.raw()))
            .collect::<Vec<_>>() as _,
    )
    .fetch_all(&mut *tx)
    .await?;

    // The shop's latest answer in the thread: customer messages before it are answered.
    let last_shop_answer = messages
        .iter()
        .filter(|m| m.value.from.sender_type() != SenderType::Customer)
        .map(|m| m.value.date_created)
        .max();
    let mut follow_ups = 0;
    for message in &inserted {
        let answered = last_shop_answer.is_some_and(|answer| answer >= message.sent_at);
        if message.sender_type != SenderType::Customer || answered {
            continue;
        }
        let body = json!({
            "message_id": message.id,
            "conversation_id": conversation_id,
            "thread_id": thread.id,
        });
        let dedup_id = format!("reply:{}", message.external_id);
        if enqueue(tx, WorkQueue::Reply, &dedup_id, &body).await? {
            follow_ups += 1;
        }
    }
    if follow_ups > 0 {
        sqlx::query!(
            "update support.conversations set status = $2 where id = $1",
            conversation_id,
            ConversationStatus::Unread as ConversationStatus,
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(RecordedThread {
        conversation_id,
        new_messages: u32::try_from(inserted.len()).unwrap_or(u32::MAX),
        follow_ups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_brands_are_card_payments() {
        assert_eq!(payment_method("VISA"), "card");
        assert_eq!(payment_method("MasterCard"), "card");
        assert_eq!(payment_method("PayPal"), "other");
    }

    #[test]
    fn country_codes_become_alpha_2() {
        assert_eq!(alpha2("CAN").as_deref(), Some("CA"));
        assert_eq!(alpha2("ca").as_deref(), Some("CA"));
        assert_eq!(alpha2("Canada"), None);
    }
}
