//! `make bench-pricing`: a full price evaluation of a large catalogue, set-based.
//!
//! 1. Creates a database of its own on the local stack's server (dropped and made
//!    afresh each run), with the migrations.
//! 2. Seeds it in SQL: `LISTINGS` listings (100,000 by default), each a variant
//!    assembled from two bought parts and a sub-assembly (itself two parts), parts'
//!    supplier prices (some expired, replaced by a current one), about one listing in
//!    fifty without any cost, stock levels, ten categories and tags, 10 price rules of
//!    every type and scope, and one or two competitor offers on three listings in five
//!    (the seller's own among them).
//! 3. Evaluates every listing and prints the time of each phase (load, evaluate,
//!    write), then `total: <seconds> s` and `peak RSS: <MiB> MiB` (VmHWM of this
//!    process), and the CPU time spent here and in the database's server processes.
//! 4. Evaluates again as the schedule does, with nothing changed, and prints its time
//!    and the rows written (0): nothing the evaluation reads changed, so it stops at
//!    once.
//! 5. Decides every listing again all the same, and prints its time and the rows
//!    written (0): each decision is found as stored.
//!
//! Targets: 3 s and 128 MB for the full evaluation, 1 s for the second run.

use std::collections::HashMap;
use std::time::Instant;

use chrono::Utc;
use sellerops::flows::pricing::{evaluate_prices, EvaluationOptions, EvaluationReport, Selection};
use sellerops_tests::bench::{Figure, Target};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

