//! The helpdesk sync against a fake Freshdesk API (wiremock): the requests it sends,
//! paging and the watermark, the overlap read again without recording twice, the
//! rate limit, the first run's look-back, the webhook and the poll in either order,
//! conversations mirrored into the inbox with the customer's hash and the order, and
//! no personal data in the call log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use sellerops::flows::marketplace_sync::freshdesk_tickets::FreshdeskPoll;
use sellerops::flows::marketplace_sync::MarketplaceSync;
use sellerops::model::customer_email::CustomerEmail;
use sellerops::ops::config::MarketplaceSyncSettings;
use sellerops::ops::retry::RetryPolicy;
use sellerops::systems::freshdesk::FreshdeskClient;
use sellerops::systems::mirakl::MiraklClient;
use sellerops_tests::marketplace::{
    deliver, deliver_mirakl, headers, mirakl_order, pepper, webhook_service, FRESHDESK_SECRET,
};
use serde_json::{json, Value};
use sqlx::PgPool;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const HELPDESK: &str = "maplerefurb.freshdesk.com";
const API_KEY: &str = "fd-api-key-for-tests";
const REQUESTER: &str = "ava.tremblay@example.ca";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// A ticket as the API lists it with `include=requester,description`.
fn ticket(id: u64, updated_at: &str, status: u8) -> Value {
    json!({
        "id": id, "subject": format!("Question {id}"), "status": status, "priority": 2,
        "type": "Question", "source": 1, "tags": ["battery"], "requester_id": 9000 + id,
        "created_at": "2026-11-29T09:00:00Z", "updated_at": updated_at,
        "description": "<div>Is it charged?</div>", "description_text": "Is it charged?",
        "custom_fields": {},
        "requester": {"id": 9000 + id, "email": REQUESTER, "name": "Ava Tremblay",
                      "phone": "5145550147"}
    })
}

/// A public conversation entry.
fn entry(id: u64, incoming: bool, private: bool, created_at: &str, text: &str) -> Value {
    json!({
        "id": id, "incoming": incoming, "private": private, "source": 0,
        "body": format!("<div>{text}</div>"), "body_text": text,
        "from_email": if incoming { REQUESTER } else { "support@maplerefurb.ca" },
        "to_emails": [REQUESTER], "created_at": created_at, "updated_at": created_at
    })
}

/// Freshdesk as the sync reads it: tickets filtered by `updated_since` and listed
/// oldest change first in pages, each ticket's conversations in pages; the `n`-th
/// tickets call (from 1) can be answered 429 instead.
#[derive(Clone, Default)]
struct FakeFreshdesk {
    tickets: Arc<Mutex<Vec<Value>>>,
    conversations: Arc<Mutex<HashMap<String, Vec<Value>>>>,
    ticket_calls: Arc<AtomicUsize>,
    rate_limited_call: Option<(usize, u64)>,
}

impl FakeFreshdesk {
    fn with(tickets: Vec<Value>) -> Self {
        let fake = Self::default();
        *fake.tickets.lock().unwrap() = tickets;
        fake
    }

    fn conversations_of(self, ticket_id: u64, entries: Vec<Value>) -> Self {
        self.conversations
            .lock()
            .unwrap()
            .insert(ticket_id.to_string(), entries);
        self
    }
}

fn query(request: &Request) -> HashMap<String, String> {
    request.url.query_pairs().into_owned().collect()
}

fn paged(entries: Vec<Value>, query: &HashMap<String, String>) -> Vec<Value> {
    let page: usize = query.get("page").map_or(1, |p| p.parse().unwrap());
    let per_page: usize = query.get("per_page").map_or(30, |p| p.parse().unwrap());
    entries
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect()
}

