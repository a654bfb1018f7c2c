//! Freshdesk tickets into the `etl.freshdesk_tickets` envelope, keyed by helpdesk domain
//! and ticket id, and into the one inbox: each ticket is a `support.conversations` row
//! (channel `freshdesk`, the ticket id as its external id), its description and its
//! public conversation entries `support.messages` rows. Ticket status and priority are
//! normalised by the database's `support.extract_ticket_status` and
//! `support.extract_ticket_priority`.
//!
//! The webhook and the poll record through here, in either order and more than once.
//! The ticket's `updated_at` decides between two copies ([`record_ticket`]): an older
//! copy arriving after a newer one fills only what the newer lacks, and the same copy
//! twice changes nothing. Messages are keyed by Freshdesk's conversation id (the
//! description by `<ticket id>:description`), so a message is recorded once whoever
//! brings it. Agents' private notes stay out of the inbox.
//!
//! Once a ticket's conversations are mirrored whole, each customer message that no
//! answer of the shop follows and that has no decision yet is queued for
//! conversation-auto-reply through the outbox, in the same transaction, as
//! `reply:freshdesk:<conversation id>` ([`queue_unanswered`]): only then is it known
//! whether an agent answered it. A ticket that only a webhook brought waits for the
//! poll to read its conversations.
//!
//! The customer is found by the keyed hash of the requester's address (never stored
//! in clear); the order when the ticket names one of ours (a custom field whose name
//! speaks of an order, the subject or the description).
//!
//! A date in the stored ticket that is not a date (`support.ticket_invalid_dates`) is
//! kept as sent and raised in `ops.data_problems` for that ticket; the support reports
//! read it as absent, so one such ticket never stops them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::data_problems::{record_data_problems, DataProblem, ProblemKind};
use super::hash_email;
use crate::flows::replies::ReplyMessage;
use crate::model::channel::Channel;
use crate::model::conversation::{ConversationStatus, SenderType};
use crate::model::customer_email::{EmailHash, EmailPepper};
use crate::model::personal_data::{redact_email_addresses, redact_json};
use crate::ops::outbox::{enqueue_many, WorkQueue};
use crate::systems::freshdesk::{FreshdeskConversation, FreshdeskTicket};

const CHANNEL: Channel = Channel::Freshdesk;

/// The channels whose orders a ticket may name.
const ORDER_CHANNELS: [Channel; 4] = [
    Channel::BestBuyCa,
    Channel::Shopify,
    Channel::Amazon,
    Channel::FileImport,
];

/// How a ticket was filed: its status and priority as `support.extract_ticket_status`
/// and `support.extract_ticket_priority` name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTicket {
    pub status: TicketStatus,
    pub priority: TicketPriority,
    /// Dates of the stored ticket that are not dates, raised in `ops.data_problems`.
    pub data_problems: u32,
    /// The ticket's conversation in the inbox.
    pub conversation_id: Uuid,
    /// What this copy changed: a new ticket, a newer version, or gaps filled.
    pub changed: bool,
    /// The description became a message (the ticket was new to the inbox).
    pub new_messages: u32,
    /// Whether the ticket's conversations were already mirrored at this copy's version
    /// (or a later one): reading them again would find nothing new.
    pub conversations_current: bool,
}

/// A ticket's status; Freshdesk's numeric codes and labels both map here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    Pending,
    Resolved,
    Closed,
    /// A status Freshdesk names that is none of the above (a custom one).
    Other,
    /// The ticket names no status.
    Unknown,
}

/// A ticket's priority; Freshdesk's numeric codes and labels both map here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TicketPriority {
    Low,
    Medium,
    High,
    Urgent,
    /// A priority Freshdesk names that is none of the above.
    Other,
    /// The ticket names no priority.
    Unknown,
}

