//! What the guards read from the database: the customer's message, its thread, and
//! the orders it may be about with their shipment.
//!
//! A Best Buy thread is about the order Mirakl ties it to, and addressed to the
//! customer among its participants. A Freshdesk ticket is addressed to its requester,
//! and its order is only what the ticket's words name: it counts as the ticket's order
//! only when it was placed by the requester (the same keyed e-mail hash), and the
//! orders the text may name are the requester's, on any channel. A ticket naming
//! someone else's order is never answered with that order's facts.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::guards::{OrderCandidates, OrderFacts, ShipmentFacts, ThreadEntry, ThreadFacts};
use crate::model::channel::Channel;
use crate::model::conversation::SenderType;
use crate::ops::config::AutoReplyMode;
use crate::systems::mirakl::order_state::OrderState;

/// The customer message being decided.
#[derive(Debug, Clone)]
pub(crate) struct Inbound {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// Where the thread is: Best Buy (Mirakl) or Freshdesk.
    pub channel: Channel,
    /// The thread's id there: Mirakl's thread id, or the Freshdesk ticket id.
    pub thread_id: String,
    pub sender: SenderType,
    pub body: String,
    pub sent_at: DateTime<Utc>,
}

/// A recorded message by its id.
pub(crate) async fn inbound<'e>(
    executor: impl PgExecutor<'e>,
    message_id: Uuid,
) -> Result<Option<Inbound>, sqlx::Error> {
    sqlx::query_as!(
        Inbound,
        r#"select m.id, m.conversation_id, c.channel::text as "channel!: Channel",
                c.external_id as thread_id, m.sender_type as "sender: SenderType", m.body,
                m.sent_at
         from support.messages m
         join support.conversations c on c.id = m.conversation_id
         where m.id = $1"#,
        message_id,
    )
    .fetch_optional(executor)
    .await
}

/// The channel of a recorded conversation.
pub(crate) async fn conversation_channel<'e>(
    executor: impl PgExecutor<'e>,
    conversation_id: Uuid,
) -> Result<Option<Channel>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select channel::text as "channel!: Channel" from support.conversations where id = $1"#,
        conversation_id,
    )
    .fetch_optional(executor)
    .await
}

/// The latest customer message of a Best Buy thread.
pub(crate) async fn latest_customer_message<'e>(
    executor: impl PgExecutor<'e>,
    thread_id: &str,
) -> Result<Option<Inbound>, sqlx::Error> {
    sqlx::query_as!(
        Inbound,
        r#"select m.id, m.conversation_id, c.channel::text as "channel!: Channel",
                c.external_id as thread_id, m.sender_type as "sender: SenderType", m.body,
                m.sent_at
         from support.conversations c
         join support.messages m on m.conversation_id = c.id
         where c.channel = $1 and c.external_id = $2 and m.sender_type = 'customer'
         order by m.sent_at desc, m.created_at desc
         limit 1"#,
        Channel::BestBuyCa.as_str(),
        thread_id,
    )
    .fetch_optional(executor)
    .await
}

/// The conversation, locked until the end of the transaction: decisions in one thread
/// are taken one at a time, each seeing the replies the others stored.
#[derive(Debug, Clone)]
pub(crate) struct Conversation {
    /// The thread's order: Mirakl's, or the one a ticket names when the requester
    /// placed it.
    pub order_id: Option<Uuid>,
    /// The customer: recorded with the thread or found by their Mirakl id; a ticket's
    /// requester, found by the keyed hash of their address.
    pub customer_id: Option<Uuid>,
    /// Whom the reply addresses: the customer's Mirakl id, from the customer or the
    /// thread's participants; a ticket's requester (Freshdesk's contact id, or
    /// `requester` when only their e-mail hash is known).
    pub customer_participant: Option<String>,
    /// The thread's Mirakl order id, recorded as an order or not (none on a ticket).
    pub thread_order_id: Option<String>,
    /// The channel of the customer's orders the text may name: Best Buy's for a
    /// thread, any (`None`) for a ticket.
    pub orders_channel: Option<String>,
}

/// The conversation of `inbound`, locked.
pub(crate) async fn lock_conversation(
    tx: &mut PgConnection,
    inbound: &Inbound,
) -> Result<Conversation, sqlx::Error> {
    match inbound.channel {
        Channel::Freshdesk => lock_ticket(tx, inbound.conversation_id).await,
        _ => lock_thread(tx, inbound.conversation_id).await,
    }
}

/// A Mirakl thread's conversation, locked.
async fn lock_thread(
    tx: &mut PgConnection,
    conversation_id: Uuid,
) -> Result<Conversation, sqlx::Error> {
    sqlx::query_as!(
        Conversation,
        r#"select c.order_id, coalesce(c.customer_id, pc.id) as "customer_id?",
                coalesce(cu.external_id, p.id) as "customer_participant?",
                e.id as "thread_order_id?", c.channel::text as orders_channel
         from support.conversations c
         left join lateral (
             select x ->> 'id' as id
             from jsonb_array_elements(
                 case when jsonb_typeof(c.raw_payload -> 'current_participants') = 'array'
                      then c.raw_payload -> 'current_participants' else '[]' end) x
             where x ->> 'type' = 'CUSTOMER' and x ->> 'id' is not null
             limit 1) p on true
         left join lateral (
             select x ->> 'id' as id
             from jsonb_array_elements(
                 case when jsonb_typeof(c.raw_payload -> 'entities') = 'array'
                      then c.raw_payload -> 'entities' else '[]' end) x
             where x ->> 'type' = 'MMP_ORDER' and x ->> 'id' is not null
             limit 1) e on true
         left join sales.customers cu on cu.id = c.customer_id
         left join sales.customers pc on pc.channel = c.channel and pc.external_id = p.id
         where c.id = $1
         for update of c"#,
        conversation_id,
    )
    .fetch_one(&mut *tx)
    .await
}

