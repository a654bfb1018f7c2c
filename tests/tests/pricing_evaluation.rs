//! Price evaluation against the database: landed costs at a time, every rule type
//! through the loader, what is written (decisions, summary, history, audit, outbox) and
//! that evaluating again with nothing changed writes nothing.

use chrono::Utc;
use rust_decimal::Decimal;
use sellerops::flows::pricing::rule_store::{create_price_rule, NewPriceRule, RuleWriteError};
use sellerops::flows::pricing::{evaluate_prices, EvaluationOptions, EvaluationReport, Selection};
use sellerops_tests::pricing::{
    bom, count, dec, execute, listing, offer, price, stored_rule, supplier, variant,
};
use serde_json::json;
use sqlx::{PgPool, Row};
use uuid::Uuid;

const OPEN: Option<&str> = None;

async fn evaluate(pool: &PgPool, selection: Selection<'_>) -> EvaluationReport {
    evaluate_prices(pool, selection, Utc::now(), EvaluationOptions::default())
        .await
        .expect("evaluation")
}

async fn landed(pool: &PgPool, variant: Uuid) -> sqlx::postgres::PgRow {
    sqlx::query(
        "select cost_source, component_count, costed_component_count, component_cost,
                duty_cost, shipping_cost, estimated_landed_cost
         from inventory.landed_costs_at(now(), array[$1]::uuid[])",
    )
    .bind(variant)
    .fetch_one(pool)
    .await
    .expect("landed cost row")
}

/// A variant bought whole at `cost`, listed on Amazon at `current`.
async fn costed_listing(pool: &PgPool, sku: &str, cost: &str, current: &str, stock: i32) -> Uuid {
    let maker = supplier(pool, &format!("{sku} supplier")).await;
    let item = variant(pool, sku, Some("laptops"), &["refurb"]).await;
    price(pool, item, maker, cost, "2000-01-01", OPEN, "0", "0").await;
    listing(pool, item, "amazon", current, stock).await
}