/// Records one copy of a ticket: the envelope, the inbox conversation, its description.
///
/// The copy's version is its `updated_at`, or now for a webhook whose template sends
/// none. A copy at least as new as the stored one lays its fields over the stored
/// document; an older one only adds the fields the stored one lacks. The same copy
/// again changes nothing. The dates of the ticket as now stored are checked: each that
/// is not a date is a data problem of the ticket, and one raised before that the ticket
/// no longer has is resolved.
pub async fn record_ticket(
    tx: &mut PgConnection,
    domain: &str,
    ticket: &FreshdeskTicket,
    pepper: &EmailPepper,
) -> Result<RecordedTicket, sqlx::Error> {
    let email = hash_email(ticket.requester_email.as_deref(), pepper);
    let document = redact_json(&Value::Object(ticket.document.clone()).to_string());
    let stored = store_envelope(tx, domain, ticket, email.as_ref(), &document).await?;
    let newer = stored.newer;

    let order_id = linked_order(tx, ticket).await?;
    let conversation_id = sqlx::query_scalar!(
        r#"insert into support.conversations as c (
             channel, external_id, customer_id, order_id, subject, topic, raw_payload)
         values ($1::text::sales.channel, $2,
                 (select id from sales.customers where email_hash = $3), $4, $5, $6,
                 $7::text::jsonb)
         on conflict on constraint conversations_channel_external_id_key do update set
             customer_id = coalesce(c.customer_id, excluded.customer_id),
             order_id = coalesce(c.order_id, excluded.order_id),
             -- The newer copy of the ticket wins; an older one only fills gaps.
             subject = case when $8 then coalesce(excluded.subject, c.subject)
                            else coalesce(c.subject, excluded.subject) end,
             topic = case when $8 then coalesce(excluded.topic, c.topic)
                          else coalesce(c.topic, excluded.topic) end,
             raw_payload = case when $8 then c.raw_payload || excluded.raw_payload
                                else excluded.raw_payload || c.raw_payload end
         returning id as "id!""#,
        CHANNEL.as_str(),
        &ticket.ticket_id,
        email.as_ref().map(|hash| hash.as_bytes().as_slice()),
        order_id,
        ticket.subject().map(redact_email_addresses),
        ticket.kind(),
        document,
        newer,
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "with linked as (
             select coalesce(t.customer_id, c.customer_id) as customer_id
             from etl.freshdesk_tickets t, support.conversations c
             where t.id = $1 and c.id = $2)
         update etl.freshdesk_tickets t set conversation_id = $2, customer_id = l.customer_id
         from linked l
         where t.id = $1
           and (t.conversation_id is distinct from $2
                or t.customer_id is distinct from l.customer_id)",
        stored.id,
        conversation_id,
    )
    .execute(&mut *tx)
    .await?;

    let mut new_messages = 0;
    if let Some(text) = ticket.description_text() {
        let sender = if ticket.opened_by_shop() {
            SenderType::Technician
        } else {
            SenderType::Customer
        };
        let sent_at = ticket.created_at.unwrap_or(stored.version);
        new_messages = insert_messages(
            tx,
            conversation_id,
            &[NewMessage {
                external_id: format!("{}:description", ticket.ticket_id),
                sender,
                body: redact_email_addresses(&text),
                sent_at,
                raw: "{}".to_owned(),
            }],
        )
        .await?;
    }

    let problems = check_dates(tx, stored.id).await?;
    record_data_problems(tx, CHANNEL, &ticket.ticket_id, &problems, false).await?;
    Ok(RecordedTicket {
        status: stored.status,
        priority: stored.priority,
        data_problems: u32::try_from(problems.len()).unwrap_or(u32::MAX),
        conversation_id,
        changed: stored.changed || new_messages > 0,
        new_messages,
        conversations_current: ticket
            .updated_at
            .zip(stored.conversations_synced_at)
            .is_some_and(|(version, synced)| synced >= version),
    })
}

/// Mirrors a page of a ticket's conversation entries into its inbox conversation:
/// public entries only (private notes are the agents' own), each once. Returns how many
/// were new; a new customer message that no answer of the shop follows marks the
/// conversation unread.
pub async fn record_conversations(
    tx: &mut PgConnection,
    conversation_id: Uuid,
    entries: &[FreshdeskConversation],
) -> Result<u32, sqlx::Error> {
    let messages: Vec<NewMessage> = entries
        .iter()
        .filter(|entry| !entry.private)
        .map(|entry| NewMessage {
            external_id: entry.id.clone(),
            sender: entry.sender_type(),
            body: redact_email_addresses(&entry.text),
            sent_at: entry.created_at,
            raw: redact_json(&entry.raw),
        })
        .collect();
    insert_messages(tx, conversation_id, &messages).await
}

