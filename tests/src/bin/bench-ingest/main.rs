//! Benchmark of the order-file import: `make bench-ingest ROWS=1000000`.
//!
//! 1. Writes a deterministic order file of ROWS rows (default 1,000,000) to disk and
//!    uploads it to the local S3.
//! 2. Imports it into a fresh database through the function's handler, in a child
//!    process, which reports its wall time and its peak resident memory (VmHWM).
//! 3. Loads the same file with `psql \copy` into one staging table of a second fresh
//!    database: the yardstick.
//! 4. Moves the staged rows into the real tables with a few `INSERT … SELECT`s
//!    (`sql_only_import.sql`): the least the database work itself can cost.
//! 5. Prints rows/s, peak RSS, the three times and the ratios.
//! 6. Times the file sellers actually drop, `SMALL_FILE_ROWS` rows, from the start of
//!    its upload to its rows committed: the S3 put, then the handler (in a child
//!    process, into a fresh database) on the event S3 sends. The median of
//!    `SMALL_FILE_RUNS`; the queue's delivery of the event, a deployment setting
//!    (long polling, batching window), is not included.
//! 7. For scale, a naive importer of `NAIVE_ROWS` rows: each row read and written on
//!    its own, statement by statement in autocommit (product, variant, customer, order,
//!    line), the daily aggregates refreshed once at the end. Its rows/s is what the
//!    set-based import is measured against in practice.
//!
//! `make bench-ingest-bomb` (`bench-ingest bomb`) instead imports two hostile gzip files
//! with the function's configured limits, each in a child process: one that expands to
//! 1 GiB of zeros, and one whose second row holds a 200 MiB field. It prints each
//! refusal and the importing process's peak RSS, which stays near that of a small
//! file's import: neither the text nor the field is ever held in memory.
//!
//! Needs the local stack (`infra/local/up.sh`, `source infra/local/env.sh`) and `psql`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use lambda_runtime::{Context, LambdaEvent};
use sellerops::flows::ingest::{ImportOptions, ObjectRef, OrderFileImporter};
use sellerops::ops::config::{FromEnvironment, IngestOrdersFileSettings};
use sellerops::systems::aws::AwsClients;
use sellerops_tests::bench::{Figure, Target};
use sellerops_tests::events::s3_event;
use sellerops_tests::order_files::{create_bucket, gzip_bomb, write_order_file, ScratchDatabase};
use sellerops_tests::{local_aws, stack_var};
use sqlx::postgres::PgPoolOptions;

