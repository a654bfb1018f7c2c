//! The shared outbound client against a fake API (wiremock): which failures are sent
//! again, and what `ops.api_calls` keeps of each attempt.

use std::time::Duration;

use reqwest::Method;
use sellerops::ops::retry::RetryPolicy;
use sellerops::systems::http::{Call, Failure, HttpClient};
use sqlx::PgPool;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const QUICK: RetryPolicy = RetryPolicy {
    attempts: 3,
    base_delay: Duration::from_millis(10),
    max_delay: Duration::from_secs(1),
};

/// A client whose requests time out after 300 ms.
fn client(pool: &PgPool) -> HttpClient {
    HttpClient::new("test", Duration::from_millis(300), pool.clone()).unwrap()
}

async fn slow_answer(server: &MockServer, verb: &str) {
    Mock::given(method(verb))
        .and(path("/work"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(server)
        .await;
}

/// (request body, status, response body, error) of every logged attempt, oldest first.
type Logged = (Option<String>, Option<i32>, Option<String>, Option<String>);

async fn logged(pool: &PgPool) -> Vec<Logged> {
    sqlx::query_as(
        "select request_body, status_code, response_body, error from ops.api_calls
         order by started_at",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_post_that_times_out_is_not_sent_again(pool: PgPool) {
    // Arrange: the server takes longer than the client waits; it may have done the work.
    let server = MockServer::start().await;
    slow_answer(&server, "POST").await;
    let mut call = Call::new("Buy", Method::POST, format!("{}/work", server.uri()));
    call.body = Some("<buy/>".into());

    // Act
    let err = client(&pool).send_retrying(&call, QUICK).await.unwrap_err();

    // Assert: one attempt, logged with what was sent and why it failed.
    assert!(matches!(err, Failure::Transport { .. }), "{err:?}");
    assert!(!err.never_sent());
    let attempts = logged(&pool).await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0].0.as_deref(), Some("<buy/>"));
    assert!(attempts[0].3.is_some());
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_get_that_times_out_is_sent_again_up_to_the_policys_attempts(pool: PgPool) {
    let server = MockServer::start().await;
    slow_answer(&server, "GET").await;
    let call = Call::new("Read", Method::GET, format!("{}/work", server.uri()));

    let err = client(&pool).send_retrying(&call, QUICK).await.unwrap_err();

    assert!(matches!(err, Failure::Transport { .. }), "{err:?}");
    assert_eq!(logged(&pool).await.len(), 3);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_post_that_never_connected_is_sent_again(pool: PgPool) {
    // Arrange: nothing listens on a port just released by the OS.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let call = Call::new("Buy", Method::POST, format!("http://127.0.0.1:{port}/work"));

    // Act
    let err = client(&pool).send_retrying(&call, QUICK).await.unwrap_err();

    // Assert
    assert!(err.never_sent(), "{err:?}");
    assert_eq!(logged(&pool).await.len(), 3);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_post_answered_with_a_5xx_is_not_sent_again_but_one_answered_429_is(pool: PgPool) {
    // Arrange: a 500 or a 503 may come after the work was done (a gateway gives up on
    // the service behind it); a 429 is the server turning the request away.
    let server = MockServer::start().await;
    for (route, status, sent) in [
        ("/failing", 500, 1),
        ("/busy", 503, 1),
        ("/throttled", 429, 3),
    ] {
        Mock::given(method("POST"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(status))
            .expect(sent)
            .mount(&server)
            .await;
    }
    let client = client(&pool);
    let post = |route: &str| Call::new("Buy", Method::POST, format!("{}{route}", server.uri()));

    // Act
    let failing = client
        .send_retrying(&post("/failing"), QUICK)
        .await
        .unwrap_err();
    let busy = client
        .send_retrying(&post("/busy"), QUICK)
        .await
        .unwrap_err();
    let throttled = client
        .send_retrying(&post("/throttled"), QUICK)
        .await
        .unwrap_err();

    // Assert (the mocks' expected counts are checked when the server drops)
    assert!(matches!(failing, Failure::Unavailable { status: 500 }));
    assert!(matches!(busy, Failure::Unavailable { status: 503 }));
    assert!(!failing.not_taken() && !busy.not_taken());
    assert!(matches!(throttled, Failure::RateLimited { .. }));
    assert!(throttled.not_taken());
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn rejected_credentials_are_their_own_class_and_not_sent_again_in_the_invocation(
    pool: PgPool,
) {
    // Arrange
    let server = MockServer::start().await;
    for (route, status) in [("/unauthorized", 401), ("/forbidden", 403)] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(status).set_body_string("no"))
            .expect(1)
            .mount(&server)
            .await;
    }
    let client = client(&pool);
    let get = |route: &str| Call::new("Read", Method::GET, format!("{}{route}", server.uri()));

    // Act
    let unauthorized = client
        .send_retrying(&get("/unauthorized"), QUICK)
        .await
        .unwrap_err();
    let forbidden = client
        .send_retrying(&get("/forbidden"), QUICK)
        .await
        .unwrap_err();

    // Assert: one attempt each, classified apart from a refused request.
    assert!(matches!(
        unauthorized,
        Failure::CredentialsRejected { status: 401 }
    ));
    assert!(matches!(
        forbidden,
        Failure::CredentialsRejected { status: 403 }
    ));
    assert_eq!(logged(&pool).await.len(), 2);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn only_a_failed_call_keeps_its_bodies_in_the_log(pool: PgPool) {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"name":"Amelia"}"#))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/refused"))
        .respond_with(ResponseTemplate::new(400).set_body_string(r#"{"message":"BAD"}"#))
        .mount(&server)
        .await;
    let client = client(&pool);
    let mut ok = Call::new("Put", Method::PUT, format!("{}/ok", server.uri()));
    ok.body = Some(r#"{"line":1}"#.into());
    let mut refused = Call::new("Put", Method::PUT, format!("{}/refused", server.uri()));
    refused.body = Some(r#"{"line":2}"#.into());

    // Act
    let answer = client.send(&ok).await.unwrap();
    let err = client.send(&refused).await.unwrap_err();

    // Assert
    assert_eq!(answer.body, br#"{"name":"Amelia"}"#);
    assert!(matches!(err, Failure::Rejected { status: 400, .. }));
    assert_eq!(
        logged(&pool).await,
        vec![
            (None, Some(200), None, None),
            (
                Some(r#"{"line":2}"#.into()),
                Some(400),
                Some(r#"{"message":"BAD"}"#.into()),
                None
            ),
        ]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_failed_call_keeps_its_bodies_less_the_customers_data(pool: PgPool) {
    // Arrange: a label request refused by the carrier, and an order read that fails.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ncshipment"))
        .respond_with(ResponseTemplate::new(400).set_body_string(
            "<messages><message><code>8512</code><description>Bad phone number \
             for elodie&#64;example.ca</description></message></messages>",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orders"))
        .respond_with(ResponseTemplate::new(503).set_body_string(
            r#"{"orders":[{"customer":{"firstname":"Élodie","shipping_address":{"street_1":"1450 Rue Sherbrooke O","city":"Montréal","phone":"5145550147"}},"customer_notification_email":"k7f3\u0040relay.example.ca"}]}"#,
        ))
        .mount(&server)
        .await;
    let client = client(&pool);
    let mut label = Call::new("Buy", Method::POST, format!("{}/ncshipment", server.uri()));
    label.body = Some(
        "<non-contract-shipment><delivery-spec><destination><name>Élodie Tremblay</name>\
         <client-voice-number>5145550147</client-voice-number><address-details>\
         <address-line-1>1450 Rue Sherbrooke O</address-line-1><city>Montréal</city>\
         </address-details></destination></delivery-spec></non-contract-shipment>"
            .into(),
    );
    let orders = Call::new("OR11", Method::GET, format!("{}/orders", server.uri()));

    // Act
    client.send(&label).await.unwrap_err();
    client.send(&orders).await.unwrap_err();

    // Assert: what went wrong stays readable; who it was about does not.
    let attempts = logged(&pool).await;
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    let kept = format!("{attempts:?}");
    for personal in [
        "Élodie",
        "Tremblay",
        "5145550147",
        "Sherbrooke",
        "example.ca",
    ] {
        assert!(!kept.contains(personal), "{personal} in {kept}");
    }
    for readable in ["8512", "Bad phone", "Montréal", "<city>"] {
        assert!(kept.contains(readable), "{readable} missing from {kept}");
    }
}