impl Respond for FakeFreshdesk {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query = query(request);
        let path = request.url.path();
        if path == "/api/v2/tickets" {
            let call = self.ticket_calls.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some((n, wait)) = self.rate_limited_call {
                if n == call {
                    return ResponseTemplate::new(429)
                        .insert_header("retry-after", wait.to_string().as_str())
                        .set_body_json(json!({"description": "rate limit"}));
                }
            }
            let since = at(&query["updated_since"]);
            let mut tickets: Vec<Value> = self
                .tickets
                .lock()
                .unwrap()
                .iter()
                .filter(|t| at(t["updated_at"].as_str().unwrap()) >= since)
                .cloned()
                .collect();
            tickets.sort_by_key(|t| at(t["updated_at"].as_str().unwrap()));
            return ResponseTemplate::new(200).set_body_json(paged(tickets, &query));
        }
        let ticket_id = path
            .trim_start_matches("/api/v2/tickets/")
            .trim_end_matches("/conversations");
        let entries = self
            .conversations
            .lock()
            .unwrap()
            .get(ticket_id)
            .cloned()
            .unwrap_or_default();
        ResponseTemplate::new(200).set_body_json(paged(entries, &query))
    }
}

async fn serve(fake: &FakeFreshdesk) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/v2/tickets(/\d+/conversations)?$"))
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    server
}

const QUICK: RetryPolicy = RetryPolicy {
    attempts: 2,
    base_delay: Duration::from_millis(50),
    max_delay: Duration::from_secs(2),
};

/// A poller whose only configured system is the helpdesk at `server`.
fn poller(server: &MockServer, pool: &PgPool, page_size: u32) -> MarketplaceSync {
    MarketplaceSync {
        pool: pool.clone(),
        client: MiraklClient::new(
            "http://127.0.0.1:9",
            SecretString::from("shop-key"),
            None,
            pool.clone(),
        )
        .unwrap(),
        pepper: pepper(),
        settings: MarketplaceSyncSettings::default(),
        retry: RetryPolicy::ONCE,
        shopify: None,
        freshdesk: Some(FreshdeskPoll {
            client: FreshdeskClient::new(&server.uri(), SecretString::from(API_KEY), pool.clone())
                .unwrap(),
            domain: HELPDESK.to_owned(),
            retry: QUICK,
            overlap: Duration::from_secs(300),
            first_lookback: Duration::from_secs(24 * 3600),
            page_size,
        }),
    }
}