const DATABASE: &str = "sellerops_bench_pricing";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listings: i64 = std::env::var("LISTINGS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| "DATABASE_URL is not set: source infra/local/env.sh")?;
    let bench_url = with_database(&url, DATABASE);

    let mut admin = PgConnection::connect(&url).await?;
    sqlx::query(&format!("drop database if exists {DATABASE} with (force)"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("create database {DATABASE}"))
        .execute(&mut admin)
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .connect(&bench_url)
        .await?;
    sellerops::MIGRATOR.run(&pool).await?;

    let started = Instant::now();
    seed(&pool, listings).await?;
    println!(
        "seeded {listings} listings, their bills of materials, 10 rules and competitor offers in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let cpu = CpuClock::start(&mut admin).await?;
    let started = Instant::now();
    let first = run(&pool, Selection::AllUnlessUnchanged).await?;
    let total = started.elapsed();
    let first_cpu = cpu.stop(&mut admin).await?;
    println!("full evaluation: {} listings, {} decisions, {} apply messages; {} without landed cost, {} bounds conflicts",
        first.listings, first.written.decisions, first.written.apply_messages,
        first.no_landed_cost, first.bounds_conflicts);
    print_phases(&first);
    first_cpu.print();
    println!("total: {:.3} s", total.as_secs_f64());
    println!("peak RSS: {:.1} MiB", peak_rss_kib() as f64 / 1024.0);

    let cpu = CpuClock::start(&mut admin).await?;
    let started = Instant::now();
    let second = run(&pool, Selection::AllUnlessUnchanged).await?;
    let again = started.elapsed();
    let second_cpu = cpu.stop(&mut admin).await?;
    println!("second run, nothing changed:");
    print_phases(&second);
    second_cpu.print();
    println!(
        "second run: {:.3} s, {}, rows written: {}",
        again.as_secs_f64(),
        if second.nothing_changed {
            "nothing read changed since the first: no listing loaded".to_owned()
        } else {
            format!("{} listings unchanged", second.unchanged)
        },
        second.rows_written()
    );
    // Asked to decide every listing all the same, the run finds every decision as it is
    // stored and writes nothing: the work a change to one input costs at most.
    let started = Instant::now();
    let forced = run(&pool, Selection::All).await?;
    println!(
        "third run, every listing decided again all the same: {:.3} s, {} listings unchanged, rows written: {}",
        started.elapsed().as_secs_f64(),
        forced.unchanged,
        forced.rows_written()
    );
    print_phases(&forced);
    println!();
    let name = format!("price evaluation, {listings} listings");
    for (name, value, unit, target) in [
        (name.clone(), total.as_secs_f64(), "s", Target::AtMost(3.0)),
        (
            format!("{name}, peak RSS"),
            peak_rss_kib() as f64 / 1024.0,
            "MiB",
            Target::AtMost(128.0),
        ),
        (
            format!("{name}, again with nothing changed"),
            again.as_secs_f64(),
            "s",
            Target::AtMost(1.0),
        ),
        (
            format!("{name}, rows written again"),
            second.rows_written() as f64,
            "rows",
            Target::AtMost(0.0),
        ),
    ] {
        Figure {
            name: &name,
            value,
            unit,
            anchor: None,
            target,
        }
        .print();
    }

    pool.close().await;
    if std::env::var("KEEP").is_err() {
        sqlx::query(&format!("drop database if exists {DATABASE} with (force)"))
            .execute(&mut admin)
            .await?;
    }
    Ok(())
}

async fn run(
    pool: &PgPool,
    selection: Selection<'_>,
) -> Result<EvaluationReport, Box<dyn std::error::Error>> {
    Ok(evaluate_prices(pool, selection, Utc::now(), EvaluationOptions::default()).await?)
}

fn print_phases(report: &EvaluationReport) {
    println!("  load:     {:.3} s", report.times.load.as_secs_f64());
    println!("  evaluate: {:.3} s", report.times.evaluate.as_secs_f64());
    println!("  write:    {:.3} s", report.times.write.as_secs_f64());
}

/// CPU time spent by this process and by the database's server processes serving the
/// benchmark's database, so that a run on a busy machine (whose wall-clock times
/// stretch with the load) can still be compared with another. Parallel query workers,
/// gone before the run ends, are not counted.
struct CpuClock {
    process: f64,
    backends: HashMap<i32, f64>,
}

/// CPU seconds of one run: this process, and the database server's.
struct CpuSpent {
    process: f64,
    database: f64,
}

impl CpuClock {
    async fn start(admin: &mut PgConnection) -> Result<Self, sqlx::Error> {
        Ok(Self {
            process: cpu_seconds("self"),
            backends: backend_cpu(admin).await?,
        })
    }

    async fn stop(self, admin: &mut PgConnection) -> Result<CpuSpent, sqlx::Error> {
        let now = backend_cpu(admin).await?;
        let database = now
            .iter()
            .map(|(pid, cpu)| cpu - self.backends.get(pid).copied().unwrap_or(0.0))
            .sum();
        Ok(CpuSpent {
            process: cpu_seconds("self") - self.process,
            database,
        })
    }
}

impl CpuSpent {
    fn print(&self) {
        println!(
            "  cpu:      {:.3} s here, {:.3} s in the database (the server on this machine)",
            self.process, self.database
        );
    }
}

/// CPU seconds of each server process connected to the benchmark's database (read from
/// /proc: the server runs on this machine).
async fn backend_cpu(admin: &mut PgConnection) -> Result<HashMap<i32, f64>, sqlx::Error> {
    let pids: Vec<i32> = sqlx::query_scalar("select pid from pg_stat_activity where datname = $1")
        .bind(DATABASE)
        .fetch_all(admin)
        .await?;
    Ok(pids
        .into_iter()
        .map(|pid| (pid, cpu_seconds(&pid.to_string())))
        .collect())
}

/// User and system CPU seconds of process `pid` (or `self`), 0 when unknown.
fn cpu_seconds(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

/// `url` naming database `name` instead (any `?query` kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// VmHWM of this process, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

async fn seed(pool: &PgPool, listings: i64) -> Result<(), sqlx::Error> {
    let statements = [
        "insert into inventory.suppliers (name, code) values ('Parts Co', 'PARTS'), ('Importer', 'IMPORT')",
        // 2,000 bought parts and 200 sub-assemblies.
        "insert into catalog.products (id, name, product_kind, category)
         select gen_random_uuid(), 'part ' || n, 'component', 'parts' from generate_series(1, 2200) n",
        "insert into catalog.product_variants (product_id, internal_sku)
         select id, 'P-' || row_number() over (order by id) from catalog.products",
        "insert into inventory.component_prices
             (component_variant_id, supplier_id, unit_cost, valid_from, valid_to, import_duty_pct, shipping_cost)
         select v.id, s.id, 1 + (n % 40), date '2000-01-01', null, (n % 3) * 2.5, (n % 5) * 0.25
         from (select id, row_number() over (order by id) n from catalog.product_variants
               where internal_sku like 'P-%') v
         cross join (select id from inventory.suppliers where code = 'PARTS') s
         where v.n <= 2000",
        // Every tenth part's older, cheaper price ran out.
        "insert into inventory.component_prices
             (component_variant_id, supplier_id, unit_cost, valid_from, valid_to)
         select component_variant_id, (select id from inventory.suppliers where code = 'IMPORT'),
                unit_cost / 2, date '1999-01-01', date '1999-12-31'
         from inventory.component_prices
         where right(component_variant_id::text, 1) = '0'",
        "create temporary table parts as
         select v.id, row_number() over (order by v.id) - 1 as n
         from catalog.product_variants v
         join inventory.component_prices cp on cp.component_variant_id = v.id and cp.valid_to is null",
        "create temporary table assemblies as
         select v.id, row_number() over (order by v.id) - 1 as n
         from catalog.product_variants v
         where v.internal_sku like 'P-%'
           and not exists (select 1 from inventory.component_prices cp where cp.component_variant_id = v.id)",
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity)
         select a.id, p.id, 1 + (a.n % 2)
         from assemblies a join parts p on p.n in ((a.n * 7) % 2000, (a.n * 7 + 3) % 2000)",
        // The finished goods: ten categories, tags, one variant each.
        "insert into catalog.products (id, name, category, tags, product_kind)
         select gen_random_uuid(), 'laptop ' || n, 'category-' || (n % 10),
                case when n % 4 = 0 then array['clearance'] when n % 4 = 1 then array['refurb', 'bundle']
                     else array['refurb'] end,
                'finished_good'
         from generate_series(1, $1) n",
        "insert into catalog.product_variants (product_id, internal_sku)
         select id, 'G-' || id from catalog.products where product_kind = 'finished_good'",
        "create temporary table goods as
         select v.id, row_number() over (order by v.id) as n
         from catalog.product_variants v where v.internal_sku like 'G-%'",
        // Each good: two parts and one sub-assembly; one in fifty has no bill at all.
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity)
         select g.id, p.id, 1 + (g.n % 3)
         from goods g join parts p on p.n in ((g.n * 13) % 2000, (g.n * 13 + 5) % 2000)
         where g.n % 50 <> 0",
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity)
         select g.id, a.id, 1
         from goods g join assemblies a on a.n = g.n % 200
         where g.n % 50 <> 0",
        "insert into inventory.stock_levels (variant_id, on_hand)
         select id, n % 40 from goods",
        "insert into catalog.shop_sku_map (id, channel, shop_sku, variant_id)
         select gen_random_uuid(), case when n % 3 = 0 then 'bestbuy_ca' else 'amazon' end,
                'SKU-' || n, id
         from goods",
        "insert into pricing.current_prices (listing_id, price, min_price, max_price, margin_floor_pct)
         select l.id, 150 + (g.n % 200), case when g.n % 7 = 0 then 120 end,
                case when g.n % 11 = 0 then 400 end, case when g.n % 13 = 0 then 25 end
         from catalog.shop_sku_map l join goods g on g.id = l.variant_id",
        // Competitors on three listings in five; the seller's own offer on one in ten.
        "update ops.settings set value = '[\"SELF\"]' where key = 'pricing.own_seller_ids'",
        "with made as (
             insert into competitors.products (channel, external_id, seller_id, current_price,
                                               buy_box_price, buy_box_seller)
             select 'amazon', 'ASIN-' || g.n || '-' || k,
                    case when k = 2 and g.n % 2 = 0 then 'SELF' else 'RIVAL-' || (g.n % 97) || '-' || k end,
                    140 + (g.n % 180) + k * 3, case when k = 1 then 145 + (g.n % 180) end,
                    case when k = 1 then 'RIVAL-' || (g.n % 97) || '-' || k end
             from goods g cross join generate_series(1, 2) k
             where g.n % 5 < 3 and (k = 1 or g.n % 10 < 6)
             returning id, external_id
         )
         insert into competitors.tracked_listings (competitor_id, listing_id)
         select made.id, l.id
         from made
         join goods g on g.n = split_part(made.external_id, '-', 2)::bigint
         join catalog.shop_sku_map l on l.variant_id = g.id",
        // Ten rules, every type and scope.
        "insert into pricing.price_rules (name, applies_to, scope_value, rule_type, config, priority) values
           ('floor 18', 'all', null, 'margin_floor', '{\"min_margin_pct\": 18}', 100),
           ('floor clearance', 'tag', 'clearance', 'margin_floor', '{\"min_margin_pct\": 10}', 100),
           ('match lowest', 'all', null, 'competitor_match', '{}', 50),
           ('beat buy box', 'category', 'category-3', 'competitor_beat', '{\"against\": \"buy_box\", \"beat_by_pct\": 2}', 80),
           ('beat by a dollar', 'tag', 'bundle', 'competitor_beat', '{\"beat_by_amount\": 1}', 70),
           ('weekday morning', 'category', 'category-5', 'time_based', '{\"schedule\": \"0 9 * * 1-5\", \"duration_minutes\": 120, \"price_change_pct\": -5}', 90),
           ('every minute', 'category', 'category-7', 'time_based', '{\"schedule\": \"* * * * *\", \"duration_minutes\": 5, \"price_change_pct\": -3}', 60),
           ('scarce', 'all', null, 'inventory_based', '{\"when_below\": 5, \"price_change_pct\": 10}', 120),
           ('overstock', 'tag', 'refurb', 'inventory_based', '{\"when_above\": 35, \"price_change_pct\": -8}', 40),
           ('clearance beat', 'tag', 'clearance', 'competitor_beat', '{\"beat_by_pct\": 5}', 110)",
        // As a catalogue is between runs: its rows vacuumed and their visibility settled,
        // not each first read of a fresh insert setting it, page by page.
        "vacuum (analyze)",
    ];
    // Temporary tables live on one connection.
    let mut conn = pool.acquire().await?;
    for statement in statements {
        let query = sqlx::query(statement);
        let query = if statement.contains("$1") {
            query.bind(listings)
        } else {
            query
        };
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
