//! The pool's `lock_timeout` and `statement_timeout`: a row another attempt holds, or a
//! statement that runs too long, fails fast as retryable instead of waiting out the
//! invocation. And its idle connections: one the server closed while it sat idle is
//! replaced before it is handed out.

use std::time::{Duration, Instant};

use sellerops::ops::config::DatabaseSettings;
use sellerops::ops::errors::{Disposition, ProcessError};
use sqlx::PgPool;

/// The function pool's settings for the test's own database, with short timeouts.
fn settings_for(test_pool: &PgPool, statement: Duration, lock: Duration) -> DatabaseSettings {
    let database = test_pool
        .connect_options()
        .get_database()
        .expect("the test pool names its database")
        .to_owned();
    let mut url = reqwest::Url::parse(&std::env::var("DATABASE_URL").expect("DATABASE_URL"))
        .expect("DATABASE_URL is a URL");
    url.set_path(&database);
    DatabaseSettings {
        url: url.to_string().into(),
        max_connections: 1,
        statement_timeout: statement,
        lock_timeout: lock,
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_row_held_by_another_attempt_fails_fast_as_retryable(test_pool: PgPool) {
    // Arrange: another attempt holds the row.
    sqlx::query("create table lock_probe (id int primary key, note text)")
        .execute(&test_pool)
        .await
        .unwrap();
    sqlx::query("insert into lock_probe values (1, 'first')")
        .execute(&test_pool)
        .await
        .unwrap();
    let mut holder = test_pool.begin().await.unwrap();
    sqlx::query("select * from lock_probe where id = 1 for update")
        .execute(&mut *holder)
        .await
        .unwrap();
    let settings = settings_for(
        &test_pool,
        Duration::from_secs(30),
        Duration::from_millis(300),
    );
    let pool = sellerops::systems::db::pool(&settings, "lock-timeout-test").unwrap();

    // Act
    let started = Instant::now();
    let err = sqlx::query("update lock_probe set note = 'second' where id = 1")
        .execute(&pool)
        .await
        .unwrap_err();
    let waited = started.elapsed();

    // Assert: lock_not_available after the lock timeout, long before the statement
    // timeout; retryable, so the message goes back to its queue.
    let code = err.as_database_error().and_then(|db| db.code());
    assert_eq!(code.as_deref(), Some("55P03"), "{err}");
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    let err = ProcessError::database("updating the probe", err);
    assert_eq!(err.disposition(), Disposition::Retry);
    holder.rollback().await.unwrap();
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_statement_past_its_timeout_is_cancelled_as_retryable(test_pool: PgPool) {
    let settings = settings_for(
        &test_pool,
        Duration::from_millis(300),
        Duration::from_secs(2),
    );
    let pool = sellerops::systems::db::pool(&settings, "statement-timeout-test").unwrap();

    let started = Instant::now();
    let err = sqlx::query("select pg_sleep(10)")
        .execute(&pool)
        .await
        .unwrap_err();

    let code = err.as_database_error().and_then(|db| db.code());
    assert_eq!(code.as_deref(), Some("57014"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = ProcessError::database("sleeping", err);
    assert_eq!(err.disposition(), Disposition::Retry);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_connection_the_server_closed_while_idle_is_replaced_not_handed_out(test_pool: PgPool) {
    // Arrange: the function's one connection is used, then closed by the server (an RDS
    // idle cut, a failover) while the instance sits idle.
    let settings = settings_for(&test_pool, Duration::from_secs(10), Duration::from_secs(2));
    let pool = sellerops::systems::db::pool(&settings, "idle-test").unwrap();
    let backend: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let closed: bool = sqlx::query_scalar("select pg_terminate_backend($1)")
        .bind(backend)
        .fetch_one(&test_pool)
        .await
        .unwrap();
    assert!(closed);
    tokio::time::sleep(sellerops::systems::db::PING_AFTER_IDLE + Duration::from_millis(200)).await;

    // Act
    let next: Result<i32, _> = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&pool)
        .await;

    // Assert: the next event's query runs, on a new connection.
    let next = next.expect("the closed connection is replaced, not handed out");
    assert_ne!(next, backend);
}
