//! Automation rules: a rule whose trigger and conditions hold creates a task on the
//! board's default stage or an alert, once per cooldown per listing and within its daily
//! limit, even when two runs fire at once; a bad rule is refused when written.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use sellerops::flows::pricing::automation::{
    fire, insert_automation_rule, load_automation_rules, plan_firings, CompetitorSignal,
    ListingSignals, NewAutomationRule, WriteRuleError,
};
use sellerops::flows::pricing::competitors::{
    record_offers, AlertKind, CompetitorSettings, OfferSnapshot,
};
use sellerops::systems::amazon::AnyOfferChanged;
use sellerops_tests::fixtures;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, hour, minute, 0).unwrap()
}

async fn listing(pool: &PgPool, sku: &str) -> Uuid {
    sqlx::query_scalar(
        "with product as (
             insert into catalog.products (name, category) values ($1, 'power_tools') returning id
         ), variant as (
             insert into catalog.product_variants (product_id, internal_sku)
             select id, $1 from product returning id
         )
         insert into catalog.shop_sku_map (channel, shop_sku, variant_id, channel_product_id)
         select 'amazon', $1, id, 'B0CX7DRILL' from variant
         returning id",
    )
    .bind(sku)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn signals(listing_id: Uuid, sku: &str, net_margin_pct: &str) -> ListingSignals {
    ListingSignals {
        listing_id,
        sku: sku.to_owned(),
        channel_product_id: Some("B0CX7DRILL".to_owned()),
        channel: "amazon".to_owned(),
        category: Some("power_tools".to_owned()),
        tags: vec![],
        stock: 12,
        price: dec("129.99"),
        net_margin_pct: Some(dec(net_margin_pct)),
        gross_margin_pct: Some(dec("35.00")),
        lowest_competing_price: None,
        competitor_alerts: vec![],
    }
}

fn low_margin_rule(cooldown_minutes: i32, max_daily_triggers: Option<i32>) -> NewAutomationRule {
    NewAutomationRule {
        name: "Thin margin".to_owned(),
        description: None,
        trigger_type: "threshold".to_owned(),
        trigger_config: json!({"metric": "net_margin_pct", "operator": "lt", "value": 10}),
        conditions: json!([{"field": "listing.category", "operator": "eq", "value": "power_tools"}]),
        action_type: "create_task".to_owned(),
        action_config: json!({
            "task_type": "pricing",
            "title_template": "Review the price of {sku}",
            "description_template": "{rule}: {reason}",
            "priority_score": 80
        }),
        cooldown_minutes,
        max_daily_triggers,
    }
}

async fn run(
    pool: &PgPool,
    listings: &[ListingSignals],
    now: DateTime<Utc>,
) -> sellerops::flows::pricing::automation::FiringOutcome {
    let (rules, invalid) = load_automation_rules(pool).await.unwrap();
    assert!(invalid.is_empty(), "{invalid:?}");
    fire(
        pool,
        &plan_firings(&rules, listings),
        now,
        chrono_tz::America::Toronto,
    )
    .await
    .unwrap()
}