/// Notes that the ticket's conversations are mirrored up to `version` (never back).
pub async fn mark_conversations_synced(
    tx: &mut PgConnection,
    domain: &str,
    ticket_id: &str,
    version: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update etl.freshdesk_tickets
         set conversations_synced_at = greatest(conversations_synced_at, $3)
         where domain = $1 and freshdesk_ticket_id = $2
           and conversations_synced_at is distinct from greatest(conversations_synced_at, $3)",
        domain,
        ticket_id,
        version,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The envelope row as this copy left it.
struct StoredTicket {
    id: Uuid,
    status: TicketStatus,
    priority: TicketPriority,
    /// The copy's version.
    version: DateTime<Utc>,
    /// The copy is at least as new as what was stored before it.
    newer: bool,
    changed: bool,
    conversations_synced_at: Option<DateTime<Utc>>,
}

/// Inserts the ticket, or lays this copy over the stored one (newer) or under it
/// (older), changing the row only when that changes something.
async fn store_envelope(
    tx: &mut PgConnection,
    domain: &str,
    ticket: &FreshdeskTicket,
    email: Option<&EmailHash>,
    document: &str,
) -> Result<StoredTicket, sqlx::Error> {
    let inserted = sqlx::query!(
        r#"insert into etl.freshdesk_tickets
             (domain, freshdesk_ticket_id, requester_email_hash, data, source_updated_at)
         values ($1, $2, $3, $4::text::jsonb, coalesce($5, now()))
         on conflict on constraint freshdesk_tickets_domain_ticket_id_key do nothing
         returning id, source_updated_at as "version!",
             support.extract_ticket_status(data) as "status!: TicketStatus",
             support.extract_ticket_priority(data) as "priority!: TicketPriority""#,
        domain,
        &ticket.ticket_id,
        email.map(|hash| hash.as_bytes().as_slice()),
        document,
        ticket.updated_at,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = inserted {
        return Ok(StoredTicket {
            id: row.id,
            status: row.status,
            priority: row.priority,
            version: row.version,
            newer: true,
            changed: true,
            conversations_synced_at: None,
        });
    }
    let before = sqlx::query!(
        r#"select id, source_updated_at, conversations_synced_at, now() as "now!"
         from etl.freshdesk_tickets
         where domain = $1 and freshdesk_ticket_id = $2
         for update"#,
        domain,
        &ticket.ticket_id,
    )
    .fetch_one(&mut *tx)
    .await?;
    let version = ticket.updated_at.unwrap_or(before.now);
    let newer = before
        .source_updated_at
        .is_none_or(|stored| version >= stored);
    let after = sqlx::query!(
        r#"with merged as (
             select case when $2 then t.data || $3::text::jsonb
                         else $3::text::jsonb || t.data end as data,
                    case when $2 then coalesce($4, t.requester_email_hash)
                         else coalesce(t.requester_email_hash, $4) end as email_hash,
                    greatest(t.source_updated_at, $5) as version
             from etl.freshdesk_tickets t where t.id = $1
         ), updated as (
             update etl.freshdesk_tickets t
             set data = m.data, requester_email_hash = m.email_hash, source_updated_at = m.version
             from merged m
             where t.id = $1
               and (t.data is distinct from m.data
                    or t.requester_email_hash is distinct from m.email_hash
                    or t.source_updated_at is distinct from m.version)
             returning t.id
         )
         select exists (select from updated) as "changed!",
             support.extract_ticket_status(m.data) as "status!: TicketStatus",
             support.extract_ticket_priority(m.data) as "priority!: TicketPriority"
         from merged m"#,
        before.id,
        newer,
        document,
        email.map(|hash| hash.as_bytes().as_slice()),
        version,
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(StoredTicket {
        id: before.id,
        status: after.status,
        priority: after.priority,
        version,
        newer,
        changed: after.changed,
        conversations_synced_at: before.conversations_synced_at,
    })
}

/// The order the ticket names, when it is one of ours: each word of its order hints
/// and description that holds at least four digits, as written (without a leading `#`)
/// and upper-cased, looked up by the order's id in its channel; a Best Buy number
/// written without its logistic suffix is tried with `-A`.
async fn linked_order(
    tx: &mut PgConnection,
    ticket: &FreshdeskTicket,
) -> Result<Option<Uuid>, sqlx::Error> {
    let description = ticket.description_text();
    let mut candidates: Vec<String> = Vec::new();
    let hints = ticket.order_hints();
    for text in hints.iter().copied().chain(description.as_deref()) {
        for word in text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '#')) {
            let word = word.trim_matches(|c: char| c == '-' || c == '#');
            let digits = word.chars().filter(char::is_ascii_digit).count();
            if digits < 4 || word.len() > 40 {
                continue;
            }
            let upper = word.to_ascii_uppercase();
            if word.chars().all(|c| c.is_ascii_digit()) {
                candidates.push(format!("{word}-A"));
            }
            candidates.push(word.to_owned());
            candidates.push(upper);
        }
        if candidates.len() >= 60 {
            break;
        }
    }
    if candidates.is_empty() {
        return Ok(None);
    }
    candidates.dedup();
    sqlx::query_scalar!(
        "select o.id from sales.orders o
         where (o.channel, o.external_id) in (
             select c.channel::sales.channel, w.word
             from unnest($2::text[]) c(channel)
             cross join unnest($1::text[]) w(word))
         order by o.placed_at desc
         limit 1",
        &candidates,
        &ORDER_CHANNELS.map(|channel| channel.as_str().to_owned()),
    )
    .fetch_optional(&mut *tx)
    .await
}

struct NewMessage {
    external_id: String,
    sender: SenderType,
    body: String,
    sent_at: DateTime<Utc>,
    raw: String,
}

