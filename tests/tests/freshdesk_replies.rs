//! conversation-auto-reply on Freshdesk tickets, against a fake Freshdesk API
//! (wiremock): a recorded customer message queued once, answered once with the ticket
//! reply API, an ambiguous reply reconciled by reading the ticket's conversations
//! before any second send, a refused reply handed over, and a ticket naming someone
//! else's order never answered with that order's facts.

use chrono::Utc;
use secrecy::SecretString;
use sellerops::flows::recording::freshdesk::{
    mark_conversations_synced, queue_unanswered, record_conversations, record_ticket,
};
use sellerops::flows::replies::guards::Guard;
use sellerops::flows::replies::{AutoReply, ReplyMessage, ReplyOutcome};
use sellerops::model::customer_email::CustomerEmail;
use sellerops::ops::config::{AutoReplySettings, FromEnvironment};
use sellerops::ops::errors::Disposition;
use sellerops::systems::freshdesk::{FreshdeskClient, FreshdeskConversation, FreshdeskTicket};
use sellerops::systems::mirakl::MiraklClient;
use sellerops_tests::fulfilment::mirakl;
use sellerops_tests::marketplace::pepper;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const HELPDESK: &str = "maplerefurb.freshdesk.com";
const API_KEY: &str = "fd-reply-key-for-tests";
const TICKET: &str = "7101";
const REPLY: &str = "/api/v2/tickets/7101/reply";
const CONVERSATIONS: &str = "/api/v2/tickets/7101/conversations";
const REQUESTER: &str = "ava.tremblay@example.ca";
const ORDER: &str = "201934572-A";
const PIN: &str = "7023210987654321";
const WHERE_IS_IT: &str = "Hi, where is my order 201934572-A? Thank you.";

/// The ticket as the API lists it, from `requester`, its description `text`.
fn ticket(requester: &str, text: &str) -> FreshdeskTicket {
    FreshdeskTicket::from_api(json!({
        "id": 7101, "subject": "My order", "status": 2, "priority": 2, "type": "Question",
        "source": 1, "tags": [], "requester_id": 880001,
        "created_at": (Utc::now() - chrono::Duration::minutes(5)).to_rfc3339(),
        "updated_at": (Utc::now() - chrono::Duration::minutes(5)).to_rfc3339(),
        "description": format!("<div>{text}</div>"), "description_text": text,
        "custom_fields": {},
        "requester": {"id": 880001, "email": requester, "name": "Ava Tremblay"}
    }))
    .unwrap()
}

/// A conversation entry of the ticket, `minutes_ago` old.
fn entry(id: u64, incoming: bool, text: &str, minutes_ago: i64) -> Value {
    let at = (Utc::now() - chrono::Duration::minutes(minutes_ago)).to_rfc3339();
    json!({
        "id": id, "incoming": incoming, "private": false, "source": 0,
        "body": format!("<div>{text}</div>"), "body_text": text,
        "created_at": at, "updated_at": at
    })
}

/// The fake Freshdesk (and an unused Mirakl), the clients and the flow's settings.
struct World {
    pool: PgPool,
    server: MockServer,
    mirakl: MiraklClient,
    freshdesk: FreshdeskClient,
    settings: AutoReplySettings,
}

impl World {
    async fn new(pool: PgPool) -> Self {
        let server = MockServer::start().await;
        let vars = [
            ("DATABASE_URL", "postgres://unused@localhost/unused"),
            ("MIRAKL_BASE_URL", "http://127.0.0.1:9"),
            ("MIRAKL_API_KEY", "unused"),
            ("AUTO_REPLY_MODE", "on"),
        ];
        let settings = AutoReplySettings::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap();
        Self {
            mirakl: mirakl("http://127.0.0.1:9", &pool),
            freshdesk: FreshdeskClient::new(
                &server.uri(),
                SecretString::from(API_KEY),
                pool.clone(),
            )
            .unwrap(),
            pool,
            server,
            settings,
        }
    }