const DEFAULT_ROWS: u64 = 1_000_000;
/// The import's time over a bare `psql \copy` of the same file into one table.
const COPY_RATIO_TARGET: f64 = 20.0;
/// The import's time over `INSERT ... SELECT` of the staged rows into the real tables: what
/// the schema itself costs.
const FLOOR_RATIO_TARGET: f64 = 1.2;
/// The size of file sellers drop, timed from upload to committed rows.
const SMALL_FILE_ROWS: u64 = 5_000;
const SMALL_FILE_RUNS: usize = 3;
/// The rows the naive per-row importer writes.
const NAIVE_ROWS: u64 = 50_000;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("import") => import_in_this_process(&args[2..]).await,
        Some("bomb") => run_bombs().await,
        _ => run_benchmark(args.get(1)).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench-ingest: {err}");
            ExitCode::FAILURE
        }
    }
}

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn run_benchmark(rows_arg: Option<&String>) -> BenchResult<()> {
    let rows: u64 = match rows_arg {
        Some(raw) => raw.replace('_', "").parse()?,
        None => DEFAULT_ROWS,
    };
    let work_dir = PathBuf::from(stack_var("SELLEROPS_LOCAL_DIR")).join("bench");
    std::fs::create_dir_all(&work_dir)?;
    let path = work_dir.join(format!("orders-{rows}.csv"));

    let started = Instant::now();
    let bytes = write_order_file(&path, rows)?;
    println!(
        "generated   {rows} rows, {:.1} MiB in {:.1}s ({})",
        bytes as f64 / 1_048_576.0,
        started.elapsed().as_secs_f64(),
        path.display()
    );

    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let key = format!("bench/orders-{rows}.csv");
    let put = aws
        .s3
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .body(ByteStream::from_path(&path).await?)
        .send()
        .await?;
    let object = ObjectRef {
        bucket: bucket.clone(),
        key: key.clone(),
        version_id: put.version_id().map(str::to_owned),
        etag: put.e_tag().map(|tag| tag.trim_matches('"').to_owned()),
        size: Some(i64::try_from(bytes)?),
    };

    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect(&stack_var("DATABASE_URL"))
        .await?;
    let imported_into = ScratchDatabase::create(&admin).await;
    let outcome = run_child_import(
        &scratch_url(&stack_var("DATABASE_URL"), &imported_into.pool),
        &object,
    );
    imported_into.drop().await;
    aws.s3
        .delete_object()
        .bucket(&bucket)
        .key(&key)
        .set_version_id(object.version_id.clone())
        .send()
        .await?;
    let _ = aws.s3.delete_bucket().bucket(&bucket).send().await;
    let import = outcome?;
    println!(
        "import      {:.2}s, {:.0} rows/s through the handler",
        import.seconds,
        rows as f64 / import.seconds
    );
    println!(
        "peak RSS    {:.1} MiB (VmHWM of the importing process)",
        import.peak_rss_kib as f64 / 1024.0
    );
    println!(
        "CPU time    {:.2}s in the importing process ({:.0}% of its wall time; the rest is \
         waiting on PostgreSQL and S3)",
        import.cpu_seconds,
        100.0 * import.cpu_seconds / import.seconds
    );

    let staged_into = ScratchDatabase::create(&admin).await;
    let staged_url = scratch_url(&stack_var("DATABASE_URL"), &staged_into.pool);
    let copy_seconds = time_psql_copy(&staged_url, &path);
    let sql_seconds = copy_seconds
        .as_ref()
        .ok()
        .map(|_| time_psql_script(&staged_url, include_str!("sql_only_import.sql")));
    staged_into.drop().await;
    let copy_seconds = copy_seconds?;
    println!("psql \\copy  {copy_seconds:.2}s into one staging table");
    println!(
        "ratio       {:.1}x the \\copy time (target: at most {COPY_RATIO_TARGET}x)",
        import.seconds / copy_seconds
    );
    let sql_seconds = sql_seconds.transpose()?;
    if let Some(sql_seconds) = sql_seconds {
        println!(
            "SQL only    {sql_seconds:.2}s to move the staged rows into the real tables with \
             INSERT ... SELECT; the import takes {:.1}x that (target: at most {FLOOR_RATIO_TARGET}x)",
            import.seconds / sql_seconds
        );
    }
    println!();
    let name = format!("order-file import, {rows} rows");
    Figure {
        name: &name,
        value: import.seconds,
        unit: "s",
        anchor: Some(("psql \\copy into one table", copy_seconds)),
        target: Target::RatioAtMost(COPY_RATIO_TARGET),
    }
    .print();
    if let Some(sql_seconds) = sql_seconds {
        Figure {
            name: &name,
            value: import.seconds,
            unit: "s",
            anchor: Some(("the schema's floor (INSERT ... SELECT)", sql_seconds)),
            target: Target::RatioAtMost(FLOOR_RATIO_TARGET),
        }
        .print();
    }
    Figure {
        name: &format!("order-file import peak RSS, {rows} rows"),
        value: import.peak_rss_kib as f64 / 1024.0,
        unit: "MiB",
        anchor: None,
        target: Target::AtMost(64.0),
    }
    .print();
    let latency = small_file_latency(&aws, &admin, &work_dir).await?;
    Figure {
        name: &format!(
            "order file of {SMALL_FILE_ROWS} rows, upload to committed rows (median of \
             {SMALL_FILE_RUNS}; queue delivery not included)"
        ),
        value: latency,
        unit: "s",
        anchor: None,
        target: Target::None,
    }
    .print();
    let naive = naive_rows_per_second(&admin, &work_dir).await?;
    println!(
        "naive       {NAIVE_ROWS} rows one at a time: {naive:.0} rows/s; the import above ran \
         at {:.0} rows/s ({:.1}x)",
        rows as f64 / import.seconds,
        rows as f64 / import.seconds / naive
    );
    Figure {
        name: &format!("a naive per-row importer, {NAIVE_ROWS} rows, for scale (rows/s)"),
        value: naive,
        unit: "rows/s",
        anchor: None,
        target: Target::None,
    }
    .print();
    Ok(())
}

