//! Customer emails are stored only as keyed hashes.

use secrecy::SecretString;
use sellerops::model::channel::Channel;
use sellerops::model::customer_email::{CustomerEmail, EmailPepper};
use sellerops::model::customers::{
    record_customer, record_customer_visits, CustomerSighting, CustomerVisit,
};
use sqlx::PgPool;

fn pepper() -> EmailPepper {
    EmailPepper::new(SecretString::from("pepper-for-the-integration-tests"))
}

/// Every row of every table in the project's schemas, as text.
async fn whole_database_as_text(pool: &PgPool) -> String {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "select table_schema::text, table_name::text from information_schema.tables
         where table_type = 'BASE TABLE'
           and table_schema in ('sales', 'catalog', 'inventory', 'pricing', 'competitors',
                                'support', 'etl', 'ingest', 'analytics', 'workflow', 'ops')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(
        tables.len() > 20,
        "expected the unified schema, found {} tables",
        tables.len()
    );
    let mut dump = String::new();
    for (schema, table) in tables {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!(r#"select t::text from "{schema}"."{table}" t"#))
                .fetch_all(pool)
                .await
                .unwrap();
        for row in rows {
            dump.push_str(&row);
            dump.push('\n');
        }
    }
    dump
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn one_address_in_any_case_or_spacing_is_one_customer(pool: PgPool) {
    // Arrange
    let pepper = pepper();
    let first = CustomerEmail::parse("Jane.Doe@Example.com")
        .unwrap()
        .hash(&pepper);
    let second = CustomerEmail::parse("  jane.doe@EXAMPLE.COM ")
        .unwrap()
        .hash(&pepper);
    let mut conn = pool.acquire().await.unwrap();

    // Act
    let a = record_customer(
        &mut conn,
        &CustomerSighting::by_email(Channel::FileImport, first),
    )
    .await
    .unwrap();
    let b = record_customer(
        &mut conn,
        &CustomerSighting::by_email(Channel::FileImport, second),
    )
    .await
    .unwrap();

    // Assert
    assert_eq!(a, b);
    let count: i64 = sqlx::query_scalar("select count(*) from sales.customers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_plain_address_appears_nowhere_in_the_database(pool: PgPool) {
    // Arrange
    let email = CustomerEmail::parse("Jane.Doe@Example.com").unwrap();
    let hash = email.hash(&pepper());
    let mut sighting =
        CustomerSighting::by_external_id(Channel::BestBuyCa, "MK-CUST-42", Some(hash));
    sighting.region = Some("ON");
    let mut conn = pool.acquire().await.unwrap();

    // Act
    let id = record_customer(&mut conn, &sighting).await.unwrap();

    // Assert: the hash is there, the address is not, in any table.
    let stored: Vec<u8> =
        sqlx::query_scalar("select email_hash from sales.customers where id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored.as_slice(), hash.as_bytes());
    let dump = whole_database_as_text(&pool).await.to_lowercase();
    assert!(
        dump.contains("mk-cust-42"),
        "the customer row should be in the dump"
    );
    assert!(
        !dump.contains("jane.doe"),
        "plain email found in the database"
    );
    assert!(
        !dump.contains("example.com"),
        "plain email found in the database"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn order_times_widen_and_region_follows_the_latest_order(pool: PgPool) {
    // Arrange: two sightings arriving newest first.
    let hash = CustomerEmail::parse("amina@example.org")
        .unwrap()
        .hash(&pepper());
    let newer = "2026-03-02T10:00:00Z".parse().unwrap();
    let older = "2026-01-15T08:30:00Z".parse().unwrap();
    let mut conn = pool.acquire().await.unwrap();

    // Act
    let mut sighting = CustomerSighting::by_email(Channel::FileImport, hash);
    sighting.region = Some("Nairobi");
    sighting.ordered_at = Some(newer);
    record_customer(&mut conn, &sighting).await.unwrap();
    sighting.region = Some("Mombasa");
    sighting.ordered_at = Some(older);
    record_customer(&mut conn, &sighting).await.unwrap();

    // Assert
    let (region, first, last): (
        String,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    ) = sqlx::query_as("select region, first_order_at, last_order_at from sales.customers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(region, "Nairobi");
    assert_eq!(first, older);
    assert_eq!(last, newer);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_order_file_batch_and_a_single_sighting_merge_by_the_same_rule(pool: PgPool) {
    // Arrange: an order file's batch saw the customer's latest order; a marketplace
    // sighting of an older order arrives afterwards, with another region.
    let hash = CustomerEmail::parse("amina@example.org")
        .unwrap()
        .hash(&pepper());
    let newer = "2026-03-02T10:00:00Z".parse().unwrap();
    let older = "2026-01-15T08:30:00Z".parse().unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let ids = record_customer_visits(
        &mut conn,
        Channel::FileImport,
        &[CustomerVisit::new(hash, newer, Some("Nairobi"))],
    )
    .await
    .unwrap();

    // Act
    let mut sighting = CustomerSighting::by_email(Channel::BestBuyCa, hash);
    sighting.region = Some("Mombasa");
    sighting.ordered_at = Some(older);
    let id = record_customer(&mut conn, &sighting).await.unwrap();

    // Assert: one customer; the dates widened; the region is still the latest order's.
    assert_eq!(ids.get(&hash), Some(&id));
    let (region, first, last): (
        String,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    ) = sqlx::query_as("select region, first_order_at, last_order_at from sales.customers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((region.as_str(), first, last), ("Nairobi", older, newer));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_sighting_that_changes_nothing_leaves_the_customer_row_unwritten(pool: PgPool) {
    // Arrange
    let hash = CustomerEmail::parse("amina@example.org")
        .unwrap()
        .hash(&pepper());
    let at = "2026-03-02T10:00:00Z".parse().unwrap();
    let visit = CustomerVisit::new(hash, at, Some("Nairobi"));
    let mut conn = pool.acquire().await.unwrap();
    record_customer_visits(&mut conn, Channel::FileImport, std::slice::from_ref(&visit))
        .await
        .unwrap();
    let version = |pool: PgPool| async move {
        sqlx::query_scalar::<_, String>("select xmin::text from sales.customers")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let before = version(pool.clone()).await;

    // Act: the same order seen again, in a batch and alone.
    record_customer_visits(&mut conn, Channel::FileImport, &[visit])
        .await
        .unwrap();
    let mut sighting = CustomerSighting::by_email(Channel::FileImport, hash);
    sighting.region = Some("Nairobi");
    sighting.ordered_at = Some(at);
    record_customer(&mut conn, &sighting).await.unwrap();

    // Assert: no new row version was written.
    assert_eq!(version(pool.clone()).await, before);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_plain_email_in_a_raw_payload_is_refused_by_the_schema(pool: PgPool) {
    let result = sqlx::query(
        "insert into sales.customers (channel, external_id, raw_payload)
         values ('shopify', '991', '{\"email\": \"jane.doe@example.com\"}')",
    )
    .execute(&pool)
    .await;
    let err = result.expect_err("a plain address must not be stored");
    assert!(
        err.to_string()
            .contains("customers_raw_payload_has_no_email_check"),
        "{err}"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_address_another_customer_holds_is_not_attached_and_costs_nothing(pool: PgPool) {
    // Arrange: a Best Buy customer known with an address; a second Best Buy customer id
    // (a guest checkout, say) sends the same address.
    let hash = CustomerEmail::parse("sam@example.net")
        .unwrap()
        .hash(&pepper());
    let mut conn = pool.acquire().await.unwrap();
    let first = CustomerSighting::by_external_id(Channel::BestBuyCa, "BBY-1", Some(hash));
    let holder = record_customer(&mut conn, &first).await.unwrap();

    // Act
    let second = CustomerSighting::by_external_id(Channel::BestBuyCa, "BBY-2", Some(hash));
    let other = record_customer(&mut conn, &second).await.unwrap();
    let again = record_customer(&mut conn, &first).await.unwrap();
    let batch = record_customer_visits(
        &mut conn,
        Channel::FileImport,
        &[CustomerVisit::new(
            hash,
            "2026-03-02T10:00:00Z".parse().unwrap(),
            None,
        )],
    )
    .await
    .unwrap();

    // Assert: two customers, the address on the first only; each sighting found its own
    // row, and a file's order with that address belongs to its holder.
    assert_ne!(other, holder);
    assert_eq!(again, holder);
    assert_eq!(batch.get(&hash), Some(&holder));
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "select external_id, email_hash is not null from sales.customers order by external_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![("BBY-1".to_owned(), true), ("BBY-2".to_owned(), false)]
    );
}
