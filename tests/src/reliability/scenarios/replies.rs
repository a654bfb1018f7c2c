//! A customer is answered once: the helpdesk keeps an automatic reply and answers 500,
//! then the message is delivered again.

use std::time::Duration;

use chrono::Utc;
use sellerops::flows::recording::freshdesk::{
    mark_conversations_synced, queue_unanswered, record_conversations, record_ticket,
};
use sellerops::ops::outbox::publish_due;
use sellerops::systems::freshdesk::FreshdeskTicket;
use serde_json::{json, Value};

use super::{place_orders, waiting_order};
use crate::reliability::stack::Stack;
use crate::reliability::tally::Tally;
use crate::reliability::ScenarioError;

const HELPDESK: &str = "sellerops-reliability.freshdesk.com";

/// The helpdesk's ticket `ticket_id`, as the simulator holds it: the shop's public
/// replies in its conversation.
async fn helpdesk_replies(stack: &Stack, ticket_id: u64) -> Result<u64, ScenarioError> {
    let state = stack.freshdesk.state().await?;
    let tickets = state["freshdesk"]["tickets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ticket = tickets
        .iter()
        .find(|ticket| ticket["id"] == json!(ticket_id))
        .ok_or_else(|| format!("the helpdesk has no ticket {ticket_id}"))?;
    Ok(ticket["conversations"].as_array().map_or(0, |entries| {
        entries
            .iter()
            .filter(|entry| entry["incoming"] != json!(true) && entry["private"] != json!(true))
            .count()
    }) as u64)
}

/// A customer asks on a helpdesk ticket when their Best Buy order ships; Freshdesk
/// stores the automatic reply and answers 500; the reply queue delivers the message
/// again until it is settled. One reply in the ticket, one recorded as sent.
pub async fn freshdesk_error_after_reply(stack: &Stack) -> Result<Tally, ScenarioError> {
    let (order_id, ticket_id, requester) =
        ("309930011-A", 9301_u64, "reliability.reply@example.ca");
    // The requester's order (a Best Buy number, as customers write it), waiting for
    // acceptance, due to ship in three days. Its
    // acceptance is not this scenario's: its message is taken off the queue.
    let mut order: Value = serde_json::from_str(&waiting_order(order_id))?;
    // A customer of their own: the fixture's customer is every other scenario's.
    order["customer"]["customer_id"] = json!("BBY-CUST-RELIABILITY-REPLY");
    order["customer_notification_email"] = json!(requester);
    order["shipping_deadline"] = json!((Utc::now() + chrono::Duration::days(3)).to_rfc3339());
    place_orders(stack, &[order.to_string()]).await?;
    stack.take_all(&stack.accept).await?;

    // The ticket, in the helpdesk and recorded as the helpdesk sync records it.
    let now = Utc::now().to_rfc3339();
    let text = format!("Hi, where is my order {order_id}? When will it ship?");
    let document = json!({
        "id": ticket_id, "subject": "My order", "status": 2, "priority": 2,
        "type": "Question", "source": 1, "tags": [], "requester_id": 990_001,
        "created_at": now, "updated_at": now,
        "description": format!("<div>{text}</div>"), "description_text": text,
        "custom_fields": {}, "conversations": [],
        "requester": {"id": 990_001, "email": requester, "name": "Rel Customer"}
    });
    stack
        .freshdesk
        .add_tickets(std::slice::from_ref(&document))
        .await?;
    let ticket = FreshdeskTicket::from_api(document).map_err(|err| err.to_string())?;
    let mut tx = stack.pool.begin().await?;
    let recorded = record_ticket(&mut tx, HELPDESK, &ticket, &stack.pepper).await?;
    record_conversations(&mut tx, recorded.conversation_id, &[]).await?;
    queue_unanswered(&mut tx, recorded.conversation_id).await?;
    if let Some(version) = ticket.updated_at {
        mark_conversations_synced(&mut tx, HELPDESK, &ticket.ticket_id, version).await?;
    }
    tx.commit().await?;
    publish_due(&stack.pool, &stack.aws.sqs, &stack.recording_queues, 100).await?;

    stack
        .freshdesk
        .fault(json!({ "route": "REPLY", "status": 500, "after": true }))
        .await?;
    let deliveries = stack
        .drain(&stack.reply, 1, Duration::from_secs(90))
        .await?;

    let in_ticket = helpdesk_replies(stack, ticket_id).await?;
    let sent = stack
        .number(
            "select count(*) from support.messages m
             join support.conversations c on c.id = m.conversation_id
             where c.channel = 'freshdesk' and c.external_id = $1
               and m.message_type = 'auto_reply' and m.send_state = 'sent'",
            &ticket_id.to_string(),
        )
        .await?;
    Ok(Tally::new(deliveries)
        .count("replies in the ticket", 1, in_ticket)
        .count("sent", 1, sent))
}