async fn summary(
    pool: &PgPool,
    listing: Uuid,
) -> (
    Option<Decimal>,
    Option<Uuid>,
    Option<String>,
    Option<String>,
) {
    let row = sqlx::query(
        "select optimal_price, suggested_rule_id, price_bound, price_flag
         from pricing.current_prices where listing_id = $1",
    )
    .bind(listing)
    .fetch_one(pool)
    .await
    .expect("summary");
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_nested_bill_uses_its_sub_assemblys_parts_and_only_prices_valid_today(pool: PgPool) {
    let maker = supplier(&pool, "Parts Co").await;
    let kit = variant(&pool, "KIT", None, &[]).await;
    let board = variant(&pool, "BOARD", None, &[]).await;
    let chip = variant(&pool, "CHIP", None, &[]).await;
    let screw = variant(&pool, "SCREW", None, &[]).await;
    let case = variant(&pool, "CASE", None, &[]).await;
    // The board is itself assembled: 1 chip and 3 screws.
    bom(&pool, board, chip, "1").await;
    bom(&pool, board, screw, "3").await;
    bom(&pool, kit, board, "2").await;
    bom(&pool, kit, case, "1").await;
    price(&pool, chip, maker, "10", "2000-01-01", OPEN, "0", "0").await;
    price(&pool, screw, maker, "2", "2000-01-01", OPEN, "0", "0").await;
    // The case's cheaper price ran out years ago; today's is 5.
    price(
        &pool,
        case,
        maker,
        "3",
        "2000-01-01",
        Some("2001-01-01"),
        "0",
        "0",
    )
    .await;
    price(&pool, case, maker, "5", "2001-01-02", OPEN, "0", "0").await;

    let row = landed(&pool, kit).await;

    // 2 × (10 + 3 × 2) + 5 = 37; plus 10% overhead = 40.70
    assert_eq!(row.get::<String, _>("cost_source"), "bill_of_materials");
    assert_eq!(row.get::<Decimal, _>("component_cost"), dec("37"));
    assert_eq!(row.get::<Decimal, _>("estimated_landed_cost"), dec("40.7"));
    assert_eq!(row.get::<i32, _>("component_count"), 3);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_part_whose_only_price_has_expired_leaves_the_assembly_without_a_cost(pool: PgPool) {
    let maker = supplier(&pool, "Parts Co").await;
    let kit = variant(&pool, "KIT", None, &[]).await;
    let case = variant(&pool, "CASE", None, &[]).await;
    bom(&pool, kit, case, "1").await;
    price(
        &pool,
        case,
        maker,
        "3",
        "2000-01-01",
        Some("2001-01-01"),
        "0",
        "0",
    )
    .await;

    let row = landed(&pool, kit).await;

    assert_eq!(row.get::<Option<Decimal>, _>("estimated_landed_cost"), None);
    assert_eq!(row.get::<i32, _>("costed_component_count"), 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_variant_bought_whole_costs_its_own_price_with_duty_and_shipping(pool: PgPool) {
    let maker = supplier(&pool, "Importer").await;
    let monitor = variant(&pool, "MONITOR", None, &[]).await;
    price(
        &pool,
        monitor,
        maker,
        "200",
        "2000-01-01",
        OPEN,
        "5",
        "12.50",
    )
    .await;

    let row = landed(&pool, monitor).await;

    // 200 + 5% duty (10) + 12.50 shipping, no assembly overhead
    assert_eq!(row.get::<String, _>("cost_source"), "purchase_price");
    assert_eq!(row.get::<Decimal, _>("duty_cost"), dec("10"));
    assert_eq!(row.get::<Decimal, _>("shipping_cost"), dec("12.5"));
    assert_eq!(row.get::<Decimal, _>("estimated_landed_cost"), dec("222.5"));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_listing_without_a_landed_cost_is_flagged_and_keeps_its_price(pool: PgPool) {
    let item = variant(&pool, "UNCOSTED", None, &[]).await;
    let listed = listing(&pool, item, "amazon", "49.99", 3).await;

    let report = evaluate(&pool, Selection::All).await;

    assert_eq!(report.no_landed_cost, 1);
    let (price, rule, _, flag) = summary(&pool, listed).await;
    assert_eq!(price, Some(dec("49.99")));
    assert_eq!(rule, None);
    assert_eq!(flag.as_deref(), Some("no_landed_cost"));
    let (confidence, explanation): (Decimal, String) = sqlx::query_as(
        "select confidence, explanation from pricing.price_decisions where listing_id = $1",
    )
    .bind(listed)
    .fetch_one(&pool)
    .await
    .expect("decision");
    assert_eq!(confidence, Decimal::ZERO);
    assert!(explanation.contains("no_landed_cost"), "{explanation}");
    // Flagged, the price did not move: no history.
    assert_eq!(count(&pool, "pricing.price_history").await, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn each_rule_type_is_loaded_and_applied(pool: PgPool) {
    execute(
        &pool,
        "update ops.settings set value = '[\"ME\"]' where key = 'pricing.own_seller_ids'",
    )
    .await;
    // Landed cost 10, Amazon's 15% referral, the default 20% margin: floor price 15.39.
    let matched = costed_listing(&pool, "MATCH", "10", "30", 20).await;
    let beaten = costed_listing(&pool, "BEAT", "10", "30", 20).await;
    let floored = costed_listing(&pool, "FLOOR", "10", "30", 20).await;
    let timed = costed_listing(&pool, "TIMED", "10", "30", 20).await;
    let stocked = costed_listing(&pool, "STOCK", "10", "30", 2).await;
    for listed in [matched, beaten, floored] {
        offer(&pool, listed, "RIVAL", "25.00", true).await;
        // The seller's own, cheaper offer never counts.
        offer(&pool, listed, "ME", "20.00", false).await;
    }
    let scoped = |listed: Uuid| listed.to_string();
    let match_rule = stored_rule(
        &pool,
        "match",
        "competitor_match",
        100,
        "listing",
        Some(&scoped(matched)),
        json!({}),
    )
    .await;
    let beat_rule = stored_rule(
        &pool,
        "beat",
        "competitor_beat",
        100,
        "listing",
        Some(&scoped(beaten)),
        json!({"beat_by_amount": "1.00"}),
    )
    .await;
    stored_rule(
        &pool,
        "match floored",
        "competitor_match",
        100,
        "listing",
        Some(&scoped(floored)),
        json!({}),
    )
    .await;
    let floor_rule = stored_rule(
        &pool,
        "half",
        "margin_floor",
        100,
        "listing",
        Some(&scoped(floored)),
        json!({"min_margin_pct": 50}),
    )
    .await;
    let time_rule = stored_rule(
        &pool,
        "always on",
        "time_based",
        100,
        "listing",
        Some(&scoped(timed)),
        json!({"schedule": "* * * * *", "duration_minutes": 5, "price_change_pct": -10}),
    )
    .await;
    let stock_rule = stored_rule(
        &pool,
        "scarce",
        "inventory_based",
        100,
        "listing",
        Some(&scoped(stocked)),
        json!({"when_below": 5, "price_change_pct": 10}),
    )
    .await;

    let report = evaluate(&pool, Selection::All).await;

    assert_eq!(report.listings, 5);
    assert_eq!(report.unreadable_rules, 0);
    assert_eq!(
        summary(&pool, matched).await,
        (Some(dec("25.00")), Some(match_rule), None, None)
    );
    assert_eq!(
        summary(&pool, beaten).await,
        (Some(dec("24.00")), Some(beat_rule), None, None)
    );
    // 10 / (1 − 0.15 − 0.50) = 28.571… → 28.58, above the match's 25.00
    let (price, _, bound, _) = summary(&pool, floored).await;
    assert_eq!(
        (price, bound.as_deref()),
        (Some(dec("28.58")), Some("margin_floor"))
    );
    assert_eq!(
        summary(&pool, timed).await,
        (Some(dec("27.00")), Some(time_rule), None, None)
    );
    assert_eq!(
        summary(&pool, stocked).await,
        (Some(dec("33.00")), Some(stock_rule), None, None)
    );
    let explanation: String =
        sqlx::query_scalar("select explanation from pricing.price_decisions where listing_id = $1")
            .bind(floored)
            .fetch_one(&pool)
            .await
            .expect("explanation");
    assert!(
        explanation.contains(&format!("rule {floor_rule}")),
        "{explanation}"
    );
    assert!(
        explanation.contains("raised to the margin floor"),
        "{explanation}"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn evaluating_again_with_nothing_changed_writes_nothing(pool: PgPool) {
    let listed = costed_listing(&pool, "MATCH", "10", "30", 20).await;
    offer(&pool, listed, "RIVAL", "25.00", true).await;
    stored_rule(
        &pool,
        "match",
        "competitor_match",
        100,
        "all",
        None,
        json!({}),
    )
    .await;
    let first = evaluate(&pool, Selection::All).await;
    assert_eq!(first.written.decisions, 1);
    let tables = [
        "pricing.price_decisions",
        "pricing.price_history",
        "ops.audit_log",
        "ops.outbox",
    ];
    let mut before = Vec::new();
    for table in tables {
        before.push(count(&pool, table).await);
    }

    let again = evaluate(&pool, Selection::All).await;
    let by_id = evaluate(&pool, Selection::Listings(&[listed])).await;

    assert_eq!(again.rows_written(), 0);
    assert_eq!(again.unchanged, 1);
    assert_eq!(by_id.rows_written(), 0);
    for (table, before) in tables.into_iter().zip(before) {
        assert_eq!(count(&pool, table).await, before, "{table}");
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_price_change_appends_history_and_an_audit_row_naming_the_rule(pool: PgPool) {
    let listed = costed_listing(&pool, "MATCH", "10", "30", 20).await;
    let rival = offer(&pool, listed, "RIVAL", "25.00", true).await;
    let rule = stored_rule(
        &pool,
        "match",
        "competitor_match",
        100,
        "all",
        None,
        json!({}),
    )
    .await;
    evaluate(&pool, Selection::All).await;
    sqlx::query(
        "update competitors.products set current_price = 22, buy_box_price = 22 where id = $1",
    )
    .bind(rival)
    .execute(&pool)
    .await
    .expect("competitor drops its price");

    let report = evaluate(&pool, Selection::Listings(&[listed])).await;

    assert_eq!(report.written.decisions, 1);
    assert_eq!(report.written.history, 1);
    let prices: Vec<Decimal> = sqlx::query_scalar(
        "select price from pricing.price_history where listing_id = $1 order by observed_at",
    )
    .bind(listed)
    .fetch_all(&pool)
    .await
    .expect("history");
    assert_eq!(prices, [dec("25.00"), dec("22.00")]);
    let audit = sqlx::query(
        "select action, changes, source_id, actor from ops.audit_log
         where entity_type = 'listing_price' and entity_id = $1 order by created_at desc, id limit 1",
    )
    .bind(listed.to_string())
    .fetch_one(&pool)
    .await
    .expect("audit row");
    assert_eq!(audit.get::<String, _>("action"), "update");
    assert_eq!(audit.get::<String, _>("actor"), "evaluate-pricing-rules");
    assert_eq!(
        audit.get::<Option<String>, _>("source_id"),
        Some(rule.to_string())
    );
    let changes: serde_json::Value = audit.get("changes");
    assert_eq!(
        changes["suggested_price"],
        json!({"old": "25.00", "new": "22.00"})
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn apply_enabled_queues_an_apply_message_naming_the_price_change(pool: PgPool) {
    let listed = costed_listing(&pool, "MATCH", "10", "30", 20).await;
    offer(&pool, listed, "RIVAL", "25.00", true).await;
    stored_rule(
        &pool,
        "match",
        "competitor_match",
        100,
        "all",
        None,
        json!({}),
    )
    .await;
    sqlx::query("update pricing.current_prices set apply_enabled = true where listing_id = $1")
        .bind(listed)
        .execute(&pool)
        .await
        .expect("enable apply");

    let report = evaluate(&pool, Selection::All).await;

    assert_eq!(report.written.apply_messages, 1);
    let decision: Uuid =
        sqlx::query_scalar("select decision_id from pricing.current_prices where listing_id = $1")
            .bind(listed)
            .fetch_one(&pool)
            .await
            .expect("decision id");
    let (queue, body): (String, serde_json::Value) =
        sqlx::query_as("select queue_name, message_body from ops.outbox where dedup_id = $1")
            .bind(format!("apply-price:{decision}"))
            .fetch_one(&pool)
            .await
            .expect("apply message");
    assert_eq!(queue, "pricing");
    assert_eq!(body["kind"], "apply_price_change");
    assert_eq!(body["price"], "25.00");
    assert_eq!(body["old_price"], "30.00");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_bad_rule_config_is_refused_when_written(pool: PgPool) {
    let mut conn = pool.acquire().await.expect("connection");
    let rule = NewPriceRule {
        name: "beat them".into(),
        description: None,
        applies_to: "all".into(),
        scope_value: None,
        rule_type: "competitor_beat".into(),
        config: json!({"beat_by_pc": 2}),
        priority: 100,
        is_active: true,
        apply_enabled: false,
    };

    let err = create_price_rule(&mut conn, &rule).await.unwrap_err();

    assert!(matches!(err, RuleWriteError::Refused { .. }));
    let reason = sellerops::ops::errors::error_chain(&err);
    assert!(reason.contains("beat_by_pc"), "{reason}");
    assert_eq!(count(&pool, "pricing.price_rules").await, 0);
    assert_eq!(count(&pool, "ops.outbox").await, 0);

    let good = NewPriceRule {
        config: json!({"beat_by_pct": 2}),
        ..rule
    };
    create_price_rule(&mut conn, &good)
        .await
        .expect("a good rule is stored");
    assert_eq!(count(&pool, "pricing.price_rules").await, 1);
    // Its change queues a full re-evaluation.
    assert_eq!(count(&pool, "ops.outbox").await, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_stored_rule_that_cannot_be_read_is_a_data_problem_not_a_failed_run(pool: PgPool) {
    let listed = costed_listing(&pool, "MATCH", "10", "30", 20).await;
    offer(&pool, listed, "RIVAL", "25.00", true).await;
    let bad = stored_rule(
        &pool,
        "old",
        "competitor_match",
        200,
        "all",
        None,
        json!({"match_type": "beat"}),
    )
    .await;
    stored_rule(
        &pool,
        "match",
        "competitor_match",
        100,
        "all",
        None,
        json!({}),
    )
    .await;

    let report = evaluate(&pool, Selection::All).await;

    assert_eq!(report.unreadable_rules, 1);
    assert_eq!(summary(&pool, listed).await.0, Some(dec("25.00")));
    let detail: String =
        sqlx::query_scalar("select config_problem from pricing.price_rules where id = $1")
            .bind(bad)
            .fetch_one(&pool)
            .await
            .expect("data problem");
    assert!(detail.contains("match_type"), "{detail}");
}
