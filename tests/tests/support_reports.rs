//! The support reports on tickets as they are recorded: from Freshdesk's webhook (labels,
//! `ticket_type`, tags as one string, no dates) and from its API (codes, `type`, a tag
//! list, dates), helpdesk-defined statuses under the category the seller gives them,
//! and a date that is not one in one ticket.

use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use sellerops::flows::recording::freshdesk::record_ticket;
use sellerops::flows::support_reports::{
    QueueLine, ReportPeriod, SupportReport, TrendingCategory, UnmappedStatus,
};
use sellerops::systems::freshdesk::FreshdeskTicket;
use sellerops_tests::fixtures;
use sellerops_tests::marketplace::{deliver, headers, pepper, webhook_service, FRESHDESK_SECRET};
use serde_json::{json, Value};
use sqlx::PgPool;

const HELPDESK: &str = "maplerefurb.freshdesk.com";

/// The webhook fixture (ticket 311, Pending, High, type Question) as ticket `id`, with
/// its status label and its fields changed by `changes`.
fn webhook_ticket(id: &str, changes: Value) -> String {
    let mut body: Value = serde_json::from_str(&fixtures::text("freshdesk/ticket_created.json"))
        .expect("fixture is JSON");
    let ticket = body["freshdesk_webhook"]
        .as_object_mut()
        .expect("fixture wraps the ticket");
    ticket.insert("ticket_id".into(), json!(id));
    ticket.insert(
        "ticket_url".into(),
        json!(format!("https://{HELPDESK}/helpdesk/tickets/{id}")),
    );
    for (name, value) in changes.as_object().expect("changes are an object") {
        ticket.insert(name.clone(), value.clone());
    }
    body.to_string()
}