    fn flow(&self) -> AutoReply<'_> {
        AutoReply::new(&self.settings, &self.pool, &self.mirakl).with_freshdesk(&self.freshdesk)
    }

    /// A shipped Best Buy order placed by the customer whose address is `email`.
    async fn shipped_order(&self, email: &str) -> Uuid {
        let hash = CustomerEmail::parse(email).unwrap().hash(&pepper());
        let customer: Uuid = sqlx::query_scalar(
            "insert into sales.customers (channel, external_id, email_hash)
             values ('bestbuy_ca', 'C-558201', $1) returning id",
        )
        .bind(hash.as_bytes().as_slice())
        .fetch_one(&self.pool)
        .await
        .unwrap();
        let order: Uuid = sqlx::query_scalar(
            "insert into sales.orders
                 (channel, external_id, commercial_id, customer_id, status, total_amount,
                  placed_at, shipping_deadline)
             values ('bestbuy_ca', $1, '201934572', $2, 'SHIPPED', 1299.00,
                     now() - interval '2 days', now() + interval '3 days')
             returning id",
        )
        .bind(ORDER)
        .bind(customer)
        .fetch_one(&self.pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into sales.shipments
                 (order_id, state, carrier, shipment_id, tracking_pin, label_created_at,
                  tracking_reported_at, shipped_at)
             values ($1, 'shipped', 'canada_post', 'SHIP-1', $2, now(), now(), now())",
        )
        .bind(order)
        .bind(PIN)
        .execute(&self.pool)
        .await
        .unwrap();
        order
    }

    /// Records the ticket as the webhook does: without its conversations.
    async fn webhook(&self, ticket: &FreshdeskTicket) {
        let mut tx = self.pool.begin().await.unwrap();
        record_ticket(&mut tx, HELPDESK, ticket, &pepper())
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    /// Records the ticket and its whole conversation (`entries`) as the poll does;
    /// returns the conversation.
    async fn record(&self, ticket: &FreshdeskTicket, entries: &[Value]) -> Uuid {
        let mut tx = self.pool.begin().await.unwrap();
        let recorded = record_ticket(&mut tx, HELPDESK, ticket, &pepper())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let entries: Vec<FreshdeskConversation> = entries
            .iter()
            .map(|entry| FreshdeskConversation::from_api(entry).unwrap())
            .collect();
        let mut tx = self.pool.begin().await.unwrap();
        record_conversations(&mut tx, recorded.conversation_id, &entries)
            .await
            .unwrap();
        queue_unanswered(&mut tx, recorded.conversation_id)
            .await
            .unwrap();
        mark_conversations_synced(&mut tx, HELPDESK, TICKET, ticket.updated_at.unwrap())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        recorded.conversation_id
    }

    /// The reply-queue messages written so far, with their deduplication ids.
    async fn queued(&self) -> Vec<(String, ReplyMessage)> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "select dedup_id, message_body::text from ops.outbox where queue_name = 'reply'
             order by created_at, dedup_id",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        rows.into_iter()
            .map(|(id, body)| (id, ReplyMessage::parse(Some(&body)).unwrap()))
            .collect()
    }

    /// The ticket reply answering `status` (201 with the new entry `entry_id`), at
    /// most `times` times.
    async fn reply_api(&self, status: u16, entry_id: u64, times: u64) {
        let answer = if status == 201 {
            ResponseTemplate::new(201).set_body_json(entry(entry_id, false, "(reply)", 0))
        } else {
            ResponseTemplate::new(status).set_body_json(json!({"description": "Ticket not found"}))
        };
        Mock::given(method("POST"))
            .and(path(REPLY))
            .and(header("content-type", "application/json"))
            .respond_with(answer)
            .up_to_n_times(times)
            .mount(&self.server)
            .await;
    }

    /// The ticket's conversations answering `entries` (one page).
    async fn conversations_api(&self, entries: Vec<Value>) {
        Mock::given(method("GET"))
            .and(path(CONVERSATIONS))
            .respond_with(ResponseTemplate::new(200).set_body_json(Value::Array(entries)))
            .mount(&self.server)
            .await;
    }

    async fn requests(&self, verb: &str, route: &str) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|request| request.method.as_str() == verb && request.url.path() == route)
            .collect()
    }

    /// The automatic reply: its words, channel, Freshdesk id and send state.
    async fn reply(&self) -> (String, String, Option<String>, String) {
        sqlx::query_as(
            "select body, channel::text, external_id, send_state from support.messages
             where message_type = 'auto_reply'",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_customers_ticket_about_their_shipped_order_is_answered_once_in_the_ticket(pool: PgPool) {
    // Arrange: the ticket comes by webhook (nothing queued before its conversations are
    // read), then twice by poll, with no answer of the shop.
    let world = World::new(pool).await;
    world.shipped_order(REQUESTER).await;
    let ticket = ticket(REQUESTER, WHERE_IS_IT);
    world.webhook(&ticket).await;
    assert!(world.queued().await.is_empty());
    world.record(&ticket, &[]).await;
    world.record(&ticket, &[]).await;
    let queued = world.queued().await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].0, "reply:freshdesk:7101:description");
    assert_eq!(queued[0].1.thread_id, TICKET);
    world.reply_api(201, 5_550_001, 1).await;

    // Act
    let outcome = world.flow().handle(&queued[0].1).await.unwrap();
    let again = world.flow().handle(&queued[0].1).await.unwrap();

    // Assert: one reply, as HTML, in the ticket, with the order's tracking number.
    assert!(
        matches!(outcome, ReplyOutcome::Replied { adopted: false, .. }),
        "{outcome:?}"
    );
    assert_eq!(again, ReplyOutcome::AlreadyDone);
    let sent = world.requests("POST", REPLY).await;
    assert_eq!(sent.len(), 1);
    let credentials = base64_basic(API_KEY);
    assert_eq!(
        sent[0]
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        credentials
    );
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    let html = body["body"].as_str().unwrap();
    assert!(html.contains(PIN) && html.contains("<br>"), "{html}");
    assert_eq!(body.as_object().unwrap().len(), 1, "only the body: {body}");
    let (words, channel, external_id, state) = world.reply().await;
    assert!(words.contains(PIN), "{words}");
    assert_eq!(
        (channel.as_str(), external_id.as_deref(), state.as_str()),
        ("freshdesk", Some("5550001"), "sent")
    );

    // The poll later reads the reply back as a shop entry: recorded once, nothing queued.
    let conversation = world
        .record(&ticket, &[entry(5_550_001, false, &words, 0)])
        .await;
    let copies: i64 = sqlx::query_scalar(
        "select count(*) from support.messages where conversation_id = $1 and external_id = '5550001'",
    )
    .bind(conversation)
    .fetch_one(&world.pool)
    .await
    .unwrap();
    assert_eq!(copies, 1);
    assert_eq!(world.queued().await.len(), 1);
}