/// The rows per second of the simplest importer one would write: every row of a
/// `NAIVE_ROWS`-row file read and written on its own, one statement at a time in
/// autocommit, into a fresh database with the real schema; the daily aggregates
/// refreshed once at the end. No validation, no errors, no exactly-once bookkeeping,
/// and sha256 standing in for the keyed hash, as in `sql_only_import.sql`.
async fn naive_rows_per_second(admin: &sqlx::PgPool, work_dir: &Path) -> BenchResult<f64> {
    let path = work_dir.join(format!("orders-{NAIVE_ROWS}.csv"));
    write_order_file(&path, NAIVE_ROWS)?;
    let database = ScratchDatabase::create(admin).await;
    let result = naive_import(&database.pool, &path).await;
    database.drop().await;
    let (rows, seconds) = result?;
    Ok(rows as f64 / seconds)
}

/// Imports the file row by row; returns the rows written and the seconds it took.
async fn naive_import(pool: &sqlx::PgPool, path: &Path) -> BenchResult<(u64, f64)> {
    let mut connection = pool.acquire().await?;
    let file = tokio::fs::File::open(path).await?;
    let mut reader = csv_async::AsyncReaderBuilder::new()
        .has_headers(true)
        .create_reader(file);
    let mut record = csv_async::StringRecord::new();
    let started = Instant::now();
    let mut rows = 0_u64;
    while reader.read_record(&mut record).await? {
        let field = |index: usize| record.get(index).unwrap_or_default().to_owned();
        let (order_ref, order_date, email, region) = (field(0), field(1), field(2), field(3));
        let (sku, name, category, quantity) = (field(4), field(5), field(6), field(7));
        let (unit_price, payment_method, currency) = (field(8), field(9), field(10));
        sqlx::query(
            "insert into catalog.products (sku, name, category, base_price, currency)
             values ($1, $2, $3, $4::numeric, $5) on conflict (sku) do nothing",
        )
        .bind(&sku)
        .bind(&name)
        .bind(&category)
        .bind(&unit_price)
        .bind(&currency)
        .execute(&mut *connection)
        .await?;
        sqlx::query(
            "insert into catalog.product_variants
                 (product_id, internal_sku, name, list_price, currency)
             select id, sku, name, base_price, currency from catalog.products where sku = $1
             on conflict (internal_sku) do nothing",
        )
        .bind(&sku)
        .execute(&mut *connection)
        .await?;
        let customer_id: uuid::Uuid = sqlx::query_scalar(
            "insert into sales.customers (channel, email_hash, region, first_order_at, last_order_at)
             values ('file_import', sha256(convert_to(lower(btrim($1)), 'UTF8')), $2,
                     $3::timestamptz, $3::timestamptz)
             on conflict (email_hash) where email_hash is not null do update set
                 first_order_at = least(sales.customers.first_order_at, excluded.first_order_at),
                 last_order_at = greatest(sales.customers.last_order_at, excluded.last_order_at)
             returning id",
        )
        .bind(&email)
        .bind(&region)
        .bind(&order_date)
        .fetch_one(&mut *connection)
        .await?;
        let order_id: uuid::Uuid = sqlx::query_scalar(
            "insert into sales.orders
                 (channel, external_id, customer_id, status, currency, total_amount,
                  payment_method, placed_at)
             values ('file_import', $1, $7, 'imported', $2, $3::int * $4::numeric,
                    case regexp_replace(lower($5), '[^a-z]', '', 'g')
                        when 'mpesa' then 'mpesa' when 'paystack' then 'paystack'
                        when 'card' then 'card' when 'banktransfer' then 'bank_transfer'
                        else 'other' end,
                    $6::timestamptz)
             on conflict (channel, external_id) do update
                 set total_amount = sales.orders.total_amount + excluded.total_amount
             returning id",
        )
        .bind(&order_ref)
        .bind(&currency)
        .bind(&quantity)
        .bind(&unit_price)
        .bind(&payment_method)
        .bind(&order_date)
        .bind(customer_id)
        .fetch_one(&mut *connection)
        .await?;
        sqlx::query(
            "insert into sales.order_lines
                 (order_id, line_number, external_line_id, sku, variant_id, title, quantity,
                  unit_price, currency, line_total)
             values ($1, (select count(*) + 1 from sales.order_lines where order_id = $1),
                     $2, $2, (select id from catalog.product_variants where internal_sku = $2),
                     $3, $4::int, $5::numeric, $6, $4::int * $5::numeric)
             on conflict do nothing",
        )
        .bind(order_id)
        .bind(&sku)
        .bind(&name)
        .bind(&quantity)
        .bind(&unit_price)
        .bind(&currency)
        .execute(&mut *connection)
        .await?;
        rows += 1;
    }
    sqlx::query(
        "select analytics.refresh_sales_aggregates_daily(
             (select min(placed_at at time zone 'UTC')::date from sales.orders),
             (select max(placed_at at time zone 'UTC')::date + 1 from sales.orders))",
    )
    .execute(&mut *connection)
    .await?;
    Ok((rows, started.elapsed().as_secs_f64()))
}

