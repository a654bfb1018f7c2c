//! Price evaluation against the database: landed costs at a time, every rule type
//! through the loader, what is written (decisions, summary, history, audit, outbox) and
//! that evaluating again with nothing changed writes nothing.

use chrono::Utc;
use rust_decimal::Decimal;
use sellerops::flows::pricing::rule_store::{create_price_rule, NewPriceRule, RuleWriteError};
use sellerops::flows::pricing::supplier_prices::{
    record_supplier_price, SupplierPrice, SupplierPriceError, COST_CHANGED,
};
use sellerops::flows::pricing::{evaluate_prices, EvaluationOptions, EvaluationReport, Selection};
use sellerops_tests::pricing::{
    bom, count, dec, execute, listing, offer, price, queued_reevaluations, stored_rule, supplier,
    variant,
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

/// A listing matched to a rival's 25.00 offer, evaluated once in full: the listing and
/// the rival.
async fn matched_and_evaluated(pool: &PgPool) -> (Uuid, Uuid) {
    let listed = costed_listing(pool, "MATCH", "10", "30", 20).await;
    let rival = offer(pool, listed, "RIVAL", "25.00", true).await;
    stored_rule(
        pool,
        "match",
        "competitor_match",
        100,
        "all",
        None,
        json!({}),
    )
    .await;
    let first = evaluate(pool, Selection::All).await;
    assert_eq!(first.written.decisions, 1);
    (listed, rival)
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn evaluating_again_with_nothing_changed_writes_nothing(pool: PgPool) {
    let (listed, _) = matched_and_evaluated(&pool).await;
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
async fn deleting_a_listing_deletes_its_decisions_and_no_other(pool: PgPool) {
    let (gone, _) = matched_and_evaluated(&pool).await;
    let kept = costed_listing(&pool, "KEPT", "10", "30", 20).await;
    let second = evaluate(&pool, Selection::Listings(&[kept])).await;
    assert_eq!(second.written.decisions, 1);
    let decisions_of = |listing: Uuid| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from pricing.price_decisions where listing_id = $1",
            )
            .bind(listing)
            .fetch_one(&pool)
            .await
            .expect("decisions")
        }
    };
    assert_eq!(decisions_of(gone).await, 1);

    execute(
        &pool,
        &format!("delete from catalog.shop_sku_map where id = '{gone}'"),
    )
    .await;

    assert_eq!(decisions_of(gone).await, 0);
    assert_eq!(decisions_of(kept).await, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_scheduled_run_with_nothing_changed_reads_no_listing(pool: PgPool) {
    matched_and_evaluated(&pool).await;
    let decisions = count(&pool, "pricing.price_decisions").await;

    let scheduled = evaluate(&pool, Selection::AllUnlessUnchanged).await;

    assert!(scheduled.nothing_changed);
    assert_eq!(scheduled.listings, 0);
    assert_eq!(scheduled.rows_written(), 0);
    assert_eq!(count(&pool, "pricing.price_decisions").await, decisions);
    // Asked to, a full run still decides every listing (and finds nothing to write).
    let forced = evaluate(&pool, Selection::All).await;
    assert!(!forced.nothing_changed);
    assert_eq!((forced.listings, forced.unchanged), (1, 1));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_scheduled_run_decides_again_after_any_input_changed(pool: PgPool) {
    let (listed, rival) = matched_and_evaluated(&pool).await;
    // Each change, then the scheduled run: it must decide again (the decision need not
    // change), and the run after it, with nothing more changed, must not.
    let changes = [
        format!("update competitors.products set current_price = 24 where id = '{rival}'"),
        format!("update pricing.current_prices set min_price = 5 where listing_id = '{listed}'"),
        "update inventory.stock_levels set on_hand = on_hand + 1".to_owned(),
        "update inventory.component_prices set unit_cost = unit_cost + 1".to_owned(),
        "update pricing.price_rules set priority = priority + 1".to_owned(),
        "insert into ops.settings (key, value) values ('pricing.default_margin_floor', '0.1')
         on conflict (key) do update set value = excluded.value"
            .to_owned(),
        format!("delete from competitors.tracked_listings where listing_id = '{listed}'"),
    ];
    for change in changes {
        execute(&pool, &change).await;
        let after_change = evaluate(&pool, Selection::AllUnlessUnchanged).await;
        let after_that = evaluate(&pool, Selection::AllUnlessUnchanged).await;
        assert!(!after_change.nothing_changed, "{change}");
        assert_eq!(after_change.listings, 1, "{change}");
        assert!(after_that.nothing_changed, "{change}");
    }
    // The last change took the rival away: the listing is back at its own price.
    let (suggested, _, _, _) = summary(&pool, listed).await;
    assert_eq!(suggested, Some(dec("30.00")));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_change_still_open_when_a_run_started_is_decided_by_the_next(pool: PgPool) {
    let (listed, rival) = matched_and_evaluated(&pool).await;
    let mut late = pool.begin().await.expect("begin");
    sqlx::query("update competitors.products set current_price = 21 where id = $1")
        .bind(rival)
        .execute(&mut *late)
        .await
        .expect("competitor drops its price");
    // A run forced while the change is uncommitted cannot see it…
    let blind = evaluate(&pool, Selection::All).await;
    assert_eq!(blind.written.decisions, 0);
    late.commit().await.expect("commit");

    // …so the next scheduled run decides again, and takes it.
    let scheduled = evaluate(&pool, Selection::AllUnlessUnchanged).await;

    assert!(!scheduled.nothing_changed);
    assert_eq!(scheduled.written.decisions, 1);
    let (suggested, _, _, _) = summary(&pool, listed).await;
    assert_eq!(suggested, Some(dec("21.00")));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_scheduled_run_on_the_sellers_next_day_decides_again(pool: PgPool) {
    matched_and_evaluated(&pool).await;

    let tomorrow = evaluate_prices(
        &pool,
        Selection::AllUnlessUnchanged,
        Utc::now() + chrono::TimeDelta::days(1),
        EvaluationOptions::default(),
    )
    .await
    .expect("evaluation");

    assert!(!tomorrow.nothing_changed);
    assert_eq!(tomorrow.listings, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_new_suggestion_is_a_decision_naming_the_rule_and_changes_no_price(pool: PgPool) {
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
    // Each suggestion is a decision, in order, with the rule that made it and the
    // price the listing sold at.
    let decisions: Vec<(Decimal, Decimal, Option<Uuid>, String)> = sqlx::query_as(
        "select old_price, suggested_price, rule_id, mode from pricing.price_decisions
         where listing_id = $1 order by evaluated_at",
    )
    .bind(listed)
    .fetch_all(&pool)
    .await
    .expect("decisions");
    assert_eq!(
        decisions,
        [
            (dec("30"), dec("25.00"), Some(rule), "suggest".to_owned()),
            (dec("30"), dec("22.00"), Some(rule), "suggest".to_owned()),
        ]
    );
    let (suggested, _, _, _) = summary(&pool, listed).await;
    assert_eq!(suggested, Some(dec("22.00")));
    // A suggestion changes no price: the price history and the audit log record the
    // listing's price when the channel takes a new one.
    let price: Decimal =
        sqlx::query_scalar("select price from pricing.current_prices where listing_id = $1")
            .bind(listed)
            .fetch_one(&pool)
            .await
            .expect("price");
    assert_eq!(price, dec("30"));
    assert_eq!(count(&pool, "pricing.price_history").await, 0);
    assert_eq!(count(&pool, "ops.audit_log").await, 0);
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

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_full_runs_landed_costs_are_the_databases_figures_for_every_kind_of_bill(pool: PgPool) {
    // 300 parts, 60 sub-assemblies (some nested in others, some in loops), a chain of
    // 12 assemblies (too deep at the top), 400 finished goods: some are parts of others,
    // some have overrides in another currency, some parts' only price has expired, some
    // are priced by two suppliers (the default one chosen), some bought whole.
    // The temporary table of numbered variants lives on one connection.
    let mut conn = pool.acquire().await.expect("connection");
    for statement in [
        "insert into inventory.suppliers (name, code) values ('Parts Co', 'PARTS'), ('Importer', 'IMPORT')",
        "insert into catalog.products (id, name, product_kind, category)
         select gen_random_uuid(), 'v ' || n, 'component', 'parts' from generate_series(1, 772) n",
        "insert into catalog.product_variants (product_id, internal_sku)
         select id, 'V-' || name from catalog.products",
        "create temporary table vs as
         select v.id, split_part(p.name, ' ', 2)::int as n
         from catalog.products p join catalog.product_variants v on v.product_id = p.id",
        // Parts 1-300: a current price, USD on every 17th; every 7th expired instead;
        // every 5th also priced by the importer, the default supplier on every 10th.
        "insert into inventory.component_prices
             (component_variant_id, supplier_id, unit_cost, currency, valid_from, valid_to,
              import_duty_pct, shipping_cost)
         select vs.id, s.id, 1 + (vs.n % 23) * 1.37, case when vs.n % 17 = 0 then 'USD' else 'CAD' end,
                date '2000-01-01', case when vs.n % 7 = 0 then date '2001-01-01' end,
                (vs.n % 4) * 2.5, (vs.n % 5) * 0.35
         from vs cross join inventory.suppliers s
         where vs.n <= 300 and s.code = 'PARTS'",
        "insert into inventory.component_prices
             (component_variant_id, supplier_id, unit_cost, valid_from, import_duty_pct, shipping_cost)
         select vs.id, s.id, 2 + (vs.n % 11) * 0.91, date '2000-01-01', 3.75, 0.15
         from vs cross join inventory.suppliers s
         where vs.n <= 300 and vs.n % 5 = 0 and s.code = 'IMPORT'",
        "update catalog.product_variants v set default_supplier_id = s.id
         from vs, inventory.suppliers s
         where v.id = vs.id and vs.n <= 300 and vs.n % 10 = 0 and s.code = 'IMPORT'",
        // Sub-assemblies 301-360: two or three parts; every 6th nests the previous one.
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity)
         select a.id, p.id, 1 + (a.n % 3)
         from vs a join vs p on p.n in ((a.n * 7) % 300 + 1, (a.n * 11) % 300 + 1)
         where a.n between 301 and 360 on conflict do nothing",
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity, cost_override, currency)
         select a.id, p.id, 2, case when a.n % 4 = 0 then 3.3333 end, case when a.n % 8 = 0 then 'USD' else 'CAD' end
         from vs a join vs p on p.n = (a.n * 13) % 300 + 1
         where a.n between 301 and 360 and a.n % 2 = 0 on conflict do nothing",
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity)
         select a.id, b.id, 1.5 from vs a join vs b on b.n = a.n - 1
         where a.n between 302 and 360 and a.n % 6 = 0 on conflict do nothing",
        // Loops: 351 and 352 each other's part, and 355 -> 356 -> 357 -> 355.
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity)
         select a.id, b.id, 1 from vs a join vs b on (a.n, b.n) in ((351, 352), (352, 351), (355, 356), (356, 357), (357, 355)) on conflict do nothing",
        // A chain 361 -> 362 -> ... -> 372 -> part 1.
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity)
         select a.id, b.id, 1 from vs a join vs b on b.n = a.n + 1 where a.n between 361 and 371 on conflict do nothing",
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity)
         select a.id, b.id, 1 from vs a join vs b on b.n = 1 where a.n = 372 on conflict do nothing",
        // Goods 373-772: parts, a sub-assembly or a link of the chain; every 9th also has
        // an override line; every 25th is a part of the next good; every 40th has no
        // lines at all (bought whole: priced on every 80th).
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity)
         select g.id, p.id, 1 + (g.n % 2)
         from vs g join vs p on p.n in ((g.n * 3) % 300 + 1, 301 + g.n % 72)
         where g.n >= 373 and g.n % 40 <> 0 on conflict do nothing",
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity, cost_override, currency)
         select g.id, p.id, 1, 7.125, case when g.n % 27 = 0 then 'USD' else 'CAD' end
         from vs g join vs p on p.n = (g.n * 5) % 300 + 1
         where g.n >= 373 and g.n % 9 = 0 and g.n % 40 <> 0
           and (g.n * 5) % 300 + 1 <> (g.n * 3) % 300 + 1 on conflict do nothing",
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity)
         select g.id, h.id, 1 from vs g join vs h on h.n = g.n + 1
         where g.n >= 373 and g.n < 772 and g.n % 25 = 0 and g.n % 40 <> 0 on conflict do nothing",
        "insert into inventory.component_prices (component_variant_id, supplier_id, unit_cost, valid_from)
         select vs.id, s.id, 99.99, date '2000-01-01'
         from vs cross join inventory.suppliers s
         where vs.n >= 373 and vs.n % 80 = 0 and s.code = 'PARTS'",
    ] {
        sqlx::query(statement)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|err| panic!("{statement}: {err}"));
    }
    let now = Utc::now();

    let walked = sellerops::flows::pricing::landed_cost::load_all_landed_costs(&mut conn, now)
        .await
        .expect("landed costs walked");
    let rows = sqlx::query(
        "select variant_id, estimated_landed_cost, currency::text
         from inventory.landed_costs_at($1, null) where estimated_landed_cost is not null",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await
    .expect("landed costs from the database");
    let incomplete: i64 = sqlx::query_scalar(
        "select count(*) from inventory.landed_costs_at($1, null) where estimated_landed_cost is null",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .expect("count");

    assert!(rows.len() > 500, "{} costed", rows.len());
    assert!(incomplete > 20, "{incomplete} without a cost");
    for row in &rows {
        let variant: Uuid = row.get(0);
        let cost = walked
            .get(&variant)
            .unwrap_or_else(|| panic!("{variant} not costed"));
        assert_eq!(cost.amount, Some(row.get::<Decimal, _>(1)), "{variant}");
        assert_eq!(cost.currency, row.get::<String, _>(2), "{variant}");
    }
    assert_eq!(walked.len(), rows.len());
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_full_run_costs_with_the_prices_in_force_on_the_sellers_day(pool: PgPool) {
    execute(
        &pool,
        "update ops.settings set value = to_jsonb('America/Vancouver'::text)
         where key = 'pricing.time_zone'",
    )
    .await;
    // 05:00 UTC on 10 March is 21:00 on 9 March in Vancouver.
    let evening = "2026-03-10T05:00:00Z"
        .parse::<chrono::DateTime<Utc>>()
        .unwrap();
    let maker = supplier(&pool, "Parts Co").await;
    let ending = variant(&pool, "ENDS-9-MARCH", None, &[]).await;
    price(
        &pool,
        ending,
        maker,
        "10",
        "2000-01-01",
        Some("2026-03-09"),
        "0",
        "0",
    )
    .await;
    let starting = variant(&pool, "STARTS-10-MARCH", None, &[]).await;
    price(&pool, starting, maker, "20", "2026-03-10", OPEN, "0", "0").await;

    let mut conn = pool.acquire().await.expect("connection");
    let walked = sellerops::flows::pricing::landed_cost::load_all_landed_costs(&mut conn, evening)
        .await
        .expect("landed costs walked");

    let ending_cost = walked
        .get(&ending)
        .expect("the price ending on the seller's today counts");
    assert_eq!(ending_cost.amount, Some(dec("10")));
    assert!(
        !walked.contains_key(&starting),
        "a price starting on the seller's tomorrow does not count yet"
    );
    let from_database: Option<Decimal> = sqlx::query_scalar(
        "select estimated_landed_cost from inventory.landed_costs_at($1, array[$2]::uuid[])",
    )
    .bind(evening)
    .bind(ending)
    .fetch_one(&pool)
    .await
    .expect("the database's figure");
    assert_eq!(from_database, Some(dec("10")));
}

fn supplier_price(component: Uuid, supplier: Uuid, unit_cost: &str) -> SupplierPrice {
    SupplierPrice {
        component_variant_id: component,
        supplier_id: supplier,
        unit_cost: dec(unit_cost),
        currency: "CAD".into(),
        min_quantity: 1,
        valid_from: chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
        valid_to: None,
        import_duty_pct: dec("0"),
        shipping_cost: dec("0"),
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_supplier_price_change_re_evaluates_the_listings_whose_landed_cost_it_feeds(
    pool: PgPool,
) {
    // Arrange: a chip goes into a board, the board into a kit; the chip and the kit are
    // listed (the kit twice), the board is not; a case is listed and has no chip.
    let maker = supplier(&pool, "Parts Co").await;
    let kit = variant(&pool, "KIT", None, &[]).await;
    let board = variant(&pool, "BOARD", None, &[]).await;
    let chip = variant(&pool, "CHIP", None, &[]).await;
    let case = variant(&pool, "CASE", None, &[]).await;
    bom(&pool, board, chip, "1").await;
    bom(&pool, kit, board, "2").await;
    bom(&pool, kit, case, "1").await;
    price(&pool, chip, maker, "10", "2000-01-01", OPEN, "0", "0").await;
    price(&pool, case, maker, "5", "2000-01-01", OPEN, "0", "0").await;
    let mut fed = vec![
        listing(&pool, kit, "amazon", "99.00", 4).await,
        listing(&pool, kit, "bestbuy_ca", "99.00", 4).await,
        listing(&pool, chip, "amazon", "19.00", 40).await,
    ];
    fed.sort();
    listing(&pool, case, "amazon", "15.00", 9).await;

    // Act 1: the chip's price rises.
    let mut conn = pool.acquire().await.unwrap();
    let written = record_supplier_price(&mut conn, &supplier_price(chip, maker, "12.50"))
        .await
        .unwrap();

    // Assert 1: stored in place, and exactly the listings built on the chip are queued.
    assert!(
        written.changed && written.reevaluation_queued,
        "{written:?}"
    );
    assert_eq!(count(&pool, "inventory.component_prices").await, 2);
    let row = landed(&pool, kit).await;
    // (2 × 12.50 + 5) × 1.10
    assert_eq!(row.get::<Decimal, _>("estimated_landed_cost"), dec("33"));
    assert_eq!(
        queued_reevaluations(&pool).await,
        [(COST_CHANGED.to_owned(), fed.clone())]
    );

    // Act 2: the same price written again.
    let again = record_supplier_price(&mut conn, &supplier_price(chip, maker, "12.5000"))
        .await
        .unwrap();

    // Assert 2: nothing changed, nothing more queued.
    assert_eq!(again.id, written.id);
    assert!(!again.changed && !again.reevaluation_queued, "{again:?}");
    assert_eq!(queued_reevaluations(&pool).await.len(), 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_bad_supplier_price_is_refused_naming_the_field_and_nothing_is_stored_or_queued(
    pool: PgPool,
) {
    // Arrange
    let maker = supplier(&pool, "Parts Co").await;
    let chip = variant(&pool, "CHIP", None, &[]).await;
    listing(&pool, chip, "amazon", "19.00", 40).await;
    let mut conn = pool.acquire().await.unwrap();
    let negative = supplier_price(chip, maker, "-3");
    let unknown_supplier = supplier_price(chip, Uuid::new_v4(), "3");

    // Act
    let refused = record_supplier_price(&mut conn, &negative)
        .await
        .unwrap_err();
    let failed = record_supplier_price(&mut conn, &unknown_supplier)
        .await
        .unwrap_err();

    // Assert
    assert!(
        matches!(&refused, SupplierPriceError::Refused { problem, .. }
            if problem.contains("unit_cost must not be negative")),
        "{refused}"
    );
    assert!(refused.to_string().contains(&chip.to_string()), "{refused}");
    assert!(
        matches!(failed, SupplierPriceError::Database { .. }),
        "{failed}"
    );
    assert_eq!(count(&pool, "inventory.component_prices").await, 0);
    assert_eq!(queued_reevaluations(&pool).await, []);
}