fn base64_basic(key: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:X"))
    )
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn only_customer_messages_the_shop_has_not_answered_are_queued(pool: PgPool) {
    // Arrange: the description, answered by an agent, then the customer again.
    let world = World::new(pool).await;
    let ticket = ticket(REQUESTER, WHERE_IS_IT);

    // Act
    world
        .record(
            &ticket,
            &[
                entry(8001, false, "We are looking into it.", 3),
                entry(8002, true, "Any news? It has been a week.", 1),
            ],
        )
        .await;

    // Assert: only the customer's latest message waits for a reply.
    let queued: Vec<String> = world.queued().await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(queued, ["reply:freshdesk:8002"]);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_reply_freshdesk_kept_behind_a_5xx_is_adopted_not_sent_again(pool: PgPool) {
    // Arrange: the reply times out as a 502, but Freshdesk kept it.
    let world = World::new(pool).await;
    world.shipped_order(REQUESTER).await;
    world.record(&ticket(REQUESTER, WHERE_IS_IT), &[]).await;
    let message = world.queued().await.remove(0).1;
    world.reply_api(502, 0, 1).await;
    let first = world.flow().handle(&message).await.unwrap_err();
    assert_eq!(first.disposition(), Disposition::Retry);
    let (words, _, _, state) = world.reply().await;
    assert_eq!(state, "sending");
    world
        .conversations_api(vec![
            entry(8001, true, "an older message", 30),
            entry(5_550_002, false, &words, 0),
        ])
        .await;
    world.reply_api(201, 5_550_003, 1).await;

    // Act
    let outcome = world.flow().handle(&message).await.unwrap();

    // Assert: the ticket was read, the reply found there, and never posted again.
    assert!(
        matches!(outcome, ReplyOutcome::Replied { adopted: true, .. }),
        "{outcome:?}"
    );
    assert_eq!(world.requests("POST", REPLY).await.len(), 1);
    assert_eq!(world.requests("GET", CONVERSATIONS).await.len(), 1);
    let (_, _, external_id, state) = world.reply().await;
    assert_eq!(
        (external_id.as_deref(), state.as_str()),
        (Some("5550002"), "sent")
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_reply_lost_behind_a_5xx_is_sent_again_once_the_ticket_shows_it_is_not_there(
    pool: PgPool,
) {
    // Arrange: the first reply fails with a 504 and never reached the ticket.
    let world = World::new(pool).await;
    world.shipped_order(REQUESTER).await;
    world.record(&ticket(REQUESTER, WHERE_IS_IT), &[]).await;
    let message = world.queued().await.remove(0).1;
    world.reply_api(504, 0, 1).await;
    world.flow().handle(&message).await.unwrap_err();
    world
        .conversations_api(vec![entry(8001, false, "A different answer.", 0)])
        .await;
    world.reply_api(201, 5_550_004, 1).await;

    // Act
    let outcome = world.flow().handle(&message).await.unwrap();

    // Assert
    assert!(
        matches!(outcome, ReplyOutcome::Replied { adopted: false, .. }),
        "{outcome:?}"
    );
    assert_eq!(world.requests("POST", REPLY).await.len(), 2);
    assert_eq!(world.requests("GET", CONVERSATIONS).await.len(), 1);
    let (_, _, external_id, _) = world.reply().await;
    assert_eq!(external_id.as_deref(), Some("5550004"));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_reply_freshdesk_refuses_is_handed_over_and_stays_unsent(pool: PgPool) {
    // Arrange
    let world = World::new(pool).await;
    world.shipped_order(REQUESTER).await;
    world.record(&ticket(REQUESTER, WHERE_IS_IT), &[]).await;
    let message = world.queued().await.remove(0).1;
    world.reply_api(404, 0, 1).await;

    // Act
    let err = world.flow().handle(&message).await.unwrap_err();

    // Assert: given up with Freshdesk's reason; a person's task says why.
    assert_eq!(err.disposition(), Disposition::GiveUp);
    assert!(err.to_string().contains("Ticket not found"), "{err}");
    let (_, _, external_id, state) = world.reply().await;
    assert_eq!((external_id, state.as_str()), (None, "stored"));
    let description: String = sqlx::query_scalar(
        "select t.description from workflow.tasks t
         join support.reply_decisions d on d.task_id = t.id where d.message_id = $1",
    )
    .bind(message.message_id)
    .fetch_one(&world.pool)
    .await
    .unwrap();
    assert!(
        description.contains("refused by Freshdesk") && description.contains("ticket"),
        "{description}"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_ticket_naming_someone_elses_order_is_handed_over_without_its_facts(pool: PgPool) {
    // Arrange: the order was placed by another customer; the ticket names it.
    let world = World::new(pool).await;
    world.shipped_order("someone.else@example.ca").await;
    world.record(&ticket(REQUESTER, WHERE_IS_IT), &[]).await;
    let message = world.queued().await.remove(0).1;
    world.reply_api(201, 5_550_005, 1).await;

    // Act
    let outcome = world.flow().handle(&message).await.unwrap();

    // Assert
    let ReplyOutcome::HandedOver { guard, task_id } = outcome else {
        panic!("expected a hand-over, got {outcome:?}");
    };
    assert_eq!(guard, Guard::OrderNotIdentified);
    assert!(task_id.is_some());
    assert!(world.requests("POST", REPLY).await.is_empty());
    let replies: i64 = sqlx::query_scalar(
        "select count(*) from support.messages where message_type = 'auto_reply'",
    )
    .fetch_one(&world.pool)
    .await
    .unwrap();
    assert_eq!(replies, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn without_a_freshdesk_key_a_tickets_message_fails_naming_the_setting(pool: PgPool) {
    // Arrange
    let world = World::new(pool).await;
    world.shipped_order(REQUESTER).await;
    world.record(&ticket(REQUESTER, WHERE_IS_IT), &[]).await;
    let message = world.queued().await.remove(0).1;
    let flow = AutoReply::new(&world.settings, &world.pool, &world.mirakl);

    // Act
    let err = flow.handle(&message).await.unwrap_err();

    // Assert: nothing sent anywhere; the failure names what to configure.
    assert_eq!(err.disposition(), Disposition::GiveUp);
    assert!(err.to_string().contains("FRESHDESK_API_KEY"), "{err}");
    assert!(world.server.received_requests().await.unwrap().is_empty());
}