/// The median time from the start of a `SMALL_FILE_ROWS`-row file's upload to its rows
/// committed by the handler, each run into a fresh database.
async fn small_file_latency(
    aws: &AwsClients,
    admin: &sqlx::PgPool,
    work_dir: &Path,
) -> BenchResult<f64> {
    let path = work_dir.join(format!("orders-{SMALL_FILE_ROWS}.csv"));
    let bytes = write_order_file(&path, SMALL_FILE_ROWS)?;
    let bucket = create_bucket(aws, true).await;
    let mut runs = Vec::with_capacity(SMALL_FILE_RUNS);
    for run in 0..SMALL_FILE_RUNS {
        let database = ScratchDatabase::create(admin).await;
        let key = format!("bench/small-{run}.csv");
        let started = Instant::now();
        let put = aws
            .s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(ByteStream::from_path(&path).await?)
            .send()
            .await?;
        let uploaded = started.elapsed().as_secs_f64();
        let object = ObjectRef {
            bucket: bucket.clone(),
            key,
            version_id: put.version_id().map(str::to_owned),
            etag: put.e_tag().map(|tag| tag.trim_matches('"').to_owned()),
            size: Some(i64::try_from(bytes)?),
        };
        let import = run_child_import(
            &scratch_url(&stack_var("DATABASE_URL"), &database.pool),
            &object,
        );
        database.drop().await;
        let import = import?;
        println!(
            "small file  {SMALL_FILE_ROWS} rows: upload {:.3}s + handler to commit {:.3}s = {:.3}s",
            uploaded,
            import.seconds,
            uploaded + import.seconds
        );
        runs.push(uploaded + import.seconds);
    }
    let versions = aws.s3.list_object_versions().bucket(&bucket).send().await?;
    for version in versions.versions() {
        let _ = aws
            .s3
            .delete_object()
            .bucket(&bucket)
            .key(version.key().unwrap_or_default())
            .set_version_id(version.version_id().map(str::to_owned))
            .send()
            .await;
    }
    let _ = aws.s3.delete_bucket().bucket(&bucket).send().await;
    runs.sort_by(f64::total_cmp);
    Ok(runs[runs.len() / 2])
}

