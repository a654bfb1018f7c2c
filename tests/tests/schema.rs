//! The unified schema: the migrations build everything `migrations/README.md`
//! maps the seed documents to, the seeds' views and functions answer
//! correctly on small fixtures, and the constraints that matter refuse bad
//! data. Each test gets a fresh database with every migration applied.

use rust_decimal::Decimal;
use sqlx::{PgPool, Row};
use uuid::Uuid;

const README: &str = include_str!("../../migrations/README.md");

const SCHEMAS: [&str; 11] = [
    "sales",
    "catalog",
    "inventory",
    "pricing",
    "competitors",
    "support",
    "etl",
    "ingest",
    "analytics",
    "workflow",
    "ops",
];

/// One row of `support.compare_support_periods`: metric, current, previous, change %.
type MetricComparison = (String, Option<Decimal>, Option<Decimal>, Option<Decimal>);

/// The `schema.name` / `schema.table.column` references in the "→" column
/// of every mapping table in the README.
fn readme_targets() -> Vec<String> {
    let mut targets = Vec::new();
    for line in README.lines().filter(|line| line.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').collect();
        let Some(target) = cells.get(3) else { continue };
        let tokens = target.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'));
        for token in tokens {
            let token = token.trim_matches('.');
            let parts: Vec<&str> = token.split('.').collect();
            if (2..=3).contains(&parts.len()) && SCHEMAS.contains(&parts[0]) {
                targets.push(token.to_owned());
            }
        }
    }
    targets.sort();
    targets.dedup();
    targets
}

async fn object_exists(pool: &PgPool, target: &str) -> bool {
    let parts: Vec<&str> = target.split('.').collect();
    let sql = if parts.len() == 2 {
        "select exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                        where n.nspname = $1 and c.relname = $2)
             or exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                        where n.nspname = $1 and p.proname = $2)
             or exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                        where n.nspname = $1 and t.typname = $2)"
    } else {
        "select exists (select 1 from information_schema.columns
                        where table_schema = $1 and table_name = $2 and column_name = $3)"
    };
    let mut query = sqlx::query_scalar::<_, bool>(sql);
    for part in &parts {
        query = query.bind(*part);
    }
    query.fetch_one(pool).await.expect("catalog lookup")
}

fn violated_constraint(error: sqlx::Error) -> String {
    error
        .as_database_error()
        .and_then(|e| e.constraint())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("expected a constraint violation, got {error:?}"))
}

async fn execute(pool: &PgPool, sql: &str) {
    sqlx::query(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("fixture failed: {e}\n{sql}"));
}

async fn insert_product(pool: &PgPool, name: &str, kind: &str) -> Uuid {
    sqlx::query_scalar(
        "insert into catalog.products (name, product_kind) values ($1, $2) returning id",
    )
    .bind(name)
    .bind(kind)
    .fetch_one(pool)
    .await
    .expect("insert product")
}

async fn insert_variant(
    pool: &PgPool,
    product_id: Uuid,
    sku: &str,
    supplier: Option<Uuid>,
) -> Uuid {
    sqlx::query_scalar(
        "insert into catalog.product_variants (product_id, internal_sku, default_supplier_id)
         values ($1, $2, $3) returning id",
    )
    .bind(product_id)
    .bind(sku)
    .bind(supplier)
    .fetch_one(pool)
    .await
    .expect("insert variant")
}

async fn insert_supplier(pool: &PgPool, name: &str) -> Uuid {
    sqlx::query_scalar("insert into inventory.suppliers (name) values ($1) returning id")
        .bind(name)
        .fetch_one(pool)
        .await
        .expect("insert supplier")
}

async fn insert_component_price(pool: &PgPool, component: Uuid, supplier: Uuid, unit_cost: &str) {
    sqlx::query(
        // Without a first valid day: it starts on the seller's today, the day the landed
        // cost counts prices on, at any hour.
        "insert into inventory.component_prices (component_variant_id, supplier_id, unit_cost)
         values ($1, $2, $3::numeric)",
    )
    .bind(component)
    .bind(supplier)
    .bind(unit_cost)
    .execute(pool)
    .await
    .expect("insert component price");
}

async fn insert_bom_line(pool: &PgPool, variant: Uuid, component: Uuid, quantity: i32) {
    sqlx::query(
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity)
         values ($1, $2, $3)",
    )
    .bind(variant)
    .bind(component)
    .bind(quantity)
    .execute(pool)
    .await
    .expect("insert bill of materials line");
}

async fn insert_ticket(pool: &PgPool, ticket_id: &str, data: serde_json::Value) {
    sqlx::query(
        "insert into etl.freshdesk_tickets (domain, freshdesk_ticket_id, data)
         values ('acme.freshdesk.com', $1, $2)",
    )
    .bind(ticket_id)
    .bind(data)
    .execute(pool)
    .await
    .expect("insert ticket");
}

async fn insert_order(
    pool: &PgPool,
    external_id: &str,
    customer: Option<Uuid>,
    placed_at: &str,
) -> Uuid {
    sqlx::query_scalar(
        "insert into sales.orders (channel, external_id, customer_id, status, total_amount, placed_at)
         values ('bestbuy_ca', $1, $2, 'WAITING_ACCEPTANCE', 100, $3::timestamptz) returning id",
    )
    .bind(external_id)
    .bind(customer)
    .bind(placed_at)
    .fetch_one(pool)
    .await
    .expect("insert order")
}

async fn insert_order_line(
    pool: &PgPool,
    order: Uuid,
    variant: Option<Uuid>,
    quantity: i32,
) -> Uuid {
    sqlx::query_scalar(
        "insert into sales.order_lines (order_id, line_number, sku, variant_id, quantity, unit_price, line_total)
         values ($1, coalesce((select max(line_number) from sales.order_lines where order_id = $1), 0) + 1,
                 'LT-T480-A', $2, $3, 10, 10 * $3) returning id",
    )
    .bind(order)
    .bind(variant)
    .bind(quantity)
    .fetch_one(pool)
    .await
    .expect("insert order line")
}