async fn firings(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from workflow.automation_firings")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_threshold_rule_creates_a_task_on_the_default_stage(pool: PgPool) {
    let drill = listing(&pool, "DRILL-18V").await;
    let rule_id = insert_automation_rule(&pool, &low_margin_rule(60, None))
        .await
        .unwrap();

    let outcome = run(
        &pool,
        &[signals(drill, "DRILL-18V", "8.50"), {
            let healthy = listing(&pool, "SAW-7IN").await;
            signals(healthy, "SAW-7IN", "22.00")
        }],
        at(14, 0),
    )
    .await;

    assert_eq!(outcome.fired.len(), 1);
    let task_id = outcome.fired[0].task_id.unwrap();
    let (title, description, task_type, stage, created_by, source_rule, priority): (
        String,
        String,
        String,
        String,
        String,
        Uuid,
        Decimal,
    ) = sqlx::query_as(
        "select t.title, t.description, t.task_type, s.name, t.created_by, t.source_rule_id,
                t.priority_score
         from workflow.tasks t join workflow.kanban_stages s on s.id = t.stage_id
         where t.id = $1",
    )
    .bind(task_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(title, "Review the price of DRILL-18V");
    assert_eq!(description, "Thin margin: net_margin_pct 8.50 < 10");
    assert_eq!(
        (task_type.as_str(), stage.as_str(), created_by.as_str()),
        ("pricing", "Backlog", "rule")
    );
    assert_eq!((source_rule, priority), (rule_id, dec("80")));
    let linked: Vec<Uuid> =
        sqlx::query_scalar("select listing_id from workflow.task_listings where task_id = $1")
            .bind(task_id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(linked, [drill]);
    let (count, last): (i32, DateTime<Utc>) = sqlx::query_as(
        "select trigger_count, last_triggered_at from workflow.automation_rules where id = $1",
    )
    .bind(rule_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((count, last), (1, at(14, 0)));
    let logged: (Uuid, Uuid, String) =
        sqlx::query_as("select listing_id, task_id, reason from workflow.automation_firings")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        logged,
        (drill, task_id, "net_margin_pct 8.50 < 10".to_owned())
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_cooldown_holds_a_listing_until_it_has_passed(pool: PgPool) {
    let drill = listing(&pool, "DRILL-18V").await;
    insert_automation_rule(&pool, &low_margin_rule(60, None))
        .await
        .unwrap();
    let thin = [signals(drill, "DRILL-18V", "8.50")];

    assert_eq!(run(&pool, &thin, at(14, 0)).await.fired.len(), 1);
    let held = run(&pool, &thin, at(14, 59)).await;
    assert_eq!((held.fired.len(), held.held_by_cooldown), (0, 1));
    // Another listing is not held by the first one's cooldown.
    let saw = listing(&pool, "SAW-7IN").await;
    let other = run(&pool, &[signals(saw, "SAW-7IN", "3.00")], at(14, 59)).await;
    assert_eq!(other.fired.len(), 1);
    assert_eq!(run(&pool, &thin, at(15, 0)).await.fired.len(), 1);
    assert_eq!(firings(&pool).await, 3);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_daily_limit_counts_every_listing_until_the_sellers_midnight(pool: PgPool) {
    let mut thin = Vec::new();
    for sku in ["A-1", "A-2", "A-3"] {
        thin.push(signals(listing(&pool, sku).await, sku, "5.00"));
    }
    insert_automation_rule(&pool, &low_margin_rule(0, Some(2)))
        .await
        .unwrap();

    let first = run(&pool, &thin, at(14, 0)).await;
    assert_eq!((first.fired.len(), first.held_by_daily_limit), (2, 1));
    let fired: Vec<Uuid> = first.fired.iter().map(|f| f.listing_id).collect();
    assert_eq!(
        fired,
        [thin[0].listing_id, thin[1].listing_id],
        "the first planned go first"
    );

    // 04:59 UTC on 3 March is still 2 March in Toronto.
    let late = run(
        &pool,
        &thin,
        Utc.with_ymd_and_hms(2026, 3, 3, 4, 59, 0).unwrap(),
    )
    .await;
    assert_eq!((late.fired.len(), late.held_by_daily_limit), (0, 3));
    let next_day = run(
        &pool,
        &thin,
        Utc.with_ymd_and_hms(2026, 3, 3, 5, 0, 0).unwrap(),
    )
    .await;
    assert_eq!(next_day.fired.len(), 2);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn two_runs_at_once_fire_a_rule_once(pool: PgPool) {
    let drill = listing(&pool, "DRILL-18V").await;
    let saw = listing(&pool, "SAW-7IN").await;
    insert_automation_rule(&pool, &low_margin_rule(60, None))
        .await
        .unwrap();
    let mut limited = low_margin_rule(0, Some(1));
    limited.name = "One a day".to_owned();
    insert_automation_rule(&pool, &limited).await.unwrap();
    let listings = [
        signals(drill, "DRILL-18V", "8.50"),
        signals(saw, "SAW-7IN", "8.50"),
    ];

    let (one, two) = tokio::join!(
        run(&pool, &listings, at(14, 0)),
        run(&pool, &listings, at(14, 0))
    );

    // The cooled-down rule fires once per listing, the limited one once in all.
    assert_eq!(one.fired.len() + two.fired.len(), 3);
    assert_eq!(firings(&pool).await, 3);
    assert_eq!(
        one.held_by_cooldown + two.held_by_cooldown,
        2,
        "{one:?} {two:?}"
    );
    let tasks: i64 = sqlx::query_scalar("select count(*) from workflow.tasks")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(tasks, 3);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_bad_rule_is_refused_when_written_and_nothing_is_stored(pool: PgPool) {
    let mut rule = low_margin_rule(60, None);
    rule.trigger_config = json!({"metric": "net_margin_pct", "operator": "under", "value": 10});

    let refusal = insert_automation_rule(&pool, &rule).await.unwrap_err();

    assert!(matches!(refusal, WriteRuleError::Invalid(_)));
    assert_eq!(
        refusal.to_string(),
        "automation rule trigger_config field operator: must be lt, lte, gt, gte or eq, got \"under\""
    );
    let stored: i64 = sqlx::query_scalar("select count(*) from workflow.automation_rules")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_buy_box_lost_to_a_competitor_sends_the_rules_alert(pool: PgPool) {
    let drill = listing(&pool, "DRILL-18V").await;
    insert_automation_rule(
        &pool,
        &NewAutomationRule {
            name: "Buy box watch".to_owned(),
            description: None,
            trigger_type: "competitive".to_owned(),
            trigger_config: json!({"event": "buy_box_lost"}),
            conditions: Value::Null,
            action_type: "send_alert".to_owned(),
            action_config: json!({"severity": "critical", "message": "Buy box lost on {asin} ({sku})"}),
            cooldown_minutes: 60,
            max_daily_triggers: None,
        },
    )
    .await
    .unwrap();
    let settings = CompetitorSettings::default();
    let mut document: Value =
        serde_json::from_str(&fixtures::text("amazon/any-offer-changed.json")).unwrap();
    for time in ["2026-03-02T14:00:00Z", "2026-03-02T15:00:00Z"] {
        let change = &mut document["Payload"]["AnyOfferChangedNotification"];
        change["OfferChangeTrigger"]["TimeOfOfferChange"] = json!(time);
        if time.starts_with("2026-03-02T15") {
            change["Offers"][0]["IsBuyBoxWinner"] = json!(false);
            change["Offers"][1]["IsBuyBoxWinner"] = json!(true);
        }
        let parsed = AnyOfferChanged::parse(&document.to_string()).unwrap();
        let snapshot = OfferSnapshot::from_notification(&parsed, &[]);
        let recorded = record_offers(&pool, &snapshot, None, &settings)
            .await
            .unwrap();
        let mut listing = signals(drill, "DRILL-18V", "20.00");
        listing.competitor_alerts = recorded
            .alerts
            .iter()
            .map(|alert| CompetitorSignal {
                kind: alert.kind,
                change_pct: alert.change_pct,
            })
            .collect();
        run(&pool, &[listing], at(15, 0)).await;
    }

    let sent: Vec<(Uuid, String, String)> =
        sqlx::query_as("select listing_id, severity, message from workflow.alerts")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        sent,
        [(
            drill,
            "critical".to_owned(),
            "Buy box lost on B0CX7DRILL (DRILL-18V)".to_owned()
        )]
    );
    let kinds: Vec<String> = sqlx::query_scalar("select alert_type from competitors.alerts")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(kinds, [AlertKind::BuyBoxLost.as_str()]);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn firings_outside_the_cooldown_window_are_told_apart_by_time(pool: PgPool) {
    // A zero cooldown never holds a listing.
    let drill = listing(&pool, "DRILL-18V").await;
    insert_automation_rule(&pool, &low_margin_rule(0, None))
        .await
        .unwrap();
    let thin = [signals(drill, "DRILL-18V", "8.50")];
    let start = at(14, 0);
    for minutes in [0, 1, 2] {
        let outcome = run(&pool, &thin, start + Duration::minutes(minutes)).await;
        assert_eq!(outcome.fired.len(), 1);
    }
    assert_eq!(firings(&pool).await, 3);
}
