//! conversation-auto-reply's flow against a fake Mirakl: the decision recorded once per
//! customer message, replies with real facts in the customer's language sent once
//! (M12, multipart), everything else handed over as a task.

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use sellerops::flows::recording::mirakl::record_mirakl_thread;
use sellerops::flows::replies::guards::Guard;
use sellerops::flows::replies::{AutoReply, ReplyMessage, ReplyOutcome};
use sellerops::model::received::Received;
use sellerops::ops::config::{AutoReplySettings, FromEnvironment};
use sellerops::ops::errors::Disposition;
use sellerops::systems::mirakl::threads::MiraklThread;
use sellerops::systems::mirakl::MiraklClient;
use sellerops_tests::fulfilment::{mirakl, MIRAKL_KEY};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const THREAD: &str = "4b8f0c2e-6f1a-4d7e-9a51-2f0b6d3c9e11";
const ORDER: &str = "201934572-A";
const CUSTOMER: &str = "C-558201";
const PIN: &str = "7023210987654321";
const M10: &str = "/api/inbox/threads/4b8f0c2e-6f1a-4d7e-9a51-2f0b6d3c9e11";
const M12: &str = "/api/inbox/threads/4b8f0c2e-6f1a-4d7e-9a51-2f0b6d3c9e11/message";

/// A message of a thread: its Mirakl id, author type, text and age in minutes.
struct Said {
    id: &'static str,
    author: &'static str,
    body: String,
    minutes_ago: i64,
}

fn customer(id: &'static str, body: &str, minutes_ago: i64) -> Said {
    Said {
        id,
        author: "CUSTOMER_USER",
        body: body.to_owned(),
        minutes_ago,
    }
}

fn shop(id: &'static str, body: &str, minutes_ago: i64) -> Said {
    Said {
        id,
        author: "SHOP_USER",
        body: body.to_owned(),
        minutes_ago,
    }
}

fn ago(minutes: i64) -> DateTime<Utc> {
    Utc::now() - Duration::minutes(minutes)
}

/// A Mirakl thread (M10/M11 shape) about `order`, with `messages`.
fn thread_json(order: Option<&str>, messages: &[Said]) -> String {
    let messages: Vec<Value> = messages
        .iter()
        .map(|said| {
            let (name, party) = match said.author {
                "CUSTOMER_USER" => ("Amelia T.", json!({"type": "CUSTOMER", "id": CUSTOMER})),
                _ => ("Maple Refurb Co", json!({"type": "SHOP", "id": "2001"})),
            };
            json!({
                "id": said.id,
                "body": said.body,
                "date_created": ago(said.minutes_ago),
                "attachments": [],
                "from": {"display_name": name, "type": said.author,
                         "organization_details": party},
                "to": [],
            })
        })
        .collect();
    let entities: Vec<Value> = order
        .map(|order| json!({"id": order, "label": order, "type": "MMP_ORDER"}))
        .into_iter()
        .collect();
    json!({
        "id": THREAD,
        "date_created": ago(600),
        "date_updated": ago(0),
        "topic": {"type": "FREE_TEXT", "value": "My order"},
        "entities": entities,
        "current_participants": [
            {"display_name": "Maple Refurb Co", "id": "2001", "type": "SHOP"},
            {"display_name": "Amelia T.", "id": CUSTOMER, "type": "CUSTOMER"}
        ],
        "messages": messages,
    })
    .to_string()
}

/// The fake Mirakl, its client and the flow's settings for one test.
struct World {
    pool: PgPool,
    server: MockServer,
    mirakl: MiraklClient,
    settings: AutoReplySettings,
}

impl World {
    async fn new(pool: PgPool, mode: &str) -> Self {
        let server = MockServer::start().await;
        let settings = settings(&server.uri(), mode);
        Self {
            mirakl: mirakl(&server.uri(), &pool),
            pool,
            server,
            settings,
        }
    }

