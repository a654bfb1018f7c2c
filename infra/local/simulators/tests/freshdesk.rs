//! The Freshdesk simulator over HTTP: tickets listed since a time in pages, the
//! requester and description only when included, conversations, replies, the API key,
//! the per-minute limit and injected faults.

use base64::Engine as _;
use reqwest::StatusCode;
use sellerops_simulators::{start, Running, Settings};
use serde_json::{json, Value};

const KEY: &str = "local-freshdesk-key";

struct Freshdesk {
    sim: Running,
    http: reqwest::Client,
}

impl Freshdesk {
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
        format!("{}{path}", self.sim.freshdesk_url)
    }

    async fn control(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn get_as(&self, path: &str, key: &str) -> reqwest::Response {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{key}:X"));
        self.http
            .get(self.url(path))
            .header("Authorization", format!("Basic {basic}"))
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.get_as(path, KEY).await
    }

    async fn json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json().await.unwrap()
    }

    async fn reply(&self, ticket: u64, body: Value) -> reqwest::Response {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:X"));
        self.http
            .post(self.url(&format!("/api/v2/tickets/{ticket}/reply")))
            .header("Authorization", format!("Basic {basic}"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

fn seed() -> Value {
    json!({"tickets": [
        {"id": 1, "subject": "Old", "updated_at": "2026-11-28T08:00:00Z",
         "created_at": "2026-11-28T08:00:00Z"},
        {"id": 2, "subject": "Battery", "updated_at": "2026-11-30T08:10:00Z",
         "created_at": "2026-11-30T08:00:00Z", "description_text": "Is it charged?",
         "requester": {"id": 77, "email": "ava@example.ca", "name": "Ava"},
         "conversations": [
            {"id": 501, "incoming": true, "body_text": "Any news?",
             "created_at": "2026-11-30T08:05:00Z"},
            {"id": 502, "incoming": false, "private": true, "body_text": "note",
             "created_at": "2026-11-30T08:06:00Z"}]},
        {"id": 3, "subject": "Screen", "updated_at": "2026-11-30T08:05:00Z",
         "created_at": "2026-11-30T08:05:00Z"}
    ]})
}

fn ids(tickets: &Value) -> Vec<u64> {
    tickets
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn tickets_are_listed_since_a_time_oldest_change_first_in_pages() {
    let desk = Freshdesk::start().await;
    let seeded = desk.control("/_sim/tickets", seed()).await;
    assert_eq!(seeded.status(), StatusCode::CREATED);

    let base =
        "/api/v2/tickets?updated_since=2026-11-29T00:00:00Z&order_by=updated_at&order_type=asc";
    let first = desk.json(&format!("{base}&per_page=1&page=1")).await;
    let second = desk.json(&format!("{base}&per_page=1&page=2")).await;
    let third = desk.json(&format!("{base}&per_page=1&page=3")).await;
    assert_eq!(
        (ids(&first), ids(&second), ids(&third)),
        (vec![3], vec![2], vec![])
    );

    assert!(second[0].get("requester").is_none(), "only when included");
    assert!(second[0].get("description_text").is_none());
    let included = desk
        .json(&format!("{base}&include=requester,description"))
        .await;
    assert_eq!(included[1]["requester"]["email"], "ava@example.ca");
    assert_eq!(included[1]["description_text"], "Is it charged?");

    let too_many = desk.get(&format!("{base}&per_page=101")).await;
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
    let body: Value = too_many.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "per_page");
}

#[tokio::test]
async fn conversations_are_paged_and_a_reply_joins_them_and_moves_the_ticket() {
    let desk = Freshdesk::start().await;
    desk.control("/_sim/tickets", seed()).await;

    let page = desk
        .json("/api/v2/tickets/2/conversations?per_page=1&page=2")
        .await;
    assert_eq!(page[0]["id"], 502);
    assert_eq!(page[0]["private"], true);

    let sent = desk
        .reply(2, json!({"body": "<p>It ships today.</p>"}))
        .await;
    assert_eq!(sent.status(), StatusCode::CREATED);
    let entry: Value = sent.json().await.unwrap();
    assert_eq!(
        (entry["incoming"].clone(), entry["body_text"].clone()),
        (json!(false), json!("It ships today."))
    );
    let all = desk.json("/api/v2/tickets/2/conversations").await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    let moved = desk
        .json("/api/v2/tickets?updated_since=2026-11-30T09:00:00Z")
        .await;
    assert!(ids(&moved).contains(&2), "a reply updates the ticket");

    let blank = desk.reply(2, json!({"body": " "})).await;
    assert_eq!(blank.status(), StatusCode::BAD_REQUEST);
    let missing = desk.reply(99, json!({"body": "hi"})).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_wrong_key_is_refused() {
    let desk = Freshdesk::start().await;
    let refused = desk.get_as("/api/v2/tickets", "someone-else").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn calls_over_the_minutes_limit_get_429_with_retry_after() {
    let desk = Freshdesk::start().await;
    let limited = desk
        .control("/_sim/freshdesk/limit", json!({"per_minute": 2}))
        .await;
    assert_eq!(limited.status(), StatusCode::NO_CONTENT);

    let first = desk.get("/api/v2/tickets").await;
    assert_eq!(first.headers()["x-ratelimit-total"], "2");
    assert_eq!(first.headers()["x-ratelimit-remaining"], "1");
    desk.get("/api/v2/tickets").await;
    let over = desk.get("/api/v2/tickets").await;
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = over.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");

    desk.control("/_sim/freshdesk/limit", json!({"per_minute": null}))
        .await;
    assert_eq!(desk.get("/api/v2/tickets").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn injected_faults_answer_instead_and_a_reply_can_be_lost_after_it_was_made() {
    let desk = Freshdesk::start().await;
    desk.control("/_sim/tickets", seed()).await;
    let added = desk
        .control(
            "/_sim/faults",
            json!({"route": "tickets", "status": 429, "retry_after": 30}),
        )
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let limited = desk.get("/api/v2/tickets").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "30");
    assert_eq!(desk.get("/api/v2/tickets").await.status(), StatusCode::OK);

    desk.control(
        "/_sim/faults",
        json!({"route": "REPLY", "status": 502, "after": true}),
    )
    .await;
    let lost = desk.reply(2, json!({"body": "<p>On its way.</p>"})).await;
    assert_eq!(lost.status(), StatusCode::BAD_GATEWAY);
    let all = desk.json("/api/v2/tickets/2/conversations").await;
    assert_eq!(
        all.as_array().unwrap().len(),
        3,
        "the reply was made before the answer was lost"
    );
}