/// A Freshdesk ticket's conversation, locked: its order only when the requester placed
/// it.
async fn lock_ticket(
    tx: &mut PgConnection,
    conversation_id: Uuid,
) -> Result<Conversation, sqlx::Error> {
    sqlx::query_as!(
        Conversation,
        r#"select
             (select o.id from sales.orders o
              join sales.customers oc on oc.id = o.customer_id
              where o.id = c.order_id and oc.email_hash = t.requester_email_hash)
                 as "order_id?",
             (select cu.id from sales.customers cu where cu.email_hash = t.requester_email_hash)
                 as "customer_id?",
             case when t.requester_email_hash is not null
                  then coalesce(t.data ->> 'requester_id', t.data -> 'requester' ->> 'id',
                                'requester') end as "customer_participant?",
             null::text as "thread_order_id?",
             null::text as orders_channel
         from support.conversations c
         left join etl.freshdesk_tickets t on t.conversation_id = c.id
         where c.id = $1
         for update of c"#,
        conversation_id,
    )
    .fetch_one(&mut *tx)
    .await
}

/// The thread around `inbound`, and its automatic replies counted for `mode` (sent or
/// stored ones in `on`, the decided ones in `shadow`, where nothing is sent).
pub(crate) async fn thread_facts(
    tx: &mut PgConnection,
    conversation: &Conversation,
    inbound: &Inbound,
    mode: AutoReplyMode,
) -> Result<ThreadFacts, sqlx::Error> {
    let messages = sqlx::query_as!(
        ThreadEntry,
        r#"select id, sender_type as "sender: SenderType", sent_at
         from support.messages where conversation_id = $1
         order by sent_at, created_at"#,
        inbound.conversation_id,
    )
    .fetch_all(&mut *tx)
    .await?;
    let replies = sqlx::query!(
        r#"select count(*) as "count!", max(at) as at
         from (
             select m.sent_at as at from support.messages m
             where $2 = 'on' and m.conversation_id = $1 and m.message_type = 'auto_reply'
             union all
             select d.decided_at from support.reply_decisions d
             where $2 = 'shadow' and d.conversation_id = $1 and d.mode = 'shadow' and d.replied
         ) replies"#,
        inbound.conversation_id,
        mode.as_str(),
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(ThreadFacts {
        message_id: inbound.id,
        message_sent_at: inbound.sent_at,
        messages,
        auto_replies: u32::try_from(replies.count).unwrap_or(u32::MAX),
        last_auto_reply_at: replies.at,
        customer_participant: conversation.customer_participant.clone(),
    })
}

struct OrderRow {
    id: Uuid,
    external_id: String,
    commercial_id: Option<String>,
    state: OrderState,
    placed_at: DateTime<Utc>,
    ship_by: Option<DateTime<Utc>>,
    shipment_state: Option<String>,
    carrier: Option<String>,
    tracking_pin: Option<String>,
}

impl From<OrderRow> for OrderFacts {
    fn from(row: OrderRow) -> Self {
        Self {
            id: row.id,
            external_id: row.external_id,
            commercial_id: row.commercial_id,
            state: row.state,
            placed_at: row.placed_at,
            ship_by: row.ship_by,
            shipment: row.shipment_state.map(|state| ShipmentFacts {
                state,
                carrier: row.carrier,
                tracking_pin: row.tracking_pin,
            }),
        }
    }
}

/// The orders the message may be about: the thread's, and when the thread has none
/// but the text names one, the customer's Best Buy orders (a ticket's requester's
/// orders on any channel).
pub(crate) async fn order_candidates(
    tx: &mut PgConnection,
    conversation: &Conversation,
    written: Option<&str>,
) -> Result<OrderCandidates, sqlx::Error> {
    let mut candidates = OrderCandidates {
        thread_order_id: conversation.thread_order_id.clone(),
        ..OrderCandidates::default()
    };
    if let Some(order_id) = conversation.order_id {
        candidates.thread_order = sqlx::query_as!(
            OrderRow,
            r#"select o.id, o.external_id, o.commercial_id, o.status as "state: OrderState",
                    o.placed_at, o.shipping_deadline as ship_by,
                    s.state as "shipment_state?", s.carrier as "carrier?",
                    s.tracking_pin as "tracking_pin?"
             from sales.orders o left join sales.shipments s on s.order_id = o.id
             where o.id = $1"#,
            order_id,
        )
        .fetch_optional(&mut *tx)
        .await?
        .map(OrderFacts::from);
    }
    if candidates.thread_order.is_none() && written.is_some() {
        if let Some(customer_id) = conversation.customer_id {
            candidates.customer_orders = sqlx::query_as!(
                OrderRow,
                r#"select o.id, o.external_id, o.commercial_id, o.status as "state: OrderState",
                        o.placed_at, o.shipping_deadline as ship_by,
                        s.state as "shipment_state?", s.carrier as "carrier?",
                        s.tracking_pin as "tracking_pin?"
                 from sales.orders o left join sales.shipments s on s.order_id = o.id
                 where o.customer_id = $1 and ($2::text is null or o.channel = $2::text::sales.channel)
                 order by o.placed_at desc
                 limit 200"#,
                customer_id,
                conversation.orders_channel.as_deref(),
            )
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(OrderFacts::from)
            .collect();
        }
    }
    Ok(candidates)
}