    fn flow(&self) -> AutoReply<'_> {
        AutoReply::new(&self.settings, &self.pool, &self.mirakl)
    }

    /// The customer, as the order recording would have them.
    async fn customer(&self) -> Uuid {
        sqlx::query_scalar(
            "insert into sales.customers (channel, external_id) values ('bestbuy_ca', $1)
             on conflict (channel, external_id) do update set status = 'active'
             returning id",
        )
        .bind(CUSTOMER)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    /// A Best Buy order of the customer in `state`, shipping by three days from now,
    /// shipped with Canada Post under `pin` when given.
    async fn order(&self, external_id: &str, state: &str, pin: Option<&str>) -> Uuid {
        let customer = self.customer().await;
        let order: Uuid = sqlx::query_scalar(
            "insert into sales.orders
                 (channel, external_id, commercial_id, customer_id, status, total_amount,
                  placed_at, shipping_deadline)
             values ('bestbuy_ca', $1, $2, $3, $4, 1299.00, now() - interval '2 days',
                     now() + interval '3 days')
             returning id",
        )
        .bind(external_id)
        .bind(external_id.trim_end_matches("-A"))
        .bind(customer)
        .bind(state)
        .fetch_one(&self.pool)
        .await
        .unwrap();
        if let Some(pin) = pin {
            sqlx::query(
                "insert into sales.shipments
                     (order_id, state, carrier, shipment_id, tracking_pin, label_created_at,
                      tracking_reported_at, shipped_at)
                 values ($1, 'shipped', 'canada_post', $2, $3, now(), now(), now())",
            )
            .bind(order)
            .bind(format!("SHIP-{external_id}"))
            .bind(pin)
            .execute(&self.pool)
            .await
            .unwrap();
        }
        order
    }

    /// Records the thread as the poller does; returns the reply-queue messages it wrote.
    async fn thread(&self, order: Option<&str>, messages: &[Said]) -> Vec<ReplyMessage> {
        let received: Received<MiraklThread> =
            serde_json::from_str(&thread_json(order, messages)).unwrap();
        let mut tx = self.pool.begin().await.unwrap();
        record_mirakl_thread(&mut tx, &received).await.unwrap();
        tx.commit().await.unwrap();
        let bodies: Vec<String> = sqlx::query_scalar(
            "select message_body::text from ops.outbox where queue_name = 'reply'
             order by created_at, dedup_id",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        bodies
            .iter()
            .map(|body| ReplyMessage::parse(Some(body)).unwrap())
            .collect()
    }

    /// The reply-queue message of the customer's Mirakl message `id`, written by hand
    /// (for threads the recording would not queue).
    async fn message(&self, id: &str) -> ReplyMessage {
        let (message_id, conversation_id): (Uuid, Uuid) = sqlx::query_as(
            "select id, conversation_id from support.messages where external_id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await
        .unwrap();
        ReplyMessage {
            message_id,
            conversation_id,
            thread_id: THREAD.into(),
        }
    }

    /// M12 answering `status` (201 with Mirakl's id `mirakl_id`), `times` times at most.
    async fn m12(&self, status: u16, mirakl_id: &str, times: Option<u64>) {
        let answer = if status == 201 {
            ResponseTemplate::new(201)
                .set_body_json(json!({"message_id": mirakl_id, "thread_id": THREAD}))
        } else {
            ResponseTemplate::new(status).set_body_json(json!({"message": "unavailable"}))
        };
        let mock = Mock::given(method("POST"))
            .and(path(M12))
            .and(header("authorization", MIRAKL_KEY))
            .respond_with(answer);
        match times {
            Some(times) => mock.up_to_n_times(times).mount(&self.server).await,
            None => mock.mount(&self.server).await,
        }
    }

    /// M10 answering the thread with `messages`.
    async fn m10(&self, order: Option<&str>, messages: &[Said]) {
        Mock::given(method("GET"))
            .and(path(M10))
            .and(header("authorization", MIRAKL_KEY))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(thread_json(order, messages), "application/json"),
            )
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

    async fn decision(&self, message: &ReplyMessage) -> Decision {
        sqlx::query_as(
            "select mode, language, intent, entities, confidence::float8, replied, guard, reason,
                    reply_body, reply_message_id, task_id
             from support.reply_decisions where message_id = $1",
        )
        .bind(message.message_id)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    async fn replies(&self) -> Vec<Reply> {
        sqlx::query_as(
            "select body, sender_type, external_id, send_state, in_reply_to_message_id
             from support.messages where message_type = 'auto_reply' order by created_at",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    async fn tasks(&self) -> Vec<Task> {
        sqlx::query_as(
            "select t.title, t.task_type, t.order_id, t.conversation_id, t.message_id,
                    s.is_default
             from workflow.tasks t join workflow.kanban_stages s on s.id = t.stage_id
             order by t.created_at",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    async fn conversation_status(&self) -> String {
        sqlx::query_scalar("select status from support.conversations where external_id = $1")
            .bind(THREAD)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

fn settings(mirakl_url: &str, mode: &str) -> AutoReplySettings {
    let vars = [
        ("DATABASE_URL", "postgres://unused@localhost/unused"),
        ("MIRAKL_BASE_URL", mirakl_url),
        ("MIRAKL_API_KEY", MIRAKL_KEY),
        ("AUTO_REPLY_MODE", mode),
    ];
    AutoReplySettings::from_lookup(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap()
}

#[derive(Debug, sqlx::FromRow)]
struct Decision {
    mode: String,
    language: String,
    intent: String,
    entities: Value,
    confidence: f64,
    replied: bool,
    guard: Option<String>,
    reason: String,
    reply_body: Option<String>,
    reply_message_id: Option<Uuid>,
    task_id: Option<Uuid>,
}

#[derive(Debug, sqlx::FromRow)]
struct Reply {
    body: String,
    sender_type: String,
    external_id: Option<String>,
    send_state: Option<String>,
    in_reply_to_message_id: Option<Uuid>,
}

#[derive(Debug, sqlx::FromRow)]
struct Task {
    title: String,
    task_type: String,
    order_id: Option<Uuid>,
    conversation_id: Option<Uuid>,
    message_id: Option<Uuid>,
    is_default: bool,
}

/// M12's `message_input` part, after checking the request is `multipart/form-data`
/// with that one JSON part.
fn message_input(request: &Request) -> Value {
    let content_type = request
        .headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("not multipart: {content_type}"));
    let body = String::from_utf8(request.body.clone()).unwrap();
    let parts: Vec<&str> = body.split(&format!("--{boundary}")).collect();
    assert_eq!(parts.first(), Some(&""), "{body}");
    assert_eq!(parts.last(), Some(&"--\r\n"), "{body}");
    let parts = &parts[1..parts.len() - 1];
    assert_eq!(parts.len(), 1, "one part: {body}");
    let (headers, content) = parts[0]
        .trim_start_matches("\r\n")
        .split_once("\r\n\r\n")
        .unwrap();
    assert_eq!(
        headers,
        "Content-Disposition: form-data; name=\"message_input\"\r\n\
         Content-Type: application/json; charset=utf-8"
    );
    serde_json::from_str(content.strip_suffix("\r\n").unwrap()).unwrap()
}

fn guard_of(outcome: &ReplyOutcome) -> Option<Guard> {
    match outcome {
        ReplyOutcome::HandedOver { guard, .. } => Some(*guard),
        ReplyOutcome::Shadow { guard, .. } => *guard,
        _ => None,
    }
}

const WHERE_IS_IT: &str = "Hi, where is my order 201934572-A? Thank you.";
const SUIVI: &str =
    "Bonjour, pouvez-vous m'envoyer le numéro de suivi de ma commande? Merci beaucoup";

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_english_question_about_a_shipped_order_is_answered_with_its_tracking(pool: PgPool) {
    // Arrange
    let world = World::new(pool, "on").await;
    let order = world.order(ORDER, "SHIPPED", Some(PIN)).await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;
    world.m12(201, "mirakl-reply-1", None).await;

    // Act
    let outcome = world.flow().handle(&queued[0]).await.unwrap();

    // Assert: one M12, multipart, to the customer, with the real facts in English.
    assert!(
        matches!(outcome, ReplyOutcome::Replied { adopted: false, .. }),
        "{outcome:?}"
    );
    let sent = world.requests("POST", M12).await;
    assert_eq!(sent.len(), 1);
    let input = message_input(&sent[0]);
    assert_eq!(input["to"], json!([{"type": "CUSTOMER", "id": CUSTOMER}]));
    assert_eq!(input.as_object().unwrap().len(), 2, "{input}");
    let body = input["body"].as_str().unwrap();
    for fact in [
        ORDER,
        PIN,
        "Canada Post",
        "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=7023210987654321",
    ] {
        assert!(body.contains(fact), "{fact} missing from {body}");
    }
    // The reply is stored as sent, in reply to the customer's message, and the
    // decision says why.
    let replies = world.replies().await;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].body, body);
    assert_eq!(replies[0].sender_type, "assistant");
    assert_eq!(replies[0].external_id.as_deref(), Some("mirakl-reply-1"));
    assert_eq!(replies[0].send_state.as_deref(), Some("sent"));
    assert_eq!(
        replies[0].in_reply_to_message_id,
        Some(queued[0].message_id)
    );
    let decision = world.decision(&queued[0]).await;
    assert_eq!(
        (
            decision.mode.as_str(),
            decision.language.as_str(),
            decision.replied
        ),
        ("on", "en", true)
    );
    assert!(["order_status", "tracking_request"].contains(&decision.intent.as_str()));
    assert_eq!(decision.entities["order_id"], ORDER);
    assert!(decision.confidence > 0.0 && decision.confidence <= 1.0);
    assert_eq!(decision.guard, None);
    assert!(decision.reason.contains(ORDER), "{}", decision.reason);
    assert!(decision.reply_message_id.is_some() && decision.task_id.is_none());
    assert!(world.tasks().await.is_empty());
    assert_eq!(world.conversation_status().await, "read");
    let _ = order;
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_french_tracking_request_is_answered_in_french_with_the_french_tracking_page(
    pool: PgPool,
) {
    // Arrange
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    let queued = world.thread(Some(ORDER), &[customer("m1", SUIVI, 5)]).await;
    world.m12(201, "mirakl-reply-1", None).await;

    // Act
    let outcome = world.flow().handle(&queued[0]).await.unwrap();

    // Assert
    assert!(
        matches!(outcome, ReplyOutcome::Replied { .. }),
        "{outcome:?}"
    );
    let sent = world.requests("POST", M12).await;
    assert_eq!(sent.len(), 1);
    let body = message_input(&sent[0])["body"].as_str().unwrap().to_owned();
    for fact in [
        ORDER,
        PIN,
        "Postes Canada",
        "https://www.canadapost-postescanada.ca/track-reperage/fr#/search?searchFor=7023210987654321",
        "Bonjour",
    ] {
        assert!(body.contains(fact), "{fact} missing from {body}");
    }
    assert_eq!(world.decision(&queued[0]).await.language, "fr");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_order_not_shipped_yet_is_answered_with_its_ship_by_date(pool: PgPool) {
    // Arrange
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPING", None).await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;
    world.m12(201, "mirakl-reply-1", None).await;
    let ship_by: DateTime<Utc> =
        sqlx::query_scalar("select shipping_deadline from sales.orders where external_id = $1")
            .bind(ORDER)
            .fetch_one(&world.pool)
            .await
            .unwrap();

    // Act
    world.flow().handle(&queued[0]).await.unwrap();

    // Assert: the date is the ship-by date (in Eastern time), written out.
    let sent = world.requests("POST", M12).await;
    let body = message_input(&sent[0])["body"].as_str().unwrap().to_owned();
    let day = (ship_by - Duration::hours(5)).date_naive();
    let written = day.format("%B %-d, %Y").to_string();
    assert!(body.contains(&written), "{written} missing from {body}");
    assert!(body.contains("not shipped yet"), "{body}");
    assert!(!body.contains(PIN));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn shadow_mode_records_the_reply_it_would_send_sends_nothing_and_hands_over(pool: PgPool) {
    // Arrange
    let world = World::new(pool, "shadow").await;
    let order = world.order(ORDER, "SHIPPED", Some(PIN)).await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;
    world.m12(201, "never", None).await;

    // Act
    let outcome = world.flow().handle(&queued[0]).await.unwrap();

    // Assert
    assert!(
        matches!(
            outcome,
            ReplyOutcome::Shadow {
                would_reply: true,
                guard: None,
                task_id: Some(_)
            }
        ),
        "{outcome:?}"
    );
    assert!(world.requests("POST", M12).await.is_empty());
    assert!(world.replies().await.is_empty());
    let decision = world.decision(&queued[0]).await;
    assert_eq!((decision.mode.as_str(), decision.replied), ("shadow", true));
    let would = decision.reply_body.unwrap();
    assert!(would.contains(PIN) && would.contains(ORDER), "{would}");
    let tasks = world.tasks().await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].order_id, Some(order));
    assert_eq!(world.conversation_status().await, "unread");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn off_mode_acknowledges_and_records_nothing(pool: PgPool) {
    // Arrange
    let world = World::new(pool, "off").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;

    // Act
    let outcome = world.flow().handle(&queued[0]).await.unwrap();

    // Assert
    assert_eq!(outcome, ReplyOutcome::Off);
    assert!(world.server.received_requests().await.unwrap().is_empty());
    assert_eq!(
        world
            .count("select count(*) from support.reply_decisions")
            .await,
        0
    );
    assert!(world.tasks().await.is_empty());
    assert_eq!(world.conversation_status().await, "unread");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_cancellation_is_handed_over_with_a_task_saying_so(pool: PgPool) {
    // Arrange
    let world = World::new(pool, "on").await;
    let order = world.order(ORDER, "SHIPPING", None).await;
    let queued = world
        .thread(
            Some(ORDER),
            &[customer(
                "m1",
                "Please cancel my order, I ordered the wrong model.",
                5,
            )],
        )
        .await;

    // Act
    let outcome = world.flow().handle(&queued[0]).await.unwrap();

    // Assert: one task on the default stage, linked, saying what the customer wants.
    assert_eq!(
        guard_of(&outcome),
        Some(Guard::NotRoutineIntent),
        "{outcome:?}"
    );
    assert!(world.requests("POST", M12).await.is_empty());
    let tasks = world.tasks().await;
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert_eq!(task.title, "Customer asks to cancel order 201934572-A");
    assert_eq!(task.task_type, "customer_message");
    assert!(task.is_default);
    assert_eq!(task.order_id, Some(order));
    assert_eq!(task.conversation_id, Some(queued[0].conversation_id));
    assert_eq!(task.message_id, Some(queued[0].message_id));
    let decision = world.decision(&queued[0]).await;
    assert_eq!(decision.guard.as_deref(), Some("not_routine_intent"));
    assert_eq!(decision.intent, "cancel_request");
    assert_eq!(decision.task_id, Some(outcome_task(&outcome)));
    assert_eq!(world.conversation_status().await, "unread");
}

fn outcome_task(outcome: &ReplyOutcome) -> Uuid {
    match outcome {
        ReplyOutcome::HandedOver {
            task_id: Some(task),
            ..
        }
        | ReplyOutcome::Shadow {
            task_id: Some(task),
            ..
        } => *task,
        other => panic!("no task: {other:?}"),
    }
}

/// Handles the thread's first queued message with no M12 expected; returns the guard.
async fn handed_over(world: &World, message: &ReplyMessage) -> Option<String> {
    let outcome = world.flow().handle(message).await.unwrap();
    assert!(
        matches!(
            outcome,
            ReplyOutcome::HandedOver {
                task_id: Some(_),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(world.requests("POST", M12).await.is_empty());
    assert_eq!(world.tasks().await.len(), 1);
    world.decision(message).await.guard
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_angry_or_legal_message_is_handed_over_even_when_it_asks_for_tracking(pool: PgPool) {
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    let queued = world
        .thread(
            Some(ORDER),
            &[customer(
                "m1",
                "Where is my tracking number?? This is a scam, I will call my lawyer and file a chargeback.",
                5,
            )],
        )
        .await;

    assert_eq!(
        handed_over(&world, &queued[0]).await.as_deref(),
        Some("hazard")
    );
    let decision = world.decision(&queued[0]).await;
    assert_eq!(decision.intent, "tracking_request");
    assert!(decision.reason.contains("lawyer"), "{}", decision.reason);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_invoice_request_is_answered_with_the_order_and_its_date(pool: PgPool) {
    // Arrange
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    let queued = world
        .thread(
            Some(ORDER),
            &[customer(
                "m1",
                "Hello, could you send me the invoice for my order 201934572-A? Thanks",
                5,
            )],
        )
        .await;
    world.m12(201, "mirakl-reply-1", None).await;
    let placed_at: DateTime<Utc> =
        sqlx::query_scalar("select placed_at from sales.orders where external_id = $1")
            .bind(ORDER)
            .fetch_one(&world.pool)
            .await
            .unwrap();

    // Act
    world.flow().handle(&queued[0]).await.unwrap();

    // Assert
    let body = message_input(&world.requests("POST", M12).await[0])["body"]
        .as_str()
        .unwrap()
        .to_owned();
    let day = (placed_at - Duration::hours(5)).date_naive();
    assert!(body.contains("invoice") && body.contains(ORDER), "{body}");
    assert!(
        body.contains(&day.format("%B %-d, %Y").to_string()),
        "{body}"
    );
    assert_eq!(world.decision(&queued[0]).await.intent, "invoice_request");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_question_about_a_cancelled_order_has_no_template(pool: PgPool) {
    let world = World::new(pool, "on").await;
    world.order(ORDER, "CANCELED", None).await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;

    assert_eq!(
        handed_over(&world, &queued[0]).await.as_deref(),
        Some("no_template")
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_text_naming_another_order_than_the_threads_is_not_identified(pool: PgPool) {
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    world
        .order("201934999-A", "SHIPPED", Some("7023210900000000"))
        .await;
    let queued = world
        .thread(
            Some(ORDER),
            &[customer(
                "m1",
                "Hi, where is my order 201934999-A? Thank you.",
                5,
            )],
        )
        .await;

    assert_eq!(
        handed_over(&world, &queued[0]).await.as_deref(),
        Some("order_not_identified")
    );
    assert_eq!(
        world.tasks().await[0].title,
        "Customer asks where order 201934999-A is"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_thread_about_no_order_is_answered_for_the_customers_order_its_text_names(pool: PgPool) {
    // Arrange: the customer writes without leading zeros and without the suffix.
    let world = World::new(pool, "on").await;
    world.order("0201934572-A", "SHIPPED", Some(PIN)).await;
    let queued = world
        .thread(
            None,
            &[customer(
                "m1",
                "Hi, where is my order 201934572? Thank you.",
                5,
            )],
        )
        .await;
    world.m12(201, "mirakl-reply-1", None).await;

    // Act
    let outcome = world.flow().handle(&queued[0]).await.unwrap();

    // Assert
    assert!(
        matches!(outcome, ReplyOutcome::Replied { .. }),
        "{outcome:?}"
    );
    let body = message_input(&world.requests("POST", M12).await[0])["body"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        body.contains("0201934572-A") && body.contains(PIN),
        "{body}"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_thread_whose_order_is_unknown_is_handed_over(pool: PgPool) {
    let world = World::new(pool, "on").await;
    world.customer().await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;

    assert_eq!(
        handed_over(&world, &queued[0]).await.as_deref(),
        Some("order_not_identified")
    );
    let task = &world.tasks().await[0];
    assert_eq!(task.title, "Customer asks where order 201934572-A is");
    assert_eq!(task.order_id, None);
    assert_eq!(world.conversation_status().await, "unread");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_shipped_order_without_a_tracking_number_is_missing_facts(pool: PgPool) {
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", None).await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;

    assert_eq!(
        handed_over(&world, &queued[0]).await.as_deref(),
        Some("facts_missing")
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_thread_the_shop_wrote_last_in_is_not_answered(pool: PgPool) {
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    world
        .thread(
            Some(ORDER),
            &[
                customer("m1", WHERE_IS_IT, 10),
                shop("m2", "Hello, we are looking into it.", 5),
            ],
        )
        .await;
    let message = world.message("m1").await;

    assert_eq!(
        handed_over(&world, &message).await.as_deref(),
        Some("customer_not_last")
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_message_a_person_answered_since_is_not_answered(pool: PgPool) {
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    world
        .thread(
            Some(ORDER),
            &[
                customer("m1", WHERE_IS_IT, 30),
                shop("m2", "Hello, it left yesterday.", 20),
                customer("m3", "Thanks!", 10),
            ],
        )
        .await;
    let message = world.message("m1").await;

    assert_eq!(
        handed_over(&world, &message).await.as_deref(),
        Some("person_replied")
    );
}

/// An automatic reply of ours in the thread `minutes_ago`, answering Mirakl message
/// `answering`.
async fn earlier_reply(world: &World, answering: &str, minutes_ago: i64) {
    sqlx::query(
        "insert into support.messages
             (conversation_id, channel, external_id, sender_type, message_type, body, sent_at,
              in_reply_to_message_id, send_state)
         select conversation_id, 'bestbuy_ca', 'reply-to-' || $1, 'assistant', 'auto_reply',
                'Your order shipped.', now() - make_interval(mins => $2), id, 'sent'
         from support.messages where external_id = $1",
    )
    .bind(answering)
    .bind(minutes_ago as i32)
    .execute(&world.pool)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_thread_answered_automatically_moments_ago_is_cooling_off(pool: PgPool) {
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 30)])
        .await;
    earlier_reply(&world, "m1", 20).await;
    let queued = world
        .thread(
            Some(ORDER),
            &[
                customer("m1", WHERE_IS_IT, 30),
                customer("m3", "Could you send me the tracking number please?", 5),
            ],
        )
        .await;
    let message = queued
        .iter()
        .find(|m| m.message_id != queued[0].message_id)
        .unwrap();

    assert_eq!(
        handed_over(&world, message).await.as_deref(),
        Some("cooling_off")
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_thread_with_as_many_automatic_replies_as_allowed_gets_no_more(pool: PgPool) {
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    world
        .thread(
            Some(ORDER),
            &[
                customer("m1", WHERE_IS_IT, 900),
                customer("m2", WHERE_IS_IT, 800),
                customer("m3", WHERE_IS_IT, 700),
            ],
        )
        .await;
    for (answering, minutes) in [("m1", 890), ("m2", 790), ("m3", 690)] {
        earlier_reply(&world, answering, minutes).await;
    }
    world
        .thread(
            Some(ORDER),
            &[customer(
                "m4",
                "Could you send me the tracking number please?",
                5,
            )],
        )
        .await;
    let message = world.message("m4").await;

    assert_eq!(
        handed_over(&world, &message).await.as_deref(),
        Some("max_replies_reached")
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_redelivered_message_gets_one_reply_whatever_its_payload(pool: PgPool) {
    // Arrange
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;
    world.m12(201, "mirakl-reply-1", None).await;
    let first = world.flow().handle(&queued[0]).await.unwrap();

    // Act: the same body again, the same ids with an extra field, and the message
    // claimed for another conversation.
    let again = world.flow().handle(&queued[0]).await.unwrap();
    let mut extra = queued[0].to_json();
    extra["attempt"] = json!(2);
    let extra = ReplyMessage::parse(Some(&extra.to_string())).unwrap();
    let with_extra = world.flow().handle(&extra).await.unwrap();
    let mut elsewhere = queued[0].clone();
    elsewhere.conversation_id = Uuid::new_v4();
    let mismatched = world.flow().handle(&elsewhere).await.unwrap_err();

    // Assert
    assert!(matches!(first, ReplyOutcome::Replied { .. }), "{first:?}");
    assert_eq!(again, ReplyOutcome::AlreadyDone);
    assert_eq!(with_extra, ReplyOutcome::AlreadyDone);
    assert_eq!(mismatched.disposition(), Disposition::GiveUp);
    assert!(
        mismatched.to_string().contains("not to conversation"),
        "{mismatched}"
    );
    assert_eq!(world.requests("POST", M12).await.len(), 1);
    assert_eq!(world.replies().await.len(), 1);
    assert_eq!(
        world
            .count("select count(*) from support.reply_decisions")
            .await,
        1
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_redelivered_hand_over_makes_one_task(pool: PgPool) {
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPING", None).await;
    let queued = world
        .thread(
            Some(ORDER),
            &[customer(
                "m1",
                "Please cancel my order, I ordered the wrong model.",
                5,
            )],
        )
        .await;

    let first = world.flow().handle(&queued[0]).await.unwrap();
    let second = world.flow().handle(&queued[0]).await.unwrap();

    assert_eq!(guard_of(&first), Some(Guard::NotRoutineIntent));
    assert_eq!(second, ReplyOutcome::AlreadyDone);
    assert_eq!(world.tasks().await.len(), 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn concurrent_deliveries_of_one_message_send_one_reply(pool: PgPool) {
    // Arrange: M12 answers slowly, so both deliveries overlap.
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;
    Mock::given(method("POST"))
        .and(path(M12))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"message_id": "mirakl-reply-1", "thread_id": THREAD}))
                .set_delay(std::time::Duration::from_millis(300)),
        )
        .mount(&world.server)
        .await;

    // Act
    let flow = world.flow();
    let (one, two) = tokio::join!(flow.handle(&queued[0]), flow.handle(&queued[0]));

    // Assert: one replied, the other found it held (retried later) or done.
    let outcomes = [&one, &two];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Ok(ReplyOutcome::Replied { .. })))
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(world.requests("POST", M12).await.len(), 1);
    let third = world.flow().handle(&queued[0]).await.unwrap();
    assert_eq!(third, ReplyOutcome::AlreadyDone);
    assert_eq!(world.replies().await.len(), 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_reply_stored_by_mirakl_behind_a_5xx_is_adopted_not_sent_again(pool: PgPool) {
    // Arrange: M12 fails with a 502 once (Mirakl kept the message), then would succeed.
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;
    world.m12(502, "", Some(1)).await;
    world.m12(201, "mirakl-second", None).await;

    // Act: the first attempt ends unknown ...
    let first = world.flow().handle(&queued[0]).await.unwrap_err();
    let stored = world.replies().await;
    // ... and Mirakl's thread shows the reply, dated after the attempt.
    world
        .m10(
            Some(ORDER),
            &[
                customer("m1", WHERE_IS_IT, 5),
                Said {
                    id: "mirakl-kept",
                    author: "SHOP_USER",
                    body: format!("{}\r\n", stored[0].body),
                    minutes_ago: 0,
                },
            ],
        )
        .await;
    let second = world.flow().handle(&queued[0]).await.unwrap();

    // Assert
    assert_eq!(first.disposition(), Disposition::Retry);
    assert_eq!(stored[0].send_state.as_deref(), Some("sending"));
    assert_eq!(
        second,
        ReplyOutcome::Replied {
            reply_message_id: world.decision(&queued[0]).await.reply_message_id.unwrap(),
            adopted: true
        }
    );
    assert_eq!(
        world.requests("POST", M12).await.len(),
        1,
        "never sent twice"
    );
    assert_eq!(world.requests("GET", M10).await.len(), 1);
    let replies = world.replies().await;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].external_id.as_deref(), Some("mirakl-kept"));
    assert_eq!(replies[0].send_state.as_deref(), Some("sent"));
    assert_eq!(world.conversation_status().await, "read");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_reply_lost_behind_a_5xx_is_sent_once_more_after_the_thread_is_read(pool: PgPool) {
    // Arrange
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;
    world.m12(503, "", Some(1)).await;
    world.m12(201, "mirakl-second", None).await;
    world
        .m10(
            Some(ORDER),
            &[
                customer("m1", WHERE_IS_IT, 5),
                shop("older", "Hello, your order shipped.", 4),
            ],
        )
        .await;

    // Act
    let first = world.flow().handle(&queued[0]).await.unwrap_err();
    let second = world.flow().handle(&queued[0]).await.unwrap();

    // Assert: the thread was read before the one resend.
    assert_eq!(first.disposition(), Disposition::Retry);
    assert!(
        matches!(second, ReplyOutcome::Replied { adopted: false, .. }),
        "{second:?}"
    );
    let calls: Vec<String> = world
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        calls,
        [
            format!("POST {M12}"),
            format!("GET {M10}"),
            format!("POST {M12}")
        ]
    );
    let sent = world.requests("POST", M12).await;
    assert_eq!(message_input(&sent[0]), message_input(&sent[1]));
    let replies = world.replies().await;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].external_id.as_deref(), Some("mirakl-second"));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_reply_that_never_left_is_sent_again_without_reading_the_thread(pool: PgPool) {
    // Arrange: the first attempt's Mirakl is a port nothing listens on.
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;
    world.m12(201, "mirakl-reply-1", None).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let unreachable = MiraklClient::new(
        &closed,
        SecretString::from(MIRAKL_KEY),
        None,
        world.pool.clone(),
    )
    .unwrap();

    // Act
    let first = AutoReply::new(&world.settings, &world.pool, &unreachable)
        .handle(&queued[0])
        .await
        .unwrap_err();
    let stored = world.replies().await;
    let second = world.flow().handle(&queued[0]).await.unwrap();

    // Assert
    assert_eq!(first.disposition(), Disposition::Retry);
    assert_eq!(stored[0].send_state.as_deref(), Some("stored"));
    assert!(matches!(second, ReplyOutcome::Replied { .. }), "{second:?}");
    assert!(world.requests("GET", M10).await.is_empty());
    assert_eq!(world.requests("POST", M12).await.len(), 1);
    assert_eq!(world.replies().await[0].send_state.as_deref(), Some("sent"));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_thread_not_recorded_yet_is_read_with_m10_recorded_and_answered(pool: PgPool) {
    // Arrange: the order is known, its thread is not.
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    world
        .m10(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;
    world.m12(201, "mirakl-reply-1", None).await;
    let message = ReplyMessage {
        message_id: Uuid::new_v4(),
        conversation_id: Uuid::new_v4(),
        thread_id: THREAD.into(),
    };

    // Act
    let outcome = world.flow().handle(&message).await.unwrap();

    // Assert
    assert!(
        matches!(outcome, ReplyOutcome::Replied { .. }),
        "{outcome:?}"
    );
    assert_eq!(world.requests("GET", M10).await.len(), 1);
    assert_eq!(world.requests("POST", M12).await.len(), 1);
    let answered: Uuid = sqlx::query_scalar(
        "select d.message_id from support.reply_decisions d
         join support.messages m on m.id = d.message_id where m.external_id = 'm1'",
    )
    .fetch_one(&world.pool)
    .await
    .unwrap();
    assert_eq!(
        world.replies().await[0].in_reply_to_message_id,
        Some(answered)
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_failed_reply_is_logged_without_its_words(pool: PgPool) {
    // Arrange
    let world = World::new(pool, "on").await;
    world.order(ORDER, "SHIPPED", Some(PIN)).await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;
    world.m12(500, "", None).await;

    // Act
    world.flow().handle(&queued[0]).await.unwrap_err();

    // Assert: the call is logged with its shape and recipient, not the reply's text.
    let (request_body, status): (String, i32) = sqlx::query_as(
        "select request_body, status_code from ops.api_calls where operation = 'M12'",
    )
    .fetch_one(&world.pool)
    .await
    .unwrap();
    assert_eq!(status, 500);
    assert!(request_body.contains("message_input"), "{request_body}");
    assert!(request_body.contains(CUSTOMER), "{request_body}");
    assert!(request_body.contains("[redacted]"), "{request_body}");
    let reply = &world.replies().await[0].body;
    for line in reply.lines().filter(|line| line.len() > 12) {
        assert!(!request_body.contains(line), "{line} logged");
    }
    assert!(!request_body.contains(PIN));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_reply_mirakl_refuses_is_handed_to_a_person(pool: PgPool) {
    // Arrange
    let world = World::new(pool, "on").await;
    let order = world.order(ORDER, "SHIPPED", Some(PIN)).await;
    let queued = world
        .thread(Some(ORDER), &[customer("m1", WHERE_IS_IT, 5)])
        .await;
    world.m12(400, "", None).await;

    // Act
    let err = world.flow().handle(&queued[0]).await.unwrap_err();

    // Assert: given up for a person, with a task, the reply stored and never sent again.
    assert_eq!(err.disposition(), Disposition::GiveUp);
    let tasks = world.tasks().await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].title, "Customer asks where order 201934572-A is");
    assert_eq!(tasks[0].order_id, Some(order));
    assert!(world.decision(&queued[0]).await.task_id.is_some());
    assert_eq!(
        world.replies().await[0].send_state.as_deref(),
        Some("stored")
    );
    assert_eq!(world.conversation_status().await, "unread");
}