/// Imports each hostile file into a fresh database and prints how it was refused and
/// the importing process's peak memory.
async fn run_bombs() -> BenchResult<()> {
    let good = "BOMB-1,2026-01-05,jane@example.com,Nairobi,SKU-1,Lamp,Lighting,1,10,card,KES\n";
    let field_row = format!("{good}BOMB-2,2026-01-05,jane@example.com,Nairobi,SKU-1,\"");
    let files = [
        ("1 GiB of zeros", gzip_bomb("", 0, 1024, "").await),
        (
            "a 200 MiB field",
            gzip_bomb(&field_row, b'x', 200, "\",Lighting,1,10,card,KES\n").await,
        ),
    ];
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect(&stack_var("DATABASE_URL"))
        .await?;
    for (name, body) in files {
        let gzip_bytes = body.len();
        let key = format!("bench/bomb-{}.csv.gz", name.replace(' ', "-"));
        let put = aws
            .s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(ByteStream::from(body))
            .send()
            .await?;
        let object = ObjectRef {
            bucket: bucket.clone(),
            key,
            version_id: put.version_id().map(str::to_owned),
            etag: put.e_tag().map(|tag| tag.trim_matches('"').to_owned()),
            size: Some(i64::try_from(gzip_bytes)?),
        };
        let scratch = ScratchDatabase::create(&admin).await;
        let outcome = run_child(
            &scratch_url(&stack_var("DATABASE_URL"), &scratch.pool),
            &object,
            "failed",
        );
        scratch.drop().await;
        let import = outcome?;
        println!(
            "bomb        {name} ({:.1} KiB of gzip): refused in {:.2}s, peak RSS {:.1} MiB",
            gzip_bytes as f64 / 1024.0,
            import.seconds,
            import.peak_rss_kib as f64 / 1024.0
        );
    }
    let _ = aws.s3.delete_bucket().bucket(&bucket).send().await;
    Ok(())
}

struct ChildImport {
    seconds: f64,
    peak_rss_kib: u64,
    cpu_seconds: f64,
}

/// Runs the import in a child process, so that its peak memory is the import's alone.
fn run_child_import(database_url: &str, object: &ObjectRef) -> BenchResult<ChildImport> {
    run_child(database_url, object, "completed")
}

/// The same, for an import expected to end as `expected` (`completed`, `failed`).
fn run_child(database_url: &str, object: &ObjectRef, expected: &str) -> BenchResult<ChildImport> {
    let output = Command::new(std::env::current_exe()?)
        .arg("import")
        .arg(&object.bucket)
        .arg(&object.key)
        .arg(object.version_id.as_deref().unwrap_or(""))
        .arg(object.etag.as_deref().unwrap_or(""))
        .arg(expected)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "the import failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let line = stdout
        .lines()
        .find(|line| line.starts_with("import-result "))
        .ok_or_else(|| format!("no result from the import: {stdout}"))?;
    let mut parts = line.split_whitespace().skip(1);
    let seconds = parts.next().ok_or("no time")?.parse()?;
    let peak_rss_kib = parts.next().ok_or("no peak RSS")?.parse()?;
    let cpu_seconds = parts.next().ok_or("no CPU time")?.parse()?;
    let outcome = parts.collect::<Vec<_>>().join(" ");
    println!("outcome     {outcome}");
    Ok(ChildImport {
        seconds,
        peak_rss_kib,
        cpu_seconds,
    })
}

