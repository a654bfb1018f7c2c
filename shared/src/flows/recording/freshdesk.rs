//! Freshdesk tickets into the `etl.freshdesk_tickets` envelope, keyed by helpdesk domain
//! and ticket id. Ticket status and priority are normalised by the database's
//! `support.extract_ticket_status` and `support.extract_ticket_priority`.
//!
//! A date in the stored ticket that is not a date (`support.ticket_invalid_dates`) is
//! kept as sent and raised in `ops.data_problems` for that ticket; the support reports
//! read it as absent, so one such ticket never stops them.

use serde_json::Value;
use sqlx::PgConnection;

use super::data_problems::{record_data_problems, DataProblem, ProblemKind};
use super::hash_email;
use crate::model::channel::Channel;
use crate::model::customer_email::EmailPepper;
use crate::model::personal_data::redact_json;
use crate::systems::freshdesk::FreshdeskTicket;

/// How a ticket was filed: its status and priority as `support.extract_ticket_status`
/// and `support.extract_ticket_priority` name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTicket {
    pub status: TicketStatus,
    pub priority: TicketPriority,
    /// Dates of the stored ticket that are not dates, raised in `ops.data_problems`.
    pub data_problems: u32,
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

/// Upserts the ticket under (domain, ticket id). A later delivery's fields replace the
/// earlier ones; fields it does not carry are kept. The dates of the ticket as now
/// stored are checked: each that is not a date is a data problem of the ticket, and one
/// raised before that the ticket no longer has is resolved.
pub async fn record_ticket(
    tx: &mut PgConnection,
    domain: &str,
    ticket: &FreshdeskTicket,
    pepper: &EmailPepper,
) -> Result<RecordedTicket, sqlx::Error> {
    let email = hash_email(ticket.requester_email.as_deref(), pepper);
    let document = redact_json(&Value::Object(ticket.document.clone()).to_string());
    let stored = sqlx::query!(
        r#"insert into etl.freshdesk_tickets as t
             (domain, freshdesk_ticket_id, requester_email_hash, data)
         values ($1, $2, $3, $4::text::jsonb)
         on conflict on constraint freshdesk_tickets_domain_ticket_id_key do update set
             requester_email_hash = coalesce(excluded.requester_email_hash, t.requester_email_hash),
             data = t.data || excluded.data
         returning id, support.extract_ticket_status(data) as "status!: TicketStatus",
             support.extract_ticket_priority(data) as "priority!: TicketPriority""#,
        domain,
        &ticket.ticket_id,
        email.as_ref().map(|hash| hash.as_bytes().as_slice()),
        document,
    )
    .fetch_one(&mut *tx)
    .await?;
    let invalid = sqlx::query!(
        r#"select d.field as "field!", d.sent_value as "sent_value!"
         from etl.freshdesk_tickets t
         cross join lateral support.ticket_invalid_dates(t.data) d
         where t.id = $1"#,
        stored.id,
    )
    .fetch_all(&mut *tx)
    .await?;
    let problems: Vec<DataProblem> = invalid
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
        .collect();
    record_data_problems(tx, Channel::Freshdesk, &ticket.ticket_id, &problems).await?;
    Ok(RecordedTicket {
        status: stored.status,
        priority: stored.priority,
        data_problems: u32::try_from(problems.len()).unwrap_or(u32::MAX),
    })
}
