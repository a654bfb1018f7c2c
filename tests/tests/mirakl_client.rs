//! The Mirakl client against a fake Mirakl (wiremock): headers, classification, call log.

use reqwest::Method;
use secrecy::SecretString;
use sellerops::ops::errors::{Disposition, ProcessError};
use sellerops::systems::mirakl::{MiraklClient, MiraklError, MiraklRequest};
use sqlx::PgPool;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const API_KEY: &str = "shop-api-key-0123456789";

fn client(server: &MockServer, pool: &PgPool) -> MiraklClient {
    MiraklClient::new(
        &server.uri(),
        SecretString::from(API_KEY),
        Some("2001".into()),
        pool.clone(),
    )
    .unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_call_sends_the_key_and_shop_and_is_logged_without_the_key(pool: PgPool) {
    // Arrange
    let server = MockServer::start().await;
    let decision = serde_json::json!({ "order_lines": [{ "id": "BB-1-A-1", "accepted": true }] });
    Mock::given(method("PUT"))
        .and(path("/api/orders/BB-1-A/accept"))
        .and(header("authorization", API_KEY))
        .and(header("accept", "application/json"))
        .and(query_param("shop_id", "2001"))
        .and(body_json(&decision))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let mut request = MiraklRequest::new("OR21", Method::PUT, "/api/orders/BB-1-A/accept");
    request.body = Some(decision);

    // Act
    let response = client(&server, &pool).send(request).await.unwrap();

    // Assert
    assert_eq!(response.status, 204);
    let (operation, status, row): (String, i32, String) =
        sqlx::query_as("select operation, status_code, c::text from ops.api_calls c")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((operation.as_str(), status), ("OR21", 204));
    assert!(
        !row.contains(API_KEY),
        "API key leaked into ops.api_calls: {row}"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_429_is_retryable_and_carries_retry_after(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "12"))
        .mount(&server)
        .await;

    let err = client(&server, &pool)
        .send(MiraklRequest::new("OR11", Method::GET, "/api/orders"))
        .await
        .unwrap_err();

    assert!(matches!(
        err,
        MiraklError::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 12
    ));
    assert_eq!(ProcessError::from(err).disposition(), Disposition::Retry);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_refusal_is_permanent_and_names_mirakls_reason(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(
                serde_json::json!({ "status": 400, "message": "ORDER_INVALID_STATE" }),
            ),
        )
        .mount(&server)
        .await;

    let err = client(&server, &pool)
        .send(MiraklRequest::new(
            "OR21",
            Method::PUT,
            "/api/orders/X/accept",
        ))
        .await
        .unwrap_err();

    let process = ProcessError::from(err);
    assert_eq!(process.disposition(), Disposition::GiveUp);
    assert!(process.to_string().contains("ORDER_INVALID_STATE"));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_unreachable_mirakl_is_retryable_and_logged(pool: PgPool) {
    // Nothing listens on a port just released by the OS.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = MiraklClient::new(
        &format!("http://127.0.0.1:{port}"),
        SecretString::from(API_KEY),
        None,
        pool.clone(),
    )
    .unwrap();

    let err = client
        .send(MiraklRequest::new("OR11", Method::GET, "/api/orders"))
        .await
        .unwrap_err();

    assert!(matches!(err, MiraklError::Transport { .. }));
    let logged_error: Option<String> = sqlx::query_scalar("select error from ops.api_calls")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(logged_error.is_some());
}