async fn stock_of(pool: &PgPool, variant: Uuid) -> (i32, i32, i32) {
    sqlx::query_as(
        "select on_hand, reserved, available from inventory.stock_levels where variant_id = $1",
    )
    .bind(variant)
    .fetch_one(pool)
    .await
    .expect("stock level")
}

/// Seven tickets: four opened in March 2025 (one with an unknown status),
/// two in February, one spam ticket that no report counts.
async fn seed_tickets(pool: &PgPool) {
    let tickets = [
        (
            "1",
            serde_json::json!({"status": 2, "priority": 4, "created_at": "2025-03-02T10:00:00Z",
                "tags": ["Refund", "shipping"], "stats": {"first_responded_at": "2025-03-02T12:00:00Z"}}),
        ),
        (
            "2",
            serde_json::json!({"status": 3, "priority": 1, "created_at": "2025-03-03T10:00:00Z", "tags": ["refund"]}),
        ),
        (
            "3",
            serde_json::json!({"status": 4, "priority": 3, "created_at": "2025-03-04T10:00:00Z", "tags": [],
                "type": "Question", "stats": {"first_responded_at": "2025-03-04T14:00:00Z",
                "resolved_at": "2025-03-05T10:00:00Z"}}),
        ),
        (
            "4",
            serde_json::json!({"status": 5, "priority": 2, "created_at": "2025-02-20T10:00:00Z", "tags": ["refund"]}),
        ),
        (
            "5",
            serde_json::json!({"status": 2, "priority": 2, "created_at": "2025-03-05T10:00:00Z",
                "tags": ["refund"], "spam": true}),
        ),
        (
            "6",
            serde_json::json!({"status": "Pending", "priority": "High", "created_at": "2025-02-25T10:00:00Z",
                "tags": ["shipping"]}),
        ),
        (
            "7",
            serde_json::json!({"status": 7, "created_at": "2025-03-06T10:00:00Z"}),
        ),
    ];
    for (id, data) in tickets {
        insert_ticket(pool, id, data).await;
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn every_object_the_readme_maps_a_seed_name_to_exists(pool: PgPool) {
    let targets = readme_targets();
    assert!(
        targets.len() > 150,
        "README parsing found only {} targets",
        targets.len()
    );
    for key in [
        "sales.orders",
        "sales.customers",
        "catalog.shop_sku_map",
        "ops.outbox",
    ] {
        assert!(
            targets.iter().any(|t| t == key),
            "README does not map to {key}"
        );
    }

    let mut missing = Vec::new();
    for target in &targets {
        if !object_exists(&pool, target).await {
            missing.push(target.as_str());
        }
    }

    assert!(
        missing.is_empty(),
        "README maps to objects the migrations do not build: {missing:?}"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn every_table_has_timestamps_and_a_trigger_that_touches_updated_at(pool: PgPool) {
    let lacking: Vec<String> = sqlx::query_scalar(
        "select n.nspname || '.' || c.relname
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.relkind in ('r', 'p') and not c.relispartition and n.nspname = any($1)
           and (not exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'created_at'
                              and a.attnotnull and not a.attisdropped)
                or not exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'updated_at'
                                 and a.attnotnull and not a.attisdropped)
                or not exists (select 1 from pg_trigger t where t.tgrelid = c.oid
                                 and t.tgname = c.relname || '_touch_updated_at'))
         order by 1",
    )
    .bind(&SCHEMAS[..])
    .fetch_all(&pool)
    .await
    .expect("list tables");

    assert!(
        lacking.is_empty(),
        "tables without timestamps or touch trigger: {lacking:?}"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn updating_a_row_moves_its_updated_at(pool: PgPool) {
    // A row written yesterday: the trigger fires on update only, so both times stay as given.
    execute(
        &pool,
        "insert into sales.orders
             (channel, external_id, status, total_amount, placed_at, created_at, updated_at)
         values ('bestbuy_ca', 'O-1', 'WAITING_ACCEPTANCE', 100, '2025-03-01T00:00:00Z',
                 now() - interval '1 day', now() - interval '1 day')",
    )
    .await;

    let touched: bool = sqlx::query_scalar(
        "update sales.orders set status = 'SHIPPING' where external_id = 'O-1'
         returning updated_at > created_at",
    )
    .fetch_one(&pool)
    .await
    .expect("update order");

    assert!(touched);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn no_column_holds_money_or_anything_else_in_a_float(pool: PgPool) {
    let float_columns: Vec<String> = sqlx::query_scalar(
        "select table_schema || '.' || table_name || '.' || column_name
         from information_schema.columns
         where table_schema = any($1) and data_type in ('real', 'double precision', 'money')",
    )
    .bind(&SCHEMAS[..])
    .fetch_all(&pool)
    .await
    .expect("list columns");

    assert!(
        float_columns.is_empty(),
        "float or money columns: {float_columns:?}"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn landed_cost_is_component_cost_times_quantity_plus_ten_percent_overhead(pool: PgPool) {
    let supplier = insert_supplier(&pool, "Memory Direct").await;
    let laptop = insert_product(&pool, "ThinkPad T480", "finished_good").await;
    let ram_product = insert_product(&pool, "16GB DDR4", "component").await;
    let ssd_product = insert_product(&pool, "512GB SSD", "component").await;
    let bundle = insert_variant(&pool, laptop, "T480-32-512", None).await;
    let ram = insert_variant(&pool, ram_product, "RAM-16", None).await;
    let ssd = insert_variant(&pool, ssd_product, "SSD-512", None).await;
    insert_component_price(&pool, ram, supplier, "40.0000").await;
    insert_component_price(&pool, ssd, supplier, "55.5000").await;
    insert_bom_line(&pool, bundle, ram, 2).await;
    insert_bom_line(&pool, bundle, ssd, 1).await;

    let row = sqlx::query(
        "select component_cost, estimated_landed_cost, component_count, currency
         from inventory.variant_landed_costs where variant_id = $1",
    )
    .bind(bundle)
    .fetch_one(&pool)
    .await
    .expect("landed cost row");

    // 2 × 40.00 + 1 × 55.50 = 135.50; plus 10% = 149.05
    assert_eq!(
        row.get::<Decimal, _>("component_cost"),
        Decimal::new(13550, 2)
    );
    assert_eq!(
        row.get::<Decimal, _>("estimated_landed_cost"),
        Decimal::new(14905, 2)
    );
    assert_eq!(row.get::<i32, _>("component_count"), 2);
    assert_eq!(row.get::<String, _>("currency"), "CAD");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn landed_cost_uses_the_override_and_one_price_per_component(pool: PgPool) {
    let preferred = insert_supplier(&pool, "Preferred").await;
    let cheaper = insert_supplier(&pool, "Cheaper").await;
    let laptop = insert_product(&pool, "ThinkPad T480", "finished_good").await;
    let ram_product = insert_product(&pool, "16GB DDR4", "component").await;
    let ssd_product = insert_product(&pool, "512GB SSD", "component").await;
    let bundle = insert_variant(&pool, laptop, "T480-32-512", None).await;
    let ram = insert_variant(&pool, ram_product, "RAM-16", Some(preferred)).await;
    let ssd = insert_variant(&pool, ssd_product, "SSD-512", None).await;
    insert_component_price(&pool, ram, cheaper, "30.0000").await;
    insert_component_price(&pool, ram, preferred, "40.0000").await;
    insert_component_price(&pool, ssd, cheaper, "55.5000").await;
    insert_bom_line(&pool, bundle, ram, 2).await;
    insert_bom_line(&pool, bundle, ssd, 1).await;
    execute(
        &pool,
        "update catalog.variant_components set cost_override = 10
         where component_variant_id = (select id from catalog.product_variants where internal_sku = 'SSD-512')",
    )
    .await;

    let landed: Decimal = sqlx::query_scalar(
        "select estimated_landed_cost from inventory.variant_landed_costs where variant_id = $1",
    )
    .bind(bundle)
    .fetch_one(&pool)
    .await
    .expect("landed cost");

    // Default supplier's 40.00 × 2 (not 30 + 40) and the 10.00 override: 90.00 × 1.1
    assert_eq!(landed, Decimal::new(9900, 2));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn landed_cost_is_withheld_while_a_component_has_no_current_cost(pool: PgPool) {
    let supplier = insert_supplier(&pool, "Memory Direct").await;
    let laptop = insert_product(&pool, "ThinkPad T480", "finished_good").await;
    let ram_product = insert_product(&pool, "16GB DDR4", "component").await;
    let ssd_product = insert_product(&pool, "512GB SSD", "component").await;
    let bundle = insert_variant(&pool, laptop, "T480-32-512", None).await;
    let ram = insert_variant(&pool, ram_product, "RAM-16", None).await;
    let ssd = insert_variant(&pool, ssd_product, "SSD-512", None).await;
    insert_component_price(&pool, ram, supplier, "40.0000").await;
    insert_bom_line(&pool, bundle, ram, 2).await;
    insert_bom_line(&pool, bundle, ssd, 1).await;

    let row = sqlx::query(
        "select estimated_landed_cost, costed_component_count
         from inventory.variant_landed_costs where variant_id = $1",
    )
    .bind(bundle)
    .fetch_one(&pool)
    .await
    .expect("landed cost row");

    assert_eq!(row.get::<Option<Decimal>, _>("estimated_landed_cost"), None);
    assert_eq!(row.get::<i32, _>("costed_component_count"), 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_supplier_price_without_a_first_day_starts_on_the_sellers_today(pool: PgPool) {
    let supplier = insert_supplier(&pool, "Memory Direct").await;
    let ram_product = insert_product(&pool, "16GB DDR4", "component").await;
    let ram = insert_variant(&pool, ram_product, "RAM-16", None).await;
    // Kiritimati is UTC+14 and Pago Pago UTC-11: 25 hours apart, so at every instant
    // their dates differ, and at most one of them is the server's (UTC) date.
    let mut first_days = Vec::new();
    for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago"] {
        sqlx::query(
            "update ops.settings set value = to_jsonb($1::text) where key = 'pricing.time_zone'",
        )
        .bind(zone)
        .execute(&pool)
        .await
        .expect("set the seller's time zone");
        let (first_day, sellers_today): (chrono::NaiveDate, chrono::NaiveDate) = sqlx::query_as(
            "with price as (
                 insert into inventory.component_prices (component_variant_id, supplier_id, unit_cost)
                 values ($1, $2, 40) returning valid_from
             )
             select valid_from, (now() at time zone $3)::date from price",
        )
        .bind(ram)
        .bind(supplier)
        .bind(zone)
        .fetch_one(&pool)
        .await
        .expect("insert a price without valid_from");
        assert_eq!(first_day, sellers_today, "in {zone}");
        first_days.push(first_day);
        sqlx::query("delete from inventory.component_prices where component_variant_id = $1")
            .bind(ram)
            .execute(&pool)
            .await
            .expect("delete the price");
    }
    assert_ne!(first_days[0], first_days[1]);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn ticket_status_normaliser_maps_freshdesk_codes_and_labels(pool: PgPool) {
    let cases = [
        (r#"{"status": 2}"#, "open"),
        (r#"{"status": 3}"#, "pending"),
        (r#"{"status": 4}"#, "resolved"),
        (r#"{"status": 5}"#, "closed"),
        (r#"{"status": "5"}"#, "closed"),
        (r#"{"status": " Pending "}"#, "pending"),
        (r#"{"ticket_status": "Resolved"}"#, "resolved"),
        (r#"{"status": 6}"#, "other"),
        (r#"{"subject": "no status"}"#, "unknown"),
    ];
    for (data, expected) in cases {
        let status: String = sqlx::query_scalar("select support.extract_ticket_status($1::jsonb)")
            .bind(data)
            .fetch_one(&pool)
            .await
            .expect("normalise status");
        assert_eq!(status, expected, "status of {data}");
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn ticket_priority_normaliser_maps_freshdesk_codes_and_labels(pool: PgPool) {
    let cases = [
        (r#"{"priority": 1}"#, "low"),
        (r#"{"priority": 2}"#, "medium"),
        (r#"{"priority": 3}"#, "high"),
        (r#"{"priority": 4}"#, "urgent"),
        (r#"{"ticket_priority": "High"}"#, "high"),
        (r#"{"priority": 9}"#, "other"),
        (r#"{}"#, "unknown"),
    ];
    for (data, expected) in cases {
        let priority: String =
            sqlx::query_scalar("select support.extract_ticket_priority($1::jsonb)")
                .bind(data)
                .fetch_one(&pool)
                .await
                .expect("normalise priority");
        assert_eq!(priority, expected, "priority of {data}");
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn support_summary_counts_tickets_by_status_within_the_date_range(pool: PgPool) {
    seed_tickets(&pool).await;

    let row = sqlx::query("select * from support.get_support_summary('2025-03-01', '2025-04-01')")
        .fetch_one(&pool)
        .await
        .expect("summary");

    assert_eq!(row.get::<i64, _>("total_tickets"), 4);
    assert_eq!(row.get::<i64, _>("open_tickets"), 1);
    assert_eq!(row.get::<i64, _>("pending_tickets"), 1);
    assert_eq!(row.get::<i64, _>("resolved_tickets"), 1);
    assert_eq!(row.get::<i64, _>("closed_tickets"), 0);
    assert_eq!(row.get::<i64, _>("other_tickets"), 1);
    assert_eq!(row.get::<i64, _>("high_priority_tickets"), 2);
    assert_eq!(
        row.get::<Decimal, _>("avg_first_response_hours"),
        Decimal::from(3)
    );
    assert_eq!(
        row.get::<Decimal, _>("avg_resolution_hours"),
        Decimal::from(24)
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn trending_categories_rank_tags_and_compare_with_the_previous_window(pool: PgPool) {
    seed_tickets(&pool).await;

    let rows: Vec<(String, i64, i64, Option<Decimal>)> = sqlx::query_as(
        "select category, ticket_count, previous_count, change_pct
         from support.get_trending_categories('2025-03-01', '2025-03-29')",
    )
    .fetch_all(&pool)
    .await
    .expect("trending categories");

    assert_eq!(
        rows,
        vec![
            ("refund".to_owned(), 2, 1, Some(Decimal::from(100))),
            ("question".to_owned(), 1, 0, None),
            ("shipping".to_owned(), 1, 1, Some(Decimal::ZERO)),
        ]
    );

    let top: Vec<String> = sqlx::query_scalar(
        "select category from support.get_trending_categories('2025-03-01', '2025-03-29', 1)",
    )
    .fetch_all(&pool)
    .await
    .expect("top category");
    assert_eq!(top, vec!["refund".to_owned()]);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn compare_support_periods_reports_each_metric_for_both_periods(pool: PgPool) {
    seed_tickets(&pool).await;

    let rows: Vec<MetricComparison> = sqlx::query_as(
        "select metric, current_value, previous_value, change_pct
         from support.compare_support_periods('2025-03-01', '2025-04-01', '2025-02-01', '2025-03-01')",
    )
    .fetch_all(&pool)
    .await
    .expect("comparison");

    let metric = |name: &str| {
        rows.iter()
            .find(|row| row.0 == name)
            .cloned()
            .unwrap_or_else(|| panic!("no metric {name}"))
    };
    assert_eq!(rows.len(), 8);
    assert_eq!(rows[0].0, "total_tickets");
    assert_eq!(
        metric("total_tickets"),
        (
            "total_tickets".to_owned(),
            Some(Decimal::from(4)),
            Some(Decimal::from(2)),
            Some(Decimal::from(100))
        )
    );
    assert_eq!(
        metric("closed_tickets"),
        (
            "closed_tickets".to_owned(),
            Some(Decimal::ZERO),
            Some(Decimal::ONE),
            Some(Decimal::from(-100))
        )
    );
    assert_eq!(
        metric("open_tickets"),
        (
            "open_tickets".to_owned(),
            Some(Decimal::ONE),
            Some(Decimal::ZERO),
            None
        )
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn current_queue_status_counts_only_open_and_pending_tickets(pool: PgPool) {
    seed_tickets(&pool).await;

    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "select status, priority, ticket_count from support.current_queue_status
         order by priority_rank desc, status",
    )
    .fetch_all(&pool)
    .await
    .expect("queue status");

    assert_eq!(
        rows,
        vec![
            ("open".to_owned(), "urgent".to_owned(), 1),
            ("pending".to_owned(), "high".to_owned(), 1),
            ("pending".to_owned(), "low".to_owned(), 1),
        ]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn default_kanban_stages_are_present_in_order_with_one_default_and_one_terminal(
    pool: PgPool,
) {
    let stages: Vec<(String, i32, bool, bool)> = sqlx::query_as(
        "select name, sort_order, is_default, is_terminal from workflow.kanban_stages order by sort_order",
    )
    .fetch_all(&pool)
    .await
    .expect("stages");

    let names: Vec<&str> = stages.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "Backlog",
            "To Analyze",
            "In Progress",
            "Review",
            "Ready to Deploy",
            "Monitoring",
            "Done"
        ]
    );
    assert_eq!(
        stages
            .iter()
            .filter(|s| s.2)
            .map(|s| s.0.as_str())
            .collect::<Vec<_>>(),
        ["Backlog"]
    );
    assert_eq!(
        stages
            .iter()
            .filter(|s| s.3)
            .map(|s| s.0.as_str())
            .collect::<Vec<_>>(),
        ["Done"]
    );

    let task_stage: String = sqlx::query_scalar(
        "with task as (insert into workflow.tasks (title, task_type) values ('Check title', 'optimization')
                       returning stage_id)
         select s.name from task join workflow.kanban_stages s on s.id = task.stage_id",
    )
    .fetch_one(&pool)
    .await
    .expect("new task");
    assert_eq!(task_stage, "Backlog");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn default_settings_rows_are_present(pool: PgPool) {
    let keys: Vec<String> = sqlx::query_scalar("select key from ops.settings order by key")
        .fetch_all(&pool)
        .await
        .expect("settings");
    // Seed 002's five rows, the ones price evaluation reads (0022) and the competitor
    // alerts' threshold (0023).
    assert_eq!(
        keys,
        [
            "competitors.price_alert_threshold_pct",
            "pricing.channel_fees",
            "pricing.default_margin_floor",
            "pricing.own_seller_ids",
            "pricing.time_zone",
            "scoring.weights",
            "seasonality.uk_calendar",
            "sync.keepa.tokens_per_minute",
            "sync.sp_api.interval_minutes",
        ]
    );

    let floor: serde_json::Value = sqlx::query_scalar(
        "select value from ops.settings where key = 'pricing.default_margin_floor'",
    )
    .fetch_one(&pool)
    .await
    .expect("margin floor");
    assert_eq!(floor, serde_json::json!(0.20));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn order_line_quantity_must_be_positive(pool: PgPool) {
    let order = insert_order(&pool, "O-1", None, "2025-03-01T00:00:00Z").await;

    let error = sqlx::query(
        "insert into sales.order_lines (order_id, line_number, sku, quantity, unit_price, line_total)
         values ($1, 1, 'LT-T480-A', -1, 10, 10)",
    )
    .bind(order)
    .execute(&pool)
    .await
    .expect_err("negative quantity accepted");

    assert_eq!(violated_constraint(error), "order_lines_quantity_check");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn customers_have_no_email_column_other_than_email_hash(pool: PgPool) {
    let columns: Vec<String> = sqlx::query_scalar(
        "select column_name from information_schema.columns
         where table_schema = 'sales' and table_name = 'customers' and column_name like '%email%'",
    )
    .fetch_all(&pool)
    .await
    .expect("customer columns");
    assert_eq!(columns, ["email_hash"]);

    let data_type: String = sqlx::query_scalar(
        "select data_type from information_schema.columns
         where table_schema = 'sales' and table_name = 'customers' and column_name = 'email_hash'",
    )
    .fetch_one(&pool)
    .await
    .expect("email_hash type");
    assert_eq!(data_type, "bytea");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_customer_email_hash_must_be_32_bytes_and_names_one_customer(pool: PgPool) {
    let short =
        sqlx::query("insert into sales.customers (channel, email_hash) values ('file_import', $1)")
            .bind(vec![0_u8; 16])
            .execute(&pool)
            .await
            .expect_err("16-byte hash accepted");
    assert_eq!(violated_constraint(short), "customers_email_hash_check");

    sqlx::query("insert into sales.customers (channel, email_hash) values ('file_import', $1)")
        .bind(vec![7_u8; 32])
        .execute(&pool)
        .await
        .expect("first customer");
    let twice =
        sqlx::query("insert into sales.customers (channel, email_hash) values ('shopify', $1)")
            .bind(vec![7_u8; 32])
            .execute(&pool)
            .await
            .expect_err("second customer with the same hash accepted");
    assert_eq!(violated_constraint(twice), "customers_email_hash_key");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_order_is_unique_per_channel_and_external_id(pool: PgPool) {
    insert_order(&pool, "O-1", None, "2025-03-01T00:00:00Z").await;

    let error = sqlx::query(
        "insert into sales.orders (channel, external_id, status, total_amount, placed_at)
         values ('bestbuy_ca', 'O-1', 'SHIPPING', 5, now())",
    )
    .execute(&pool)
    .await
    .expect_err("duplicate order accepted");
    assert_eq!(violated_constraint(error), "orders_channel_external_id_key");

    sqlx::query(
        "insert into sales.orders (channel, external_id, status, total_amount, placed_at)
         values ('shopify', 'O-1', 'paid', 5, now())",
    )
    .execute(&pool)
    .await
    .expect("same id on another channel");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_unknown_channel_or_payment_method_is_rejected(pool: PgPool) {
    let channel = sqlx::query(
        "insert into sales.orders (channel, external_id, status, total_amount, placed_at)
         values ($1, 'O-1', 'paid', 5, now())",
    )
    .bind("ebay")
    .execute(&pool)
    .await
    .expect_err("unknown channel accepted");
    assert_eq!(violated_constraint(channel), "channel_check");

    let method = sqlx::query(
        "insert into sales.orders (channel, external_id, status, total_amount, placed_at, payment_method)
         values ('file_import', 'O-1', 'paid', 5, now(), $1)",
    )
    .bind("bitcoin")
    .execute(&pool)
    .await
    .expect_err("unknown payment method accepted");
    assert_eq!(violated_constraint(method), "payment_method_check");
}

/// The values a table's or domain's check constraint allows, in its order, read back
/// through `T`'s database mapping: a value the enum does not know fails the read.
async fn allowed_values_as<T>(pool: &PgPool, constraint: &str) -> Vec<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let definition: String = sqlx::query_scalar(
        "select pg_get_constraintdef(oid) from pg_constraint where conname = $1",
    )
    .bind(constraint)
    .fetch_one(pool)
    .await
    .unwrap_or_else(|e| panic!("constraint {constraint}: {e}"));
    // `CHECK ((state = ANY (ARRAY['pending'::text, …])))`: the quoted words.
    let values: Vec<&str> = definition.split('\'').skip(1).step_by(2).collect();
    sqlx::query_scalar("select v from unnest($1::text[]) with ordinality as t(v, n) order by n")
        .bind(&values)
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{constraint} allows {values:?}: {e}"))
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn every_state_a_check_constraint_allows_is_one_its_enum_names(pool: PgPool) {
    use sellerops::flows::fulfilment::acceptance::AcceptanceState;
    use sellerops::flows::fulfilment::labels::ShipmentState;
    use sellerops::flows::ingest::ingestion_file::FileStatus;
    use sellerops::model::conversation::{ConversationStatus, SenderType};

    assert_eq!(
        allowed_values_as::<ShipmentState>(&pool, "shipments_state_check").await,
        [
            ShipmentState::Pending,
            ShipmentState::LabelCreated,
            ShipmentState::LabelStored,
            ShipmentState::TrackingReported,
            ShipmentState::Shipped,
            ShipmentState::Delivered,
            ShipmentState::Voided,
            ShipmentState::Failed,
        ]
    );
    assert_eq!(
        allowed_values_as::<AcceptanceState>(&pool, "order_acceptances_state_check").await,
        [
            AcceptanceState::Decided,
            AcceptanceState::Sent,
            AcceptanceState::Reconciled,
        ]
    );
    assert_eq!(
        allowed_values_as::<FileStatus>(&pool, "file_status_check").await,
        [
            FileStatus::Pending,
            FileStatus::Processing,
            FileStatus::Completed,
            FileStatus::Failed,
            FileStatus::Duplicate,
        ]
    );
    assert_eq!(
        allowed_values_as::<ConversationStatus>(&pool, "conversations_status_check").await,
        [
            ConversationStatus::Unread,
            ConversationStatus::Read,
            ConversationStatus::Archived,
        ]
    );
    assert_eq!(
        allowed_values_as::<SenderType>(&pool, "messages_sender_type_check").await,
        [
            SenderType::Customer,
            SenderType::Technician,
            SenderType::Operator,
            SenderType::Assistant,
            SenderType::System,
        ]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn order_status_history_is_append_only(pool: PgPool) {
    let order = insert_order(&pool, "O-1", None, "2025-03-01T00:00:00Z").await;
    sqlx::query(
        "insert into sales.order_status_history (order_id, status, source)
         values ($1, 'WAITING_ACCEPTANCE', 'mirakl_poll')",
    )
    .bind(order)
    .execute(&pool)
    .await
    .expect("append status");

    let error = sqlx::query("update sales.order_status_history set status = 'SHIPPED'")
        .execute(&pool)
        .await
        .expect_err("history rewritten");

    let code = error
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("23001"));
}

/// A customer's first and last order days, UTC.
async fn customer_order_dates(pool: &PgPool, customer: Uuid) -> (String, String) {
    sqlx::query_as(
        "select to_char(first_order_at at time zone 'UTC', 'YYYY-MM-DD'),
                to_char(last_order_at at time zone 'UTC', 'YYYY-MM-DD')
         from sales.customers where id = $1",
    )
    .bind(customer)
    .fetch_one(pool)
    .await
    .expect("order dates")
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn customer_order_dates_follow_their_orders(pool: PgPool) {
    let customer: Uuid = sqlx::query_scalar(
        "insert into sales.customers (channel, external_id) values ('bestbuy_ca', 'C-1') returning id",
    )
    .fetch_one(&pool)
    .await
    .expect("customer");
    insert_order(&pool, "O-2", Some(customer), "2025-03-05T00:00:00Z").await;
    insert_order(&pool, "O-1", Some(customer), "2025-03-01T00:00:00Z").await;
    insert_order(&pool, "O-3", Some(customer), "2025-03-03T00:00:00Z").await;

    let (first, last) = customer_order_dates(&pool, customer).await;

    assert_eq!(
        (first.as_str(), last.as_str()),
        ("2025-03-01", "2025-03-05")
    );

    // One statement writing many orders, and an order moved earlier, widen the dates too.
    sqlx::query(
        "insert into sales.orders (channel, external_id, customer_id, status, total_amount, placed_at)
         select 'bestbuy_ca', 'O-' || n, $1, 'SHIPPED', 0, timestamptz '2025-03-05' + n * interval '1 day'
         from generate_series(4, 9) n",
    )
    .bind(customer)
    .execute(&pool)
    .await
    .expect("many orders");
    sqlx::query(
        "update sales.orders set placed_at = '2025-02-20T00:00:00Z'
         where channel = 'bestbuy_ca' and external_id = 'O-3'",
    )
    .execute(&pool)
    .await
    .expect("an order moved");
    let (first, last) = customer_order_dates(&pool, customer).await;
    assert_eq!(
        (first.as_str(), last.as_str()),
        ("2025-02-20", "2025-03-14")
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn reservations_move_reserved_stock_and_refuse_an_oversell(pool: PgPool) {
    let product = insert_product(&pool, "ThinkPad T480", "finished_good").await;
    let variant = insert_variant(&pool, product, "T480-16-512", None).await;
    sqlx::query("insert into inventory.stock_levels (variant_id, on_hand) values ($1, 3)")
        .bind(variant)
        .execute(&pool)
        .await
        .expect("stock");
    let order = insert_order(&pool, "O-1", None, "2025-03-01T00:00:00Z").await;
    let first_line = insert_order_line(&pool, order, Some(variant), 2).await;
    let second_line = insert_order_line(&pool, order, Some(variant), 2).await;
    let reserve = "insert into inventory.stock_reservations (order_line_id, variant_id, quantity) values ($1, $2, $3)";

    sqlx::query(reserve)
        .bind(first_line)
        .bind(variant)
        .bind(2)
        .execute(&pool)
        .await
        .expect("first reservation");
    let oversell = sqlx::query(reserve)
        .bind(second_line)
        .bind(variant)
        .bind(2)
        .execute(&pool)
        .await
        .expect_err("oversell accepted");
    assert_eq!(
        violated_constraint(oversell),
        "stock_levels_reserved_within_on_hand_check"
    );

    assert_eq!(stock_of(&pool, variant).await, (3, 2, 1));

    sqlx::query(
        "update inventory.stock_reservations set released_at = now(), release_reason = 'cancelled'
         where order_line_id = $1",
    )
    .bind(first_line)
    .execute(&pool)
    .await
    .expect("release");
    assert_eq!(stock_of(&pool, variant).await, (3, 0, 3));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn stock_cannot_go_negative(pool: PgPool) {
    let product = insert_product(&pool, "ThinkPad T480", "finished_good").await;
    let variant = insert_variant(&pool, product, "T480-16-512", None).await;

    let error =
        sqlx::query("insert into inventory.stock_levels (variant_id, on_hand) values ($1, -1)")
            .bind(variant)
            .execute(&pool)
            .await
            .expect_err("negative stock accepted");

    assert_eq!(violated_constraint(error), "stock_levels_on_hand_check");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn raw_support_documents_refuse_a_plain_email_address(pool: PgPool) {
    let ticket = sqlx::query(
        "insert into etl.freshdesk_tickets (domain, freshdesk_ticket_id, data)
         values ('acme.freshdesk.com', '11', $1)",
    )
    .bind(serde_json::json!({"status": 2, "requester": {"email": "Bob@Example.com"}}))
    .execute(&pool)
    .await
    .expect_err("ticket with an e-mail accepted");
    assert_eq!(
        violated_constraint(ticket),
        "freshdesk_tickets_data_has_no_email_check"
    );

    let customer = sqlx::query(
        "insert into etl.shopify_customers (shop_domain, shopify_customer_id, data)
         values ('shop.myshopify.com', '12345', $1)",
    )
    .bind(serde_json::json!({"email": "john@example.com", "orders_count": 5}))
    .execute(&pool)
    .await
    .expect_err("Shopify customer with an e-mail accepted");
    assert_eq!(
        violated_constraint(customer),
        "shopify_customers_data_has_no_email_check"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_customer_message_gets_at_most_one_auto_reply(pool: PgPool) {
    let conversation: Uuid = sqlx::query_scalar(
        "insert into support.conversations (channel, external_id) values ('bestbuy_ca', 'T-1') returning id",
    )
    .fetch_one(&pool)
    .await
    .expect("conversation");
    let question: Uuid = sqlx::query_scalar(
        "insert into support.messages (conversation_id, channel, external_id, sender_type, body, sent_at)
         values ($1, 'bestbuy_ca', 'M-1', 'customer', 'Where is my order?', now()) returning id",
    )
    .bind(conversation)
    .fetch_one(&pool)
    .await
    .expect("customer message");
    let reply = "insert into support.messages
                     (conversation_id, channel, sender_type, message_type, body, sent_at, in_reply_to_message_id)
                 values ($1, 'bestbuy_ca', 'technician', 'auto_reply', 'It ships today.', now(), $2)";

    sqlx::query(reply)
        .bind(conversation)
        .bind(question)
        .execute(&pool)
        .await
        .expect("first auto-reply");
    let error = sqlx::query(reply)
        .bind(conversation)
        .bind(question)
        .execute(&pool)
        .await
        .expect_err("second auto-reply accepted");

    assert_eq!(violated_constraint(error), "messages_one_auto_reply_key");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_ingestion_file_is_recorded_once_per_object_version(pool: PgPool) {
    let insert = "insert into ingest.ingestion_files (bucket, object_key, version_id, filename)
                  values ('orders', 'in/2025-03-01.csv', null, '2025-03-01.csv')";
    execute(&pool, insert).await;

    let error = sqlx::query(insert)
        .execute(&pool)
        .await
        .expect_err("same unversioned object recorded twice");

    assert_eq!(
        violated_constraint(error),
        "ingestion_files_bucket_object_key_version_id_key"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_idempotency_key_in_progress_must_hold_a_lease(pool: PgPool) {
    let error = sqlx::query(
        "insert into ops.idempotency_keys (key, scope, state, expires_at)
         values ('s3:orders/in/a.csv#v1', 'ingest', 'in_progress', now() + interval '1 day')",
    )
    .execute(&pool)
    .await
    .expect_err("unleased in-progress key accepted");
    assert_eq!(violated_constraint(error), "idempotency_keys_lease_check");

    let state = sqlx::query(
        "insert into ops.idempotency_keys (key, scope, state, expires_at)
         values ('s3:orders/in/a.csv#v1', 'ingest', 'done', now() + interval '1 day')",
    )
    .execute(&pool)
    .await
    .expect_err("unknown state accepted");
    assert_eq!(violated_constraint(state), "idempotency_keys_state_check");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_outbox_message_is_written_once_per_dedup_id(pool: PgPool) {
    let enqueue = "insert into ops.outbox (queue_name, message_body, dedup_id)
                   values ('accept', '{\"order_id\": \"O-1\"}', 'accept:bestbuy_ca:O-1')";
    execute(&pool, enqueue).await;

    let error = sqlx::query(enqueue)
        .execute(&pool)
        .await
        .expect_err("duplicate outbox message accepted");

    assert_eq!(violated_constraint(error), "outbox_dedup_id_key");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn sales_aggregates_roll_orders_up_by_day_product_category_and_payment_method(pool: PgPool) {
    let laptop = insert_product(&pool, "ThinkPad T480", "finished_good").await;
    execute(&pool, "update catalog.products set category = 'laptops'").await;
    let variant = insert_variant(&pool, laptop, "T480-16-512", None).await;
    let customer: Uuid = sqlx::query_scalar(
        "insert into sales.customers (channel, external_id) values ('file_import', 'C-1') returning id",
    )
    .fetch_one(&pool)
    .await
    .expect("customer");
    for (external_id, placed_at, quantity) in [
        ("R-1", "2025-03-05T10:00:00Z", 2),
        ("R-2", "2025-03-05T23:30:00Z", 1),
        ("R-3", "2025-03-06T00:30:00Z", 4),
    ] {
        let order = insert_order(&pool, external_id, Some(customer), placed_at).await;
        insert_order_line(&pool, order, Some(variant), quantity).await;
    }
    let cancelled = insert_order(&pool, "R-4", Some(customer), "2025-03-05T12:00:00Z").await;
    insert_order_line(&pool, cancelled, Some(variant), 9).await;
    execute(
        &pool,
        "update sales.orders set status = 'CANCELED' where external_id = 'R-4'",
    )
    .await;
    execute(
        &pool,
        "update sales.orders set payment_method = 'mpesa' where external_id <> 'R-3'",
    )
    .await;

    let written: i32 = sqlx::query_scalar(
        "select analytics.refresh_sales_aggregates_daily('2025-03-05', '2025-03-07')",
    )
    .fetch_one(&pool)
    .await
    .expect("refresh");
    let rows: Vec<(String, String, String, Decimal, i32, i32, i32)> = sqlx::query_as(
        "select day::text, category, payment_method, revenue, units, order_count, unique_customers
         from analytics.sales_aggregates_daily order by day",
    )
    .fetch_all(&pool)
    .await
    .expect("aggregates");

    assert_eq!(written, 2);
    assert_eq!(
        rows,
        vec![
            (
                "2025-03-05".into(),
                "laptops".into(),
                "mpesa".into(),
                Decimal::from(30),
                3,
                2,
                1
            ),
            (
                "2025-03-06".into(),
                "laptops".into(),
                "other".into(),
                Decimal::from(40),
                4,
                1,
                1
            ),
        ]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_days_an_import_touched_are_each_recomputed_however_many_there_are(pool: PgPool) {
    let lamp = insert_product(&pool, "Desk lamp", "finished_good").await;
    let variant = insert_variant(&pool, lamp, "LAMP-1", None).await;
    // Twenty days, every other one: several statements' worth, none of them consecutive.
    let days: Vec<chrono::NaiveDate> = (0..20)
        .map(|n| chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap() + chrono::Days::new(2 * n))
        .collect();
    let mut touched = sellerops::flows::sales_aggregates::SalesDays::new();
    for (n, day) in days.iter().enumerate() {
        let order = insert_order(&pool, &format!("R-{n}"), None, &format!("{day}T12:00:00Z")).await;
        insert_order_line(&pool, order, Some(variant), 1).await;
        touched.touch(*day);
    }
    sqlx::query("insert into analytics.sales_days_to_refresh (day) select unnest($1::date[])")
        .bind(&days)
        .execute(&pool)
        .await
        .expect("note the days");

    let mut tx = pool.begin().await.expect("begin");
    let written = touched.refresh(&mut tx).await.expect("refresh");
    tx.commit().await.expect("commit");

    let refreshed: Vec<chrono::NaiveDate> =
        sqlx::query_scalar("select day from analytics.sales_aggregates_daily order by day")
            .fetch_all(&pool)
            .await
            .expect("aggregates");
    assert_eq!(refreshed, days);
    assert_eq!(written, 20);
    let notes: i64 = sqlx::query_scalar("select count(*) from analytics.sales_days_to_refresh")
        .fetch_one(&pool)
        .await
        .expect("notes");
    assert_eq!(notes, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn refreshing_the_noted_days_of_a_range_recomputes_each_and_takes_only_their_notes(
    pool: PgPool,
) {
    // Arrange: an order on each of 5, 6 and 9 March; those days noted (6 March twice)
    // and 1 April too, outside the range refreshed.
    let laptop = insert_product(&pool, "ThinkPad T480", "finished_good").await;
    let variant = insert_variant(&pool, laptop, "T480-16-512", None).await;
    for (external_id, placed_at) in [
        ("R-1", "2025-03-05T10:00:00Z"),
        ("R-2", "2025-03-06T10:00:00Z"),
        ("R-3", "2025-03-09T10:00:00Z"),
    ] {
        let order = insert_order(&pool, external_id, None, placed_at).await;
        insert_order_line(&pool, order, Some(variant), 1).await;
    }
    execute(
        &pool,
        "insert into analytics.sales_days_to_refresh (day)
         values ('2025-03-09'), ('2025-03-06'), ('2025-03-05'), ('2025-03-06'), ('2025-04-01')",
    )
    .await;

    // Act
    let days: i32 =
        sqlx::query_scalar("select analytics.refresh_stale_sales_days('2025-03-01', '2025-04-01')")
            .fetch_one(&pool)
            .await
            .expect("refresh");

    // Assert
    assert_eq!(days, 3);
    let aggregated: Vec<String> =
        sqlx::query_scalar("select day::text from analytics.sales_aggregates_daily order by day")
            .fetch_all(&pool)
            .await
            .expect("aggregates");
    assert_eq!(aggregated, ["2025-03-05", "2025-03-06", "2025-03-09"]);
    let noted: Vec<String> =
        sqlx::query_scalar("select day::text from analytics.sales_days_to_refresh")
            .fetch_all(&pool)
            .await
            .expect("notes");
    assert_eq!(noted, ["2025-04-01"]);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn refreshing_given_days_takes_their_notes_and_leaves_the_others(pool: PgPool) {
    // Arrange: an order on 6 March; 6 and 7 March noted (as by webhooks).
    let laptop = insert_product(&pool, "ThinkPad T480", "finished_good").await;
    let variant = insert_variant(&pool, laptop, "T480-16-512", None).await;
    let order = insert_order(&pool, "R-1", None, "2025-03-06T10:00:00Z").await;
    insert_order_line(&pool, order, Some(variant), 2).await;
    execute(
        &pool,
        "insert into analytics.sales_days_to_refresh (day) values ('2025-03-06'), ('2025-03-07')",
    )
    .await;

    // Act: what an import of 5 and 6 March does as its file completes.
    let written: i32 = sqlx::query_scalar(
        "select analytics.refresh_sales_days(array['2025-03-06', '2025-03-05']::date[])",
    )
    .fetch_one(&pool)
    .await
    .expect("refresh");

    // Assert
    assert_eq!(written, 1);
    let units: i32 = sqlx::query_scalar(
        "select units from analytics.sales_aggregates_daily where day = '2025-03-06'",
    )
    .fetch_one(&pool)
    .await
    .expect("the day's row");
    assert_eq!(units, 2);
    let noted: Vec<String> =
        sqlx::query_scalar("select day::text from analytics.sales_days_to_refresh")
            .fetch_all(&pool)
            .await
            .expect("notes");
    assert_eq!(noted, ["2025-03-07"]);
}