/// Inserts the messages not yet recorded (by channel and external id); the
/// conversation's last message time follows, and a new customer message that no answer
/// of the shop follows marks it unread.
async fn insert_messages(
    tx: &mut PgConnection,
    conversation_id: Uuid,
    messages: &[NewMessage],
) -> Result<u32, sqlx::Error> {
    if messages.is_empty() {
        return Ok(0);
    }
    let sender = |m: &NewMessage| match m.sender {
        SenderType::Customer => "customer",
        SenderType::Technician => "technician",
        SenderType::Operator => "operator",
        SenderType::Assistant => "assistant",
        SenderType::System => "system",
    };
    let inserted = sqlx::query!(
        r#"insert into support.messages (
             conversation_id, channel, external_id, sender_type, body, sent_at, raw_payload)
         select $1, $2::text::sales.channel, m.external_id, m.sender_type, m.body, m.sent_at,
                m.raw::jsonb
         from unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[])
              as m(external_id, sender_type, body, sent_at, raw)
         on conflict on constraint messages_channel_external_id_key do nothing
         returning sender_type as "sender_type: SenderType", sent_at"#,
        conversation_id,
        CHANNEL.as_str(),
        &messages
            .iter()
            .map(|m| m.external_id.clone())
            .collect::<Vec<_>>(),
        &messages
            .iter()
            .map(|m| sender(m).to_owned())
            .collect::<Vec<_>>(),
        &messages.iter().map(|m| m.body.clone()).collect::<Vec<_>>(),
        &messages.iter().map(|m| m.sent_at).collect::<Vec<_>>(),
        &messages.iter().map(|m| m.raw.clone()).collect::<Vec<_>>(),
    )
    .fetch_all(&mut *tx)
    .await?;
    let Some(latest) = inserted.iter().map(|m| m.sent_at).max() else {
        return Ok(0);
    };
    let newest_customer = inserted
        .iter()
        .filter(|m| m.sender_type == SenderType::Customer)
        .map(|m| m.sent_at)
        .max();
    sqlx::query!(
        "update support.conversations c set
             last_message_at = greatest(c.last_message_at, $2),
             status = case
                 when $3::timestamptz is not null and c.status <> 'archived'
                      and not exists (
                          select from support.messages m
                          where m.conversation_id = c.id and m.sender_type <> 'customer'
                            and m.sent_at >= $3)
                 then $4 else c.status end
         where c.id = $1",
        conversation_id,
        latest,
        newest_customer,
        ConversationStatus::Unread as ConversationStatus,
    )
    .execute(&mut *tx)
    .await?;
    Ok(u32::try_from(inserted.len()).unwrap_or(u32::MAX))
}

/// Queues for conversation-auto-reply each customer message of the ticket's
/// conversation that no answer of the shop follows and that has no decision yet, each
/// once; returns how many were queued. Call it once the conversations are mirrored
/// whole.
pub async fn queue_unanswered(
    tx: &mut PgConnection,
    conversation_id: Uuid,
) -> Result<u64, sqlx::Error> {
    let unanswered = sqlx::query!(
        r#"select m.id, m.external_id as "external_id!", c.external_id as "ticket_id!"
         from support.conversations c
         join support.messages m on m.conversation_id = c.id
         where c.id = $1 and c.channel = $2::text::sales.channel
           and m.sender_type = 'customer' and m.external_id is not null
           and c.external_id is not null
           and not exists (
               select from support.messages a
               where a.conversation_id = c.id and a.sender_type <> 'customer'
                 and a.sent_at >= m.sent_at)
           and not exists (
               select from support.reply_decisions d where d.message_id = m.id)"#,
        conversation_id,
        CHANNEL.as_str(),
    )
    .fetch_all(&mut *tx)
    .await?;
    let messages: Vec<(String, Value)> = unanswered
        .into_iter()
        .map(|m| {
            let body = ReplyMessage {
                message_id: m.id,
                conversation_id,
                thread_id: m.ticket_id,
            }
            .to_json();
            (
                format!("reply:{}:{}", CHANNEL.as_str(), m.external_id),
                body,
            )
        })
        .collect();
    enqueue_many(tx, WorkQueue::Reply, &messages).await
}

/// The dates of the stored ticket that are not dates, as data problems.
async fn check_dates(tx: &mut PgConnection, id: Uuid) -> Result<Vec<DataProblem>, sqlx::Error> {
    let invalid = sqlx::query!(
        r#"select d.field as "field!", d.sent_value as "sent_value!"
         from etl.freshdesk_tickets t
         cross join lateral support.ticket_invalid_dates(t.data) d
         where t.id = $1"#,
        id,
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(invalid
        .into_iter()
        .map(|date| DataProblem {
            detail: format!(
                "{} is not a date: {:?}; the support reports read the ticket without it",
                date.field, date.sent_value
            ),
            field: date.field,
            kind: ProblemKind::InvalidDate,
            sent: date.sent_value,
            expected: None,
        })
        .collect())
}