/// The child: builds the function's state as `main` does and invokes the handler with a
/// direct S3 event for the object.
async fn import_in_this_process(args: &[String]) -> BenchResult<()> {
    let [bucket, key, version, etag, expected] = args else {
        return Err(
            "usage: bench-ingest import <bucket> <key> <version> <etag> <completed|failed>".into(),
        );
    };
    sellerops::ops::telemetry::init();
    let settings = IngestOrdersFileSettings::from_env()?;
    let pool = sellerops::systems::db::pool(&settings.database, "bench-ingest")?;
    let aws = AwsClients::from_env(settings.aws.endpoint_url.as_deref()).await;
    let batch_rows = std::env::var("BATCH_ROWS")
        .ok()
        .and_then(|raw| raw.parse().ok())
        .unwrap_or(ImportOptions::default().batch_rows);
    let importer = OrderFileImporter::new(
        pool,
        aws.s3,
        settings.email_hash_pepper,
        settings.default_currency,
    )
    .with_options(ImportOptions {
        batch_rows,
        limits: settings.limits,
        ..ImportOptions::default()
    });
    let object = ObjectRef {
        bucket: bucket.clone(),
        key: key.clone(),
        version_id: Some(version.clone()).filter(|v| !v.is_empty()),
        etag: Some(etag.clone()).filter(|e| !e.is_empty()),
        size: None,
    };

    let started = Instant::now();
    let response = ingest_orders_file::handle(
        &importer,
        LambdaEvent::new(s3_event(&[&object]), Context::default()),
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let result = &response["results"][0];
    if result["outcome"] != expected.as_str() {
        return Err(format!("import did not end as {expected}: {response}").into());
    }
    let summary = match expected.as_str() {
        "completed" => format!(
            "total={} processed={} failed={}",
            result["total_rows"], result["processed_rows"], result["failed_rows"]
        ),
        _ => format!("{}: {}", result["outcome"], result["reason"]),
    };
    println!(
        "import-result {seconds} {} {} {summary}",
        peak_rss_kib()?,
        cpu_seconds()?,
    );
    Ok(())
}

/// VmHWM: this process's peak resident set size, in KiB.
fn peak_rss_kib() -> BenchResult<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .ok_or("no VmHWM in /proc/self/status")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("malformed VmHWM")?
        .parse()?)
}

/// The user and system CPU time of all of this process's threads so far, in seconds:
/// fields 14 and 15 of `/proc/self/stat`, in the kernel's fixed 100 ticks a second.
fn cpu_seconds() -> BenchResult<f64> {
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name (field 2) may hold spaces; the fields after it do not.
    let after_name = stat.rsplit_once(')').ok_or("malformed /proc/self/stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> BenchResult<f64> {
        Ok(fields
            .get(index)
            .ok_or("short /proc/self/stat")?
            .parse::<u64>()? as f64)
    };
    // Field 3 (state) is index 0 here, so utime (14) and stime (15) are 11 and 12.
    Ok((ticks(11)? + ticks(12)?) / TICKS_PER_SECOND)
}

/// Times `psql \copy` of the file into a staging table of text columns.
fn time_psql_copy(database_url: &str, path: &Path) -> BenchResult<f64> {
    let psql = |command: &str| {
        Command::new("psql")
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                database_url,
                "-c",
                command,
            ])
            .status()
    };
    let create = psql(
        "create table public.bench_order_file_staging (order_ref text, order_date text,
             customer_email text, customer_region text, sku text, product_name text,
             category text, quantity text, unit_price text, payment_method text, currency text)",
    )?;
    if !create.success() {
        return Err("psql could not create the staging table".into());
    }
    let started = Instant::now();
    let copied = psql(&format!(
        "\\copy public.bench_order_file_staging from '{}' with (format csv, header true)",
        path.display()
    ))?;
    let seconds = started.elapsed().as_secs_f64();
    if !copied.success() {
        return Err("psql \\copy failed".into());
    }
    Ok(seconds)
}

/// Times a SQL script run by `psql` in one transaction.
fn time_psql_script(database_url: &str, script: &str) -> BenchResult<f64> {
    let started = Instant::now();
    let mut child = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-1",
            "-v",
            "ON_ERROR_STOP=1",
            database_url,
            "-f",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("no stdin for psql")?
        .write_all(script.as_bytes())?;
    let status = child.wait()?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err("the SQL-only import failed".into());
    }
    Ok(seconds)
}

/// `DATABASE_URL` with the scratch database's name in place of its own.
fn scratch_url(database_url: &str, scratch: &sqlx::PgPool) -> String {
    let name = scratch
        .connect_options()
        .get_database()
        .unwrap_or_default()
        .to_owned();
    let (base, query) = match database_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (database_url, String::new()),
    };
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    format!("{server}/{name}{query}")
}
