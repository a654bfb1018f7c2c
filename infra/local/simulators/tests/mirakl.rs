//! The Mirakl simulator over HTTP: state transitions, paging, auth and faults.

use std::time::Duration;

use reqwest::StatusCode;
use sellerops_simulators::{start, Running, Settings};
use serde_json::{json, Value};

const KEY: &str = "local-mirakl-key";

struct Mirakl {
    sim: Running,
    http: reqwest::Client,
}

impl Mirakl {
    async fn start() -> Self {
        let sim = start(Settings::for_tests())
            .await
            .expect("simulators start");
        Self {
            sim,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.mirakl_url)
    }

    async fn seed(&self, orders: Value) {
        let response = self
            .http
            .post(self.url("/_sim/orders"))
            .json(&orders)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("Authorization", KEY)
            .send()
            .await
            .unwrap()
    }

    async fn put(&self, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self.http.put(self.url(path)).header("Authorization", KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn fault(&self, fault: Value) {
        let response = self
            .http
            .post(self.url("/_sim/faults"))
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{fault}");
    }

    async fn order(&self, order_id: &str) -> Value {
        let page: Value = self
            .get(&format!("/api/orders?order_ids={order_id}"))
            .await
            .json()
            .await
            .unwrap();
        page["orders"][0].clone()
    }
}

async fn message(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, body["message"].as_str().unwrap_or("").to_owned())
}

fn two_line_order(order_id: &str) -> Value {
    json!({"order_id": order_id, "order_lines": [{"offer_sku": "A"}, {"offer_sku": "B"}]})
}

#[tokio::test]
async fn a_call_without_the_shop_key_is_refused_with_401() {
    let mirakl = Mirakl::start().await;
    let response = mirakl
        .http
        .get(mirakl.url("/api/orders"))
        .header("Authorization", "Bearer local-mirakl-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn or11_filters_by_state_and_update_date_and_pages_with_max_and_offset() {
    let mirakl = Mirakl::start().await;
    mirakl
        .seed(json!({"orders": [
            {"order_id": "A-A", "created_date": "2025-01-01T10:00:00Z", "last_updated_date": "2025-01-01T10:00:00Z"},
            {"order_id": "B-A", "created_date": "2025-01-02T10:00:00Z", "last_updated_date": "2025-01-02T10:00:00Z"},
            {"order_id": "C-A", "created_date": "2025-01-03T10:00:00Z", "last_updated_date": "2025-01-03T10:00:00Z"},
            {"order_id": "D-A", "order_state": "SHIPPED", "created_date": "2025-01-04T10:00:00Z", "last_updated_date": "2025-01-04T10:00:00Z"}
        ]}))
        .await;

    let page: Value = mirakl
        .get("/api/orders?order_state_codes=WAITING_ACCEPTANCE&start_update_date=2025-01-02T00:00:00Z&max=1&offset=1")
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(page["total_count"], json!(2));
    assert_eq!(page["orders"].as_array().unwrap().len(), 1);
    assert_eq!(page["orders"][0]["order_id"], json!("C-A"));
    let (status, _) = message(mirakl.get("/api/orders?max=101").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = message(mirakl.get("/api/orders?order_state_codes=NOPE").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn or21_needs_a_decision_for_every_line() {
    let mirakl = Mirakl::start().await;
    mirakl.seed(two_line_order("X-A")).await;

    let response = mirakl
        .put(
            "/api/orders/X-A/accept",
            Some(json!({"order_lines": [{"id": "X-A-1", "accepted": true}]})),
        )
        .await;

    let (status, message) = message(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message.starts_with("ORDER_LINE_ACCEPTANCE_DECISION_MISSING"),
        "{message}"
    );
    assert_eq!(
        mirakl.order("X-A").await["order_state"],
        json!("WAITING_ACCEPTANCE")
    );
}

#[tokio::test]
async fn or21_acceptance_passes_through_debit_to_shipping_and_refused_lines_are_refused() {
    let mirakl = Mirakl::start().await;
    mirakl.seed(two_line_order("X-A")).await;

    let response = mirakl
        .put(
            "/api/orders/X-A/accept",
            Some(json!({"order_lines": [
                {"id": "X-A-1", "accepted": true},
                {"id": "X-A-2", "accepted": false}
            ]})),
        )
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let order = mirakl.order("X-A").await;
    assert_eq!(order["order_state"], json!("SHIPPING"));
    assert_eq!(
        order["order_lines"][0]["order_line_state"],
        json!("SHIPPING")
    );
    assert_eq!(
        order["order_lines"][1]["order_line_state"],
        json!("REFUSED")
    );
    let changes: Vec<String> = mirakl
        .sim
        .simulator
        .lock()
        .orders
        .history()
        .iter()
        .map(|c| c.to.clone())
        .collect();
    assert_eq!(changes, vec!["WAITING_DEBIT_PAYMENT", "SHIPPING"]);

    let (status, message) = message(
        mirakl
            .put(
                "/api/orders/X-A/accept",
                Some(json!({"order_lines": [
                    {"id": "X-A-1", "accepted": true},
                    {"id": "X-A-2", "accepted": true}
                ]})),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("ORDER_INVALID_STATE"), "{message}");
}

#[tokio::test]
async fn or21_refusing_every_line_refuses_the_order() {
    let mirakl = Mirakl::start().await;
    mirakl.seed(json!({"order_id": "R-A"})).await;

    let response = mirakl
        .put(
            "/api/orders/R-A/accept",
            Some(json!({"order_lines": [{"id": "R-A-1", "accepted": false}]})),
        )
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(mirakl.order("R-A").await["order_state"], json!("REFUSED"));
}

#[tokio::test]
async fn or23_then_or24_ships_the_order_and_or24_twice_is_an_invalid_state() {
    let mirakl = Mirakl::start().await;
    mirakl
        .seed(json!({"order_id": "S-A", "order_state": "SHIPPING"}))
        .await;
    let carriers: Value = mirakl
        .get("/api/shipping/carriers")
        .await
        .json()
        .await
        .unwrap();
    assert!(carriers["carriers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["code"] == json!("CPCL")));

    let tracking = mirakl
        .put(
            "/api/orders/S-A/tracking",
            Some(json!({"carrier_code": "CPCL", "tracking_number": "1234567890123456"})),
        )
        .await;
    assert_eq!(tracking.status(), StatusCode::NO_CONTENT);
    let ship = mirakl.put("/api/orders/S-A/ship", None).await;
    assert_eq!(ship.status(), StatusCode::NO_CONTENT);

    let order = mirakl.order("S-A").await;
    assert_eq!(order["order_state"], json!("SHIPPED"));
    assert_eq!(order["shipping_tracking"], json!("1234567890123456"));
    assert_eq!(order["shipping_carrier_code"], json!("CPCL"));
    let (status, message) = message(mirakl.put("/api/orders/S-A/ship", None).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("ORDER_INVALID_STATE"), "{message}");
}

#[tokio::test]
async fn or24_on_an_order_waiting_acceptance_is_an_invalid_state() {
    let mirakl = Mirakl::start().await;
    mirakl.seed(json!({"order_id": "W-A"})).await;
    let (status, message) = message(mirakl.put("/api/orders/W-A/ship", None).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("ORDER_INVALID_STATE"), "{message}");
}

#[tokio::test]
async fn an_unknown_order_is_a_404() {
    let mirakl = Mirakl::start().await;
    let (status, message) = message(mirakl.put("/api/orders/NOPE/ship", None).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message.starts_with("ORDER_NOT_FOUND"), "{message}");
}

#[tokio::test]
async fn m11_lists_threads_since_a_date_in_pages_and_m12_replies() {
    let mirakl = Mirakl::start().await;
    let threads = json!({"threads": [
        {"id": "t1", "order_id": "X-A", "messages": [{"body": "Where is my order?", "date_created": "2025-01-01T10:00:00Z"}]},
        {"id": "t2", "order_id": "Y-A", "messages": [{"body": "Can I cancel?", "date_created": "2025-01-02T10:00:00Z"}]},
        {"id": "t3", "order_id": "Z-A", "messages": [{"body": "Thanks", "date_created": "2025-01-03T10:00:00Z"}]}
    ]});
    let seeded = mirakl
        .http
        .post(mirakl.url("/_sim/threads"))
        .json(&threads)
        .send()
        .await
        .unwrap();
    assert_eq!(seeded.status(), StatusCode::CREATED);

    let first: Value = mirakl
        .get("/api/inbox/threads?updated_since=2025-01-02T00:00:00Z&limit=1&with_messages=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["data"][0]["id"], json!("t2"));
    assert_eq!(
        first["data"][0]["messages"][0]["from"]["type"],
        json!("CUSTOMER_USER")
    );
    let token = first["next_page_token"].as_str().unwrap().to_owned();
    let second: Value = mirakl
        .get(&format!(
            "/api/inbox/threads?updated_since=2025-01-02T00:00:00Z&limit=1&page_token={token}"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["data"][0]["id"], json!("t3"));
    assert!(second["data"][0].get("messages").is_none());
    assert!(second.get("next_page_token").is_none());

    let customer_id = first["data"][0]["current_participants"][1]["id"].clone();
    let input = json!({"body": "It ships today.", "to": [{"type": "CUSTOMER", "id": customer_id}]});
    let body = format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"message_input\"\r\nContent-Type: application/json\r\n\r\n{input}\r\n--b0undary--\r\n"
    );
    let reply = mirakl
        .http
        .post(mirakl.url("/api/inbox/threads/t2/message"))
        .header("Authorization", KEY)
        .header("Content-Type", "multipart/form-data; boundary=b0undary")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    let reply: Value = reply.json().await.unwrap();
    assert_eq!(reply["thread_id"], json!("t2"));
    assert!(reply["message_id"].is_string());

    let thread: Value = mirakl
        .get("/api/inbox/threads?entity_type=MMP_ORDER&entity_id=Y-A&with_messages=true")
        .await
        .json()
        .await
        .unwrap();
    let thread = &thread["data"][0];
    assert_eq!(thread["metadata"]["total_count"], json!(2));
    assert_eq!(thread["messages"][1]["from"]["type"], json!("SHOP_USER"));
    assert!(thread["metadata"]["shop_reply_needed_since"].is_null());
}

#[tokio::test]
async fn m12_as_json_instead_of_multipart_is_refused() {
    let mirakl = Mirakl::start().await;
    mirakl
        .http
        .post(mirakl.url("/_sim/threads"))
        .json(&json!({"id": "t1", "messages": [{"body": "Hi"}]}))
        .send()
        .await
        .unwrap();
    let response = mirakl
        .http
        .post(mirakl.url("/api/inbox/threads/t1/message"))
        .header("Authorization", KEY)
        .json(&json!({"body": "Hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_injected_503_answers_the_given_number_of_calls_then_the_real_answer() {
    let mirakl = Mirakl::start().await;
    mirakl.seed(json!({"order_id": "F-A"})).await;
    mirakl
        .fault(json!({"route": "OR21", "status": 503, "times": 2}))
        .await;
    let decision = json!({"order_lines": [{"id": "F-A-1", "accepted": true}]});

    let first = mirakl
        .put("/api/orders/F-A/accept", Some(decision.clone()))
        .await;
    let second = mirakl
        .put("/api/orders/F-A/accept", Some(decision.clone()))
        .await;
    let third = mirakl.put("/api/orders/F-A/accept", Some(decision)).await;

    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(third.status(), StatusCode::NO_CONTENT);
    let state: Value = mirakl.get("/_sim/state").await.json().await.unwrap();
    let injected = state["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["route"] == json!("OR21") && c["injected"] == json!(true))
        .count();
    assert_eq!(injected, 2);
}

#[tokio::test]
async fn an_injected_429_carries_retry_after() {
    let mirakl = Mirakl::start().await;
    mirakl
        .fault(json!({"route": "OR11", "status": 429, "retry_after": 7}))
        .await;

    let limited = mirakl.get("/api/orders").await;

    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_eq!(mirakl.get("/api/orders").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_injected_delay_trips_a_client_timeout() {
    let mirakl = Mirakl::start().await;
    mirakl
        .fault(json!({"route": "SH21", "delay_ms": 2000}))
        .await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();

    let outcome = impatient
        .get(mirakl.url("/api/shipping/carriers"))
        .header("Authorization", KEY)
        .send()
        .await;

    assert!(outcome.unwrap_err().is_timeout());
}

#[tokio::test]
async fn an_injected_validation_error_names_its_message_and_a_bad_fault_is_refused() {
    let mirakl = Mirakl::start().await;
    mirakl
        .fault(json!({"route": "OR23", "status": 400, "message": "VALIDATION_ERROR: tracking_number too long"}))
        .await;
    mirakl
        .seed(json!({"order_id": "V-A", "order_state": "SHIPPING"}))
        .await;

    let (status, text) = message(
        mirakl
            .put(
                "/api/orders/V-A/tracking",
                Some(json!({"carrier_code": "CPCL", "tracking_number": "1"})),
            )
            .await,
    )
    .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(text, "VALIDATION_ERROR: tracking_number too long");
    let refused = mirakl
        .http
        .post(mirakl.url("/_sim/faults"))
        .json(&json!({"route": "OR99", "status": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn reset_forgets_orders_and_faults() {
    let mirakl = Mirakl::start().await;
    mirakl.seed(json!({"order_id": "Q-A"})).await;
    mirakl
        .fault(json!({"route": "OR11", "status": 500, "times": 0}))
        .await;

    let reset = mirakl
        .http
        .post(mirakl.url("/_sim/reset"))
        .send()
        .await
        .unwrap();

    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    let page: Value = mirakl.get("/api/orders").await.json().await.unwrap();
    assert_eq!(page["total_count"], json!(0));
}

/// A customer waiting in thread `t1` on order 201934572-A.
async fn seed_thread(mirakl: &Mirakl) {
    let seeded = mirakl
        .http
        .post(mirakl.url("/_sim/threads"))
        .json(&json!({
            "id": "t1",
            "order_id": "201934572-A",
            "customer": {"id": "C-1", "display_name": "Jane D."},
            "messages": [{"body": "Where is my order?", "date_created": "2025-03-03T14:00:00Z"}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(seeded.status(), StatusCode::CREATED);
}

/// M12 as the shop sends it: `message_input` as a JSON part of a multipart form.
fn reply_form(body: &str) -> (String, String) {
    let input = json!({"body": body, "to": [{"type": "CUSTOMER", "id": "C-1"}]});
    (
        "multipart/form-data; boundary=sellerops-b0undary".to_owned(),
        format!(
            "--sellerops-b0undary\r\nContent-Disposition: form-data; name=\"message_input\"\r\n\
             Content-Type: application/json; charset=utf-8\r\n\r\n{input}\r\n--sellerops-b0undary--\r\n"
        ),
    )
}

impl Mirakl {
    async fn post_form(
        &self,
        thread_id: &str,
        content_type: &str,
        body: String,
    ) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/api/inbox/threads/{thread_id}/message")))
            .header("Authorization", KEY)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn reply(&self, thread_id: &str, body: &str) -> reqwest::Response {
        let (content_type, form) = reply_form(body);
        self.post_form(thread_id, &content_type, form).await
    }

    /// M10's messages of `thread_id`, as (sender type, body).
    async fn messages(&self, thread_id: &str) -> Vec<(String, String)> {
        let response = self.get(&format!("/api/inbox/threads/{thread_id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let thread: Value = response.json().await.unwrap();
        thread["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["from"]["type"].as_str().unwrap().to_owned(),
                    m["body"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn m10_reads_a_thread_with_every_message_and_an_unknown_thread_is_a_404() {
    let mirakl = Mirakl::start().await;
    seed_thread(&mirakl).await;
    assert_eq!(
        mirakl.reply("t1", "It shipped today.").await.status(),
        StatusCode::CREATED
    );

    let thread: Value = mirakl
        .get("/api/inbox/threads/t1")
        .await
        .json()
        .await
        .unwrap();
    let (status, text) = message(mirakl.get("/api/inbox/threads/nope").await).await;

    assert_eq!(thread["id"], json!("t1"));
    assert_eq!(thread["entities"][0]["id"], json!("201934572-A"));
    assert_eq!(thread["metadata"]["total_count"], json!(2));
    assert_eq!(thread["no_store_reply_needed"], json!([]));
    assert_eq!(
        mirakl.messages("t1").await,
        vec![
            ("CUSTOMER_USER".to_owned(), "Where is my order?".to_owned()),
            ("SHOP_USER".to_owned(), "It shipped today.".to_owned()),
        ]
    );
    assert_eq!(thread["messages"][1]["to"][0]["id"], json!("C-1"));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(text.starts_with("THREAD_NOT_FOUND"), "{text}");
}

#[tokio::test]
async fn m12_keeps_the_files_of_the_form_as_attachments_and_a_new_topic() {
    let mirakl = Mirakl::start().await;
    seed_thread(&mirakl).await;
    let input = json!({"body": "Your invoice is attached.", "to": [{"type": "CUSTOMER", "id": "C-1"}],
                       "topic": {"type": "FREE_TEXT", "value": "Invoice"}});
    let form = format!(
        "--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"invoice.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--b\r\n\
         Content-Disposition: form-data; name=\"message_input\"\r\nContent-Type: application/json\r\n\r\n{input}\r\n--b--\r\n"
    );

    let response = mirakl
        .post_form("t1", "multipart/form-data; boundary=b", form)
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let thread: Value = mirakl
        .get("/api/inbox/threads/t1")
        .await
        .json()
        .await
        .unwrap();
    let attachment = &thread["messages"][1]["attachments"][0];
    assert_eq!(attachment["name"], json!("invoice.pdf"));
    assert_eq!(attachment["size"], json!(8));
    assert_eq!(thread["topic"]["value"], json!("Invoice"));
}

#[tokio::test]
async fn m12_refuses_a_malformed_form_and_stores_nothing() {
    let mirakl = Mirakl::start().await;
    seed_thread(&mirakl).await;
    let form = |part_headers: &str, content: &str| {
        format!(
            "--b\r\nContent-Disposition: form-data; name=\"message_input\"\r\n{part_headers}\r\n{content}\r\n--b--\r\n"
        )
    };
    let json_type = "Content-Type: application/json\r\n";
    let multipart = "multipart/form-data; boundary=b";
    let good_input = r#"{"body": "On its way", "to": [{"type": "CUSTOMER", "id": "C-1"}]}"#;
    let cases = [
        // No message_input part: the form holds only a file.
        (
            multipart,
            "--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\nx\r\n--b--\r\n".to_owned(),
            StatusCode::BAD_REQUEST,
            "Required request part 'message_input' is not present",
        ),
        // The JSON sent as a plain text part.
        (
            multipart,
            form("Content-Type: text/plain\r\n", good_input),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content type 'text/plain' not supported",
        ),
        // A part without a Content-Type is application/octet-stream.
        (
            multipart,
            form("", good_input),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content type 'application/octet-stream' not supported",
        ),
        (
            multipart,
            form(json_type, "{\"body\": "),
            StatusCode::BAD_REQUEST,
            "JSON parse error",
        ),
        (
            multipart,
            form(json_type, r#"{"body": "ok", "to": [{"type": "CUSTOMER", "id": "C-1"}]}"#),
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR: body must be 3 to 50000 characters long",
        ),
        (
            multipart,
            form(json_type, r#"{"body": "On its way"}"#),
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR: to (at least one recipient) is required",
        ),
        (
            multipart,
            form(json_type, r#"{"body": "On its way", "to": [{"type": "CUSTOMER", "id": "C-2"}]}"#),
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR: recipient CUSTOMER C-2 is not a participant",
        ),
        // Cut short: no closing delimiter.
        (
            multipart,
            format!("--b\r\nContent-Disposition: form-data; name=\"message_input\"\r\n{json_type}\r\n{good_input}"),
            StatusCode::BAD_REQUEST,
            "Stream ended unexpectedly",
        ),
        (
            "multipart/form-data",
            form(json_type, good_input),
            StatusCode::BAD_REQUEST,
            "no multipart boundary",
        ),
    ];

    for (content_type, body, status, expected) in cases {
        let (got, text) = message(mirakl.post_form("t1", content_type, body.clone()).await).await;
        assert_eq!(got, status, "{body}: {text}");
        assert!(text.contains(expected), "{body}: {text}");
    }
    assert_eq!(mirakl.messages("t1").await.len(), 1);
    assert_eq!(
        mirakl
            .post_form("t1", multipart, form(json_type, good_input))
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn an_m12_fault_before_the_work_stores_no_reply() {
    let mirakl = Mirakl::start().await;
    seed_thread(&mirakl).await;
    mirakl.fault(json!({"route": "M12", "status": 503})).await;

    let refused = mirakl.reply("t1", "It shipped today.").await;

    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(mirakl.messages("t1").await.len(), 1);
}

#[tokio::test]
async fn an_m12_500_after_the_work_leaves_the_reply_stored() {
    let mirakl = Mirakl::start().await;
    seed_thread(&mirakl).await;
    mirakl
        .fault(json!({"route": "M12", "status": 500, "after": true}))
        .await;

    let failed = mirakl.reply("t1", "It shipped today.").await;

    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let messages = mirakl.messages("t1").await;
    assert_eq!(messages.len(), 2, "the reply is in the thread all the same");
    assert_eq!(messages[1].1, "It shipped today.");
}

#[tokio::test]
async fn an_m12_answer_lost_after_the_work_times_out_the_caller_and_the_reply_stays() {
    let mirakl = Mirakl::start().await;
    seed_thread(&mirakl).await;
    mirakl
        .fault(json!({"route": "M12", "delay_ms": 2000, "after": true}))
        .await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let (content_type, form) = reply_form("It shipped today.");

    let outcome = impatient
        .post(mirakl.url("/api/inbox/threads/t1/message"))
        .header("Authorization", KEY)
        .header("Content-Type", content_type)
        .body(form)
        .send()
        .await;

    assert!(outcome.unwrap_err().is_timeout());
    assert_eq!(mirakl.messages("t1").await.len(), 2);
    let counters: Value = mirakl.get("/_sim/counters").await.json().await.unwrap();
    assert_eq!(counters["requests"]["M12"], json!(1));
}

#[tokio::test]
async fn an_m10_fault_answers_its_calls_then_the_thread() {
    let mirakl = Mirakl::start().await;
    seed_thread(&mirakl).await;
    mirakl
        .fault(json!({"route": "m10", "status": 502, "times": 2}))
        .await;
    mirakl
        .fault(json!({"route": "M10", "truncate": true}))
        .await;

    let first = mirakl.get("/api/inbox/threads/t1").await.status();
    let second = mirakl.get("/api/inbox/threads/t1").await.status();
    let cut = mirakl.get("/api/inbox/threads/t1").await;

    assert_eq!(
        (first, second),
        (StatusCode::BAD_GATEWAY, StatusCode::BAD_GATEWAY)
    );
    assert_eq!(cut.status(), StatusCode::OK);
    assert!(
        cut.json::<Value>().await.is_err(),
        "a truncated thread is not JSON"
    );
    assert_eq!(mirakl.messages("t1").await.len(), 1);
}