async fn watermark(pool: &PgPool) -> (Option<DateTime<Utc>>, String, Option<DateTime<Utc>>) {
    sqlx::query_as(
        "select watermark_at, sync_status, next_allowed_at from etl.sync_metadata
         where source = 'freshdesk' and entity = 'tickets'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn inbox(pool: &PgPool) -> Vec<(String, String, String, String)> {
    sqlx::query_as(
        "select c.external_id, m.external_id, m.sender_type, m.body
         from support.conversations c join support.messages m on m.conversation_id = c.id
         where c.channel = 'freshdesk' order by c.external_id, m.sent_at, m.external_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn tickets_requests(requests: &[Request]) -> Vec<HashMap<String, String>> {
    requests
        .iter()
        .filter(|r| r.url.path() == "/api/v2/tickets")
        .map(query)
        .collect()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn tickets_are_read_page_by_page_oldest_first_and_the_watermark_moves_to_the_newest(
    pool: PgPool,
) {
    let fake = FakeFreshdesk::with(vec![
        ticket(101, "2026-11-30T08:00:00Z", 2),
        ticket(102, "2026-11-30T08:10:00Z", 3),
        ticket(103, "2026-11-30T08:20:00Z", 2),
    ])
    .conversations_of(
        102,
        vec![
            entry(5001, true, false, "2026-11-30T08:05:00Z", "Any news?"),
            entry(
                5002,
                false,
                false,
                "2026-11-30T08:09:00Z",
                "It ships today.",
            ),
            entry(
                5003,
                false,
                true,
                "2026-11-30T08:10:00Z",
                "note: check stock",
            ),
        ],
    );
    let server = serve(&fake).await;
    let now = at("2026-11-30T09:00:00Z");

    let tally = poller(&server, &pool, 2)
        .sync_freshdesk_tickets(now)
        .await
        .unwrap();

    assert_eq!((tally.seen, tally.changed, tally.failed), (3, 3, 0));
    let requests = server.received_requests().await.unwrap();
    let lists = tickets_requests(&requests);
    let first = &lists[0];
    assert_eq!(
        first["updated_since"], "2026-11-29T09:00:00Z",
        "the look-back"
    );
    assert_eq!(first["order_by"], "updated_at");
    assert_eq!(first["order_type"], "asc");
    assert_eq!(first["include"], "requester,description");
    assert_eq!(
        (first["page"].as_str(), first["per_page"].as_str()),
        ("1", "2")
    );
    // A full page: asked again from a second before the newest change read.
    assert_eq!(lists[1]["updated_since"], "2026-11-30T08:09:59Z");
    assert_eq!(lists[1]["page"], "1");
    // Ticket 102 is listed again there, and handled once; the third page is short.
    assert_eq!(lists[2]["updated_since"], "2026-11-30T08:19:59Z");
    assert_eq!(lists.len(), 3, "a short page ends the list");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{API_KEY}:X"));
    assert!(requests
        .iter()
        .all(|r| r.headers["authorization"].to_str().unwrap() == format!("Basic {basic}")));
    let conversation_calls = requests
        .iter()
        .filter(|r| r.url.path().ends_with("/conversations"))
        .count();
    assert_eq!(
        conversation_calls, 4,
        "a page per ticket, two for 102's three entries, 102 read once"
    );

    assert_eq!(
        watermark(&pool).await,
        (Some(at("2026-11-30T08:20:00Z")), "success".to_owned(), None)
    );
    let messages = inbox(&pool).await;
    let of_102: Vec<_> = messages.iter().filter(|m| m.0 == "102").collect();
    assert_eq!(
        of_102
            .iter()
            .map(|m| (m.1.as_str(), m.2.as_str(), m.3.as_str()))
            .collect::<Vec<_>>(),
        [
            ("102:description", "customer", "Is it charged?"),
            ("5001", "customer", "Any news?"),
            ("5002", "technician", "It ships today."),
        ],
        "the private note stays out of the inbox"
    );
    assert_eq!(messages.len(), 5);
    let statuses: Vec<(String, String)> = sqlx::query_as(
        "select freshdesk_ticket_id, support.extract_ticket_status(data)
         from etl.freshdesk_tickets order by freshdesk_ticket_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        statuses,
        [
            ("101".to_owned(), "open".to_owned()),
            ("102".to_owned(), "pending".to_owned()),
            ("103".to_owned(), "open".to_owned())
        ]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_overlap_read_again_records_nothing_twice(pool: PgPool) {
    let fake = FakeFreshdesk::with(vec![
        ticket(201, "2026-11-30T08:58:00Z", 2),
        ticket(202, "2026-11-30T08:59:00Z", 2),
    ])
    .conversations_of(
        201,
        vec![entry(6001, true, false, "2026-11-30T08:58:00Z", "Hello?")],
    );
    let server = serve(&fake).await;
    let sync = poller(&server, &pool, 10);
    sync.sync_freshdesk_tickets(at("2026-11-30T09:00:00Z"))
        .await
        .unwrap();
    // Read whole, each ticket's unanswered customer messages wait for a reply.
    let replies_queued = || async {
        sqlx::query_scalar::<_, String>(
            "select dedup_id from ops.outbox where queue_name = 'reply' order by dedup_id",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let queued = [
        "reply:freshdesk:201:description",
        "reply:freshdesk:202:description",
        "reply:freshdesk:6001",
    ];
    assert_eq!(replies_queued().await, queued);
    let before = (
        inbox(&pool).await,
        count(&pool, "select count(*) from support.conversations").await,
    );
    let touched: Vec<DateTime<Utc>> =
        sqlx::query_scalar("select updated_at from etl.freshdesk_tickets order by id")
            .fetch_all(&pool)
            .await
            .unwrap();

    let again = sync
        .sync_freshdesk_tickets(at("2026-11-30T09:05:00Z"))
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    let lists = tickets_requests(&requests);
    assert_eq!(
        lists[1]["updated_since"], "2026-11-30T08:54:00Z",
        "the overlap before the watermark"
    );
    assert_eq!((again.seen, again.changed), (2, 0));
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.url.path().ends_with("/conversations"))
            .count(),
        2,
        "conversations mirrored at this version are not read again"
    );
    assert_eq!(
        (
            inbox(&pool).await,
            count(&pool, "select count(*) from support.conversations").await
        ),
        before
    );
    let untouched: Vec<DateTime<Utc>> =
        sqlx::query_scalar("select updated_at from etl.freshdesk_tickets order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(untouched, touched, "an unchanged ticket is not rewritten");
    assert_eq!(replies_queued().await, queued, "nothing queued twice");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_short_retry_after_is_waited_for(pool: PgPool) {
    let mut fake = FakeFreshdesk::with(vec![ticket(301, "2026-11-30T08:00:00Z", 2)]);
    fake.rate_limited_call = Some((1, 1));
    let server = serve(&fake).await;

    let tally = poller(&server, &pool, 10)
        .sync_freshdesk_tickets(at("2026-11-30T09:00:00Z"))
        .await
        .unwrap();

    assert_eq!((tally.seen, tally.wait_until), (1, None));
    assert_eq!(fake.ticket_calls.load(Ordering::SeqCst), 2);
    assert_eq!(watermark(&pool).await.1, "success");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_long_retry_after_stops_the_run_keeping_the_watermark_where_it_got_to(pool: PgPool) {
    let mut fake = FakeFreshdesk::with(vec![
        ticket(401, "2026-11-30T08:00:00Z", 2),
        ticket(402, "2026-11-30T08:10:00Z", 2),
        ticket(403, "2026-11-30T08:20:00Z", 2),
    ]);
    fake.rate_limited_call = Some((2, 120));
    let server = serve(&fake).await;
    let sync = poller(&server, &pool, 2);
    let now = at("2026-11-30T09:00:00Z");

    let tally = sync.sync_freshdesk_tickets(now).await.unwrap();

    assert_eq!(tally.seen, 2);
    let until = tally.wait_until.expect("stopped until the wait is over");
    assert!(until >= now + chrono::Duration::seconds(120), "{until}");
    let (at_mark, status, next_allowed) = watermark(&pool).await;
    assert_eq!(
        at_mark,
        Some(at("2026-11-30T08:10:00Z")),
        "the newest recorded"
    );
    assert_eq!((status.as_str(), next_allowed), ("failed", Some(until)));

    // A run before the wait is over calls nothing.
    let calls = server.received_requests().await.unwrap().len();
    let skipped = sync
        .sync_freshdesk_tickets(now + chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(skipped.seen, 0);
    assert_eq!(server.received_requests().await.unwrap().len(), calls);

    // After it, the poll goes on from the watermark and finishes.
    let rest = sync
        .sync_freshdesk_tickets(until + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(rest.wait_until, None);
    assert_eq!(
        count(&pool, "select count(*) from etl.freshdesk_tickets").await,
        3
    );
    let (at_mark, status, _) = watermark(&pool).await;
    assert_eq!(
        (at_mark, status.as_str()),
        (Some(at("2026-11-30T08:20:00Z")), "success")
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_first_run_reads_back_no_further_than_the_look_back(pool: PgPool) {
    let fake = FakeFreshdesk::with(vec![
        ticket(501, "2026-11-20T08:00:00Z", 2),
        ticket(502, "2026-11-30T07:00:00Z", 2),
    ]);
    let server = serve(&fake).await;

    let tally = poller(&server, &pool, 10)
        .sync_freshdesk_tickets(at("2026-11-30T09:00:00Z"))
        .await
        .unwrap();

    assert_eq!(tally.seen, 1);
    let ids: Vec<String> =
        sqlx::query_scalar("select freshdesk_ticket_id from etl.freshdesk_tickets")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(ids, ["502"]);
}

/// A webhook of ticket `id` at `updated_at` with `status` (a label).
fn webhook_body(id: u64, updated_at: &str, status: &str, subject: &str) -> String {
    json!({"freshdesk_webhook": {
        "ticket_id": id.to_string(),
        "ticket_url": format!("https://{HELPDESK}/helpdesk/tickets/{id}"),
        "ticket_subject": subject, "ticket_status": status, "ticket_priority": "Medium",
        "ticket_description": "<div>Is it charged?</div>",
        "requester_email": REQUESTER, "updated_at": updated_at
    }})
    .to_string()
}

async fn deliver_webhook(pool: &PgPool, body: &str) -> Value {
    let answer = deliver(
        &webhook_service(pool, None),
        "freshdesk",
        &headers(&[("x-webhook-secret", FRESHDESK_SECRET)]),
        body,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

async fn ticket_state(pool: &PgPool, id: &str) -> (String, String, i64) {
    sqlx::query_as(
        "select support.extract_ticket_status(t.data), c.subject,
                (select count(*) from support.messages m where m.conversation_id = c.id)
         from etl.freshdesk_tickets t join support.conversations c on c.id = t.conversation_id
         where t.freshdesk_ticket_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_stale_poll_after_a_newer_webhook_keeps_the_webhooks_version(pool: PgPool) {
    deliver_webhook(
        &pool,
        &webhook_body(601, "2026-11-30T08:30:00Z", "Resolved", "Battery (solved)"),
    )
    .await;
    let mut stale = ticket(601, "2026-11-30T08:00:00Z", 2);
    stale["subject"] = json!("Battery");
    let fake = FakeFreshdesk::with(vec![stale]).conversations_of(
        601,
        vec![entry(
            6101,
            true,
            false,
            "2026-11-30T07:59:00Z",
            "Is it charged?!",
        )],
    );
    let server = serve(&fake).await;

    poller(&server, &pool, 10)
        .sync_freshdesk_tickets(at("2026-11-30T09:00:00Z"))
        .await
        .unwrap();

    let (status, subject, messages) = ticket_state(&pool, "601").await;
    assert_eq!(
        (status.as_str(), subject.as_str()),
        ("resolved", "Battery (solved)"),
        "the older poll does not overwrite the newer webhook"
    );
    assert_eq!(messages, 2, "the description once, and the polled message");
    let (requester_kept, type_filled): (bool, bool) = sqlx::query_as(
        "select requester_email_hash is not null, data ->> 'type' = 'Question'
         from etl.freshdesk_tickets where freshdesk_ticket_id = '601'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        requester_kept && type_filled,
        "the older copy fills what was missing"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_newer_webhook_after_the_poll_replaces_it_and_a_repeat_changes_nothing(pool: PgPool) {
    let fake = FakeFreshdesk::with(vec![ticket(701, "2026-11-30T08:00:00Z", 2)]);
    let server = serve(&fake).await;
    let sync = poller(&server, &pool, 10);
    sync.sync_freshdesk_tickets(at("2026-11-30T09:00:00Z"))
        .await
        .unwrap();
    assert_eq!(ticket_state(&pool, "701").await.0, "open");

    let body = webhook_body(
        701,
        "2026-11-30T09:01:00Z",
        "Waiting on Customer",
        "Question 701",
    );
    deliver_webhook(&pool, &body).await;
    let after_webhook = ticket_state(&pool, "701").await;
    assert_eq!(
        after_webhook.0, "other",
        "a custom status, the newer copy's"
    );
    assert_eq!(after_webhook.2, 1, "the description is one message");

    let again = deliver_webhook(&pool, &body).await;
    assert_eq!(again["status"], "duplicate");
    let repoll = sync
        .sync_freshdesk_tickets(at("2026-11-30T09:05:00Z"))
        .await
        .unwrap();
    assert_eq!(repoll.changed, 0, "the older poll copy changes nothing");
    assert_eq!(ticket_state(&pool, "701").await, after_webhook);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn conversations_are_mirrored_with_the_customers_hash_and_the_order_they_name(pool: PgPool) {
    let order = mirakl_order("201934572-A", "SHIPPING", "2026-11-29T10:00:00Z");
    let delivered = deliver_mirakl(&webhook_service(&pool, None), &[&order]).await;
    assert_eq!(delivered.status, 200, "{}", delivered.body);
    let relay = "k7f3q9x2-relay@marketplace.bestbuy.ca";
    let mut named = ticket(801, "2026-11-30T08:00:00Z", 2);
    named["subject"] = json!("Where is my order 201934572?");
    named["requester"]["email"] = json!(relay.to_uppercase());
    named["description_text"] = json!(format!("Please write to {relay}"));
    let fake = FakeFreshdesk::with(vec![named]).conversations_of(
        801,
        vec![entry(
            8001,
            true,
            false,
            "2026-11-30T08:00:00Z",
            "Any news?",
        )],
    );
    let server = serve(&fake).await;

    poller(&server, &pool, 10)
        .sync_freshdesk_tickets(at("2026-11-30T09:00:00Z"))
        .await
        .unwrap();

    let hash = CustomerEmail::parse(relay).unwrap().hash(&pepper());
    let linked: (bool, bool, bool, String) = sqlx::query_as(
        "select c.customer_id = (select id from sales.customers where email_hash = $1),
                c.order_id = (select id from sales.orders where external_id = '201934572-A'),
                t.requester_email_hash = $1 and t.customer_id = c.customer_id,
                c.status
         from support.conversations c join etl.freshdesk_tickets t on t.conversation_id = c.id
         where c.channel = 'freshdesk' and c.external_id = '801'",
    )
    .bind(hash.as_bytes().as_slice())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(linked, (true, true, true, "unread".to_owned()));
    let stored = count(
        &pool,
        "select count(*) from support.conversations c
         join support.messages m on m.conversation_id = c.id
         join etl.freshdesk_tickets t on t.conversation_id = c.id
         where c.channel = 'freshdesk'
           and (c::text || m::text || t::text) ilike '%relay@marketplace%'",
    )
    .await;
    assert_eq!(stored, 0, "the address is kept only as its hash");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn no_personal_data_or_key_reaches_the_call_log(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/v2/tickets$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([ticket(
            901,
            "2026-11-30T08:00:00Z",
            2
        )])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/v2/tickets/901/conversations$"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "description": "Validation failed",
            "errors": [{"field": "email", "message": format!("{REQUESTER} is blocked"),
                        "code": "invalid_value"}]
        })))
        .mount(&server)
        .await;

    let tally = poller(&server, &pool, 10)
        .sync_freshdesk_tickets(at("2026-11-30T09:00:00Z"))
        .await
        .unwrap();

    assert_eq!((tally.seen, tally.failed), (1, 1));
    let logged: Vec<(String, String, Option<String>, Value)> = sqlx::query_as(
        "select operation, url, response_body, request_headers from ops.api_calls
         where service = 'freshdesk' order by started_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[0].2, None, "a successful answer is not kept");
    let failed = logged[1].2.as_deref().unwrap();
    assert!(failed.contains("Validation failed"), "{failed}");
    assert!(!failed.contains(REQUESTER), "{failed}");
    assert!(logged
        .iter()
        .all(|call| call.3["authorization"] == "[redacted]"));
    let everything = count(
        &pool,
        &format!(
            "select count(*) from ops.api_calls c
             where c::text ilike '%{API_KEY}%' or c::text ilike '%ava.tremblay%'
                or c::text ilike '%Tremblay%'"
        ),
    )
    .await;
    assert_eq!(everything, 0);
    let reason: String =
        sqlx::query_scalar("select reason from ops.process_failures where entity_ref = '901'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!reason.contains(REQUESTER), "{reason}");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_demo_ticket_filed_in_the_simulator_arrives_by_poll_in_the_inbox(pool: PgPool) {
    let sim = sellerops_simulators::start(sellerops_simulators::Settings::for_tests())
        .await
        .expect("simulators start");
    let seed: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../infra/local/demo/freshdesk-tickets.json"),
        )
        .unwrap(),
    )
    .unwrap();
    sim.simulator
        .lock()
        .helpdesk
        .seed(seed, false, Utc::now())
        .unwrap();
    let mut sync = poller(&MockServer::start().await, &pool, 2);
    if let Some(poll) = sync.freshdesk.as_mut() {
        poll.client = FreshdeskClient::new(
            &sim.freshdesk_url,
            SecretString::from("local-freshdesk-key"),
            pool.clone(),
        )
        .unwrap();
    }

    let tally = sync.sync_freshdesk_tickets(Utc::now()).await.unwrap();

    assert_eq!((tally.seen, tally.changed, tally.failed), (2, 2, 0));
    let messages = inbox(&pool).await;
    assert_eq!(
        messages
            .iter()
            .map(|m| (m.0.as_str(), m.2.as_str()))
            .collect::<Vec<_>>(),
        [
            ("7001", "customer"),
            ("7001", "technician"),
            ("7001", "customer"),
            ("7002", "customer")
        ],
        "each description and 7001's two public entries; the private note stays out"
    );
    // The messages no agent answered wait for a reply: 7001's last, 7002's question.
    let queued: Vec<String> =
        sqlx::query_scalar("select dedup_id from ops.outbox where queue_name = 'reply'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(
        queued.contains(&"reply:freshdesk:7002:description".to_owned())
            && !queued.contains(&"reply:freshdesk:7001:description".to_owned()),
        "{queued:?}"
    );
    let again = sync.sync_freshdesk_tickets(Utc::now()).await.unwrap();
    assert_eq!(again.changed, 0);
    assert_eq!(inbox(&pool).await.len(), 4);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_reply_is_posted_as_json_and_a_failed_one_is_logged_without_its_words(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/api/v2/tickets/42/reply"))
        .and(wiremock::matchers::body_json(
            json!({"body": "<p>It ships today.</p>"}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(entry(
            9001,
            false,
            false,
            "2026-11-30T09:00:00Z",
            "It ships today.",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/api/v2/tickets/43/reply"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let client =
        FreshdeskClient::new(&server.uri(), SecretString::from(API_KEY), pool.clone()).unwrap();

    let sent = client
        .reply("42", "<p>It ships today.</p>", RetryPolicy::ONCE)
        .await
        .unwrap();
    let failed = client
        .reply("43", "<p>Your order 201934572-A ships today.</p>", QUICK)
        .await
        .unwrap_err();

    assert_eq!((sent.id.as_str(), sent.incoming), ("9001", false));
    assert_eq!(
        failed.send_effect(),
        sellerops::systems::http::SendEffect::Ambiguous,
        "a 5xx after sending may have posted it: read the conversation before again"
    );
    let logged: Vec<Option<String>> = sqlx::query_scalar(
        "select request_body from ops.api_calls where operation = 'reply' order by started_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(logged.len(), 2, "a 5xx to a POST is not repeated");
    assert_eq!(logged[0], None);
    let body = logged[1].as_deref().unwrap();
    assert!(!body.contains("ships today"), "{body}");
}