/// Delivers a webhook ticket the way Freshdesk's automation rule does.
async fn deliver_webhook(pool: &PgPool, body: &str) {
    let answer = deliver(
        &webhook_service(pool, None),
        "freshdesk",
        &headers(&[("x-webhook-secret", FRESHDESK_SECRET)]),
        body,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// Records a ticket as Freshdesk's API returns it, through the recording path.
async fn record_api_ticket(pool: &PgPool, document: Value) {
    let ticket = FreshdeskTicket::parse(document.to_string().as_bytes()).expect("a ticket");
    let mut tx = pool.begin().await.unwrap();
    record_ticket(&mut tx, HELPDESK, &ticket, &pepper())
        .await
        .expect("recorded");
    tx.commit().await.unwrap();
}

/// Today, UTC: webhook tickets carry no creation date and count from when they were
/// first stored.
fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn at(day: NaiveDate, time: &str) -> String {
    format!("{day}T{time}Z")
}

async fn report_for_today(pool: &PgPool) -> SupportReport {
    let period = ReportPeriod::new(today(), today()).unwrap();
    SupportReport::load(pool, period, Some(HELPDESK), 10)
        .await
        .expect("the reports answer")
}

/// Three webhook tickets and two API tickets, all opened today.
async fn record_both_shapes(pool: &PgPool) {
    deliver_webhook(pool, &webhook_ticket("311", json!({}))).await;
    deliver_webhook(
        pool,
        &webhook_ticket(
            "312",
            json!({"ticket_status": "Waiting on Customer", "ticket_priority": "Urgent",
                   "ticket_tags": "Refund, shipping"}),
        ),
    )
    .await;
    deliver_webhook(
        pool,
        &webhook_ticket(
            "313",
            json!({"ticket_status": "Closed", "ticket_priority": "Low"}),
        ),
    )
    .await;
    record_api_ticket(
        pool,
        json!({"id": 401, "status": 2, "priority": 3, "type": "Refund", "tags": ["refund"],
               "created_at": at(today(), "00:10:00"), "updated_at": at(today(), "00:10:00"),
               "stats": {"first_responded_at": at(today(), "02:10:00"), "resolved_at": null}}),
    )
    .await;
    record_api_ticket(
        pool,
        json!({"id": 402, "status": 6, "priority": 1, "type": "Question", "tags": [],
               "created_at": at(today(), "00:20:00"),
               "stats": {"first_responded_at": at(today(), "01:20:00"),
                         "resolved_at": at(today(), "04:20:00")}}),
    )
    .await;
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_summary_counts_webhook_and_api_tickets_by_status_category(pool: PgPool) {
    record_both_shapes(&pool).await;

    let report = report_for_today(&pool).await;

    let summary = &report.summary;
    assert_eq!(summary.total, 5);
    assert_eq!(
        (summary.open, summary.pending, summary.closed, summary.other),
        (1, 2, 1, 1),
        "311 is Pending, 312 Waiting on Customer (a pending category by default), 313 \
         Closed, 401 open, 402 a status 6 given no category"
    );
    assert_eq!(summary.high_priority, 3, "311 High, 312 Urgent, 401 high");
    assert_eq!(
        summary.avg_first_response_hours,
        Some(Decimal::new(150, 2)),
        "2 h and 1 h from the API's stats"
    );
    assert_eq!(summary.avg_resolution_hours, Some(Decimal::new(400, 2)));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn trending_categories_read_tags_as_a_list_or_a_string_and_else_the_type(pool: PgPool) {
    record_both_shapes(&pool).await;

    let report = report_for_today(&pool).await;

    let category = |name: &str, tickets: i64| TrendingCategory {
        category: name.to_owned(),
        tickets,
        previous: 0,
        change_pct: None,
    };
    assert_eq!(
        report.trending,
        vec![
            category("question", 3),
            category("refund", 2),
            category("shipping", 1),
        ],
        "311 and 313 by their webhook type, 402 by its API type (no tags); 312's \
         string of tags and 401's list"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_custom_status_joins_the_queue_under_the_category_the_seller_gives_it(pool: PgPool) {
    record_both_shapes(&pool).await;

    let before = report_for_today(&pool).await;
    sqlx::query(
        "insert into support.ticket_status_categories (status, category) values ('6', 'open')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let after = report_for_today(&pool).await;

    let line = |status: &str, priority: &str, tickets: i64| {
        (status.to_owned(), priority.to_owned(), tickets)
    };
    let queue = |lines: &[QueueLine]| {
        lines
            .iter()
            .map(|q| line(&q.status, &q.priority, q.tickets))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        queue(&before.queue),
        vec![
            line("pending", "urgent", 1),
            line("open", "high", 1),
            line("pending", "high", 1),
        ]
    );
    assert_eq!(
        before.unmapped_statuses,
        vec![UnmappedStatus {
            domain: HELPDESK.into(),
            status: "6".into(),
            tickets: 1
        }]
    );
    assert_eq!(
        queue(&after.queue),
        vec![
            line("pending", "urgent", 1),
            line("open", "high", 1),
            line("pending", "high", 1),
            line("open", "low", 1),
        ]
    );
    assert!(after.unmapped_statuses.is_empty());
    assert_eq!((after.summary.open, after.summary.other), (2, 0));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_invalid_date_is_a_data_problem_of_its_ticket_and_every_report_still_answers(
    pool: PgPool,
) {
    record_both_shapes(&pool).await;
    record_api_ticket(
        &pool,
        json!({"id": 403, "status": 2, "priority": 2, "tags": ["refund"],
               "created_at": "2026-02-30T10:00:00Z",
               "stats": {"first_responded_at": "soon"}}),
    )
    .await;

    let report = report_for_today(&pool).await;
    let problems: Vec<(String, String, String, String)> = sqlx::query_as(
        "select external_id, field, kind, sent_value from ops.data_problems
         where channel = 'freshdesk' and resolved_at is null order by field",
    )
    .fetch_all(&pool)
    .await
    .unwrap();

    assert_eq!(
        problems,
        vec![
            (
                "403".into(),
                "created_at".into(),
                "invalid_date".into(),
                "2026-02-30T10:00:00Z".into()
            ),
            (
                "403".into(),
                "stats.first_responded_at".into(),
                "invalid_date".into(),
                "soon".into()
            ),
        ]
    );
    assert_eq!(
        report.summary.total, 6,
        "403 counts from when it was stored"
    );
    assert_eq!(
        report.summary.avg_first_response_hours,
        Some(Decimal::new(150, 2))
    );
    assert_eq!(report.trending[1].category, "refund");
    assert_eq!(report.trending[1].tickets, 3);
    assert_eq!(report.comparison.len(), 8);
    assert_eq!(report.invalid_ticket_dates, 2);

    record_api_ticket(
        &pool,
        json!({"id": 403, "created_at": at(today(), "03:00:00"),
               "stats": {"first_responded_at": at(today(), "06:00:00")}}),
    )
    .await;
    let open: i64 = sqlx::query_scalar(
        "select count(*) from ops.data_problems where channel = 'freshdesk' and resolved_at is null",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(open, 0, "the corrected ticket resolves its problems");
    let corrected = report_for_today(&pool).await;
    assert_eq!(
        corrected.summary.avg_first_response_hours,
        Some(Decimal::new(200, 2))
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_webhook_after_the_api_replaces_the_status_it_sent(pool: PgPool) {
    record_api_ticket(
        &pool,
        json!({"id": 311, "status": 2, "priority": 1, "created_at": at(today(), "00:00:00")}),
    )
    .await;
    deliver_webhook(
        &pool,
        &webhook_ticket("311", json!({"ticket_status": "Resolved"})),
    )
    .await;

    let report = report_for_today(&pool).await;

    assert_eq!((report.summary.open, report.summary.resolved), (0, 1));
    assert_eq!(report.summary.high_priority, 1, "the webhook's High too");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_printed_report_names_each_part_and_what_it_depends_on(pool: PgPool) {
    record_both_shapes(&pool).await;

    let text = report_for_today(&pool).await.to_string();

    for expected in [
        "Support report: maplerefurb.freshdesk.com",
        "Summary: tickets opened in the period",
        "Trending categories (against",
        "Compared with",
        "Current queue: open and pending tickets now",
        "Statuses with no category",
        "\"6\", 1 ticket(s)",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}
