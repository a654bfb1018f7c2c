//! The Canada Post simulator over HTTP: shipments, labels, errors and faults.

use reqwest::StatusCode;
use sellerops_simulators::{start, Running, Settings};
use serde_json::json;

const MEDIA_TYPE: &str = "application/vnd.cpc.ncshipment-v4+xml";
const USER: &str = "local-canadapost-user";
const PASSWORD: &str = "local-canadapost-password";

const REQUEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<non-contract-shipment xmlns="http://www.canadapost.ca/ws/ncshipment-v4">
  <requested-shipping-point>K1A0B1</requested-shipping-point>
  <delivery-spec>
    <service-code>DOM.EP</service-code>
    <sender><company>Refurb Co</company><contact-phone>4165551212</contact-phone>
      <address-details><address-line-1>123 King St</address-line-1><city>Ottawa</city>
        <prov-state>ON</prov-state><postal-zip-code>K1A0B1</postal-zip-code></address-details></sender>
    <destination><name>Jane Doe</name>
      <address-details><address-line-1>500 Main St</address-line-1><city>Toronto</city>
        <prov-state>ON</prov-state><country-code>CA</country-code><postal-zip-code>M5V3L9</postal-zip-code></address-details></destination>
    <parcel-characteristics><weight>2.500</weight></parcel-characteristics>
    <preferences><show-packing-instructions>false</show-packing-instructions></preferences>
    <references><customer-ref-1>BB-1001-A</customer-ref-1></references>
  </delivery-spec>
</non-contract-shipment>"#;

struct CanadaPost {
    sim: Running,
    http: reqwest::Client,
}

impl CanadaPost {
    async fn start() -> Self {
        Self {
            sim: start(Settings::for_tests())
                .await
                .expect("simulators start"),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.canadapost_url)
    }

    async fn create(&self, xml: &str) -> reqwest::Response {
        self.http
            .post(self.url("/rs/0001234567/ncshipment"))
            .basic_auth(USER, Some(PASSWORD))
            .header("Content-Type", MEDIA_TYPE)
            .header("Accept", MEDIA_TYPE)
            .header("Accept-language", "en-CA")
            .body(xml.to_owned())
            .send()
            .await
            .unwrap()
    }

    async fn fault(&self, fault: serde_json::Value) {
        let response = self
            .http
            .post(self.url("/_sim/faults"))
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
}

/// The text of the first element `name` in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

/// The `href` of the link with `rel`.
fn link(xml: &str, rel: &str) -> Option<String> {
    let at = xml.find(&format!("rel=\"{rel}\""))?;
    let tag_start = xml[..at].rfind('<')?;
    let tag = &xml[tag_start..at + xml[at..].find('>')?];
    let href = tag.split("href=\"").nth(1)?;
    Some(href[..href.find('"')?].to_owned())
}

#[tokio::test]
async fn a_shipment_answers_its_pin_and_a_label_link_that_returns_a_valid_pdf() {
    let cp = CanadaPost::start().await;

    let response = cp.create(REQUEST).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], MEDIA_TYPE);
    let xml = response.text().await.unwrap();
    assert!(xml.contains(
        "<non-contract-shipment-info xmlns=\"http://www.canadapost.ca/ws/ncshipment-v4\">"
    ));
    let pin = element(&xml, "tracking-pin").unwrap().to_owned();
    assert!(element(&xml, "shipment-id").is_some());
    let label_url = link(&xml, "label").unwrap();
    assert!(label_url.starts_with(&cp.sim.canadapost_url), "{label_url}");

    let label = cp
        .http
        .get(&label_url)
        .basic_auth(USER, Some(PASSWORD))
        .header("Accept", "application/pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(label.status(), StatusCode::OK);
    assert_eq!(label.headers()["content-type"], "application/pdf");
    let pdf = label.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-1.4"));
    assert!(pdf.ends_with(b"%%EOF\n"));
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains(&format!("Tracking PIN: {pin}")));
    // startxref points at the cross-reference table.
    let marker = b"startxref\n";
    let at = pdf
        .windows(marker.len())
        .rposition(|w| w == marker)
        .unwrap();
    let offset: usize = std::str::from_utf8(&pdf[at + marker.len()..])
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(pdf[offset..].starts_with(b"xref\n"));
}

#[tokio::test]
async fn every_request_buys_a_new_shipment() {
    let cp = CanadaPost::start().await;

    let first = cp.create(REQUEST).await.text().await.unwrap();
    let second = cp.create(REQUEST).await.text().await.unwrap();

    assert_ne!(
        element(&first, "tracking-pin"),
        element(&second, "tracking-pin")
    );
    assert_eq!(cp.sim.simulator.lock().shipments.all().count(), 2);
}

#[tokio::test]
async fn wrong_credentials_are_e002() {
    let cp = CanadaPost::start().await;
    let response = cp
        .http
        .post(cp.url("/rs/0001234567/ncshipment"))
        .basic_auth(USER, Some("wrong"))
        .header("Content-Type", MEDIA_TYPE)
        .header("Accept", MEDIA_TYPE)
        .body(REQUEST)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        element(&response.text().await.unwrap(), "code"),
        Some("E002")
    );
}

#[tokio::test]
async fn an_invalid_postal_code_is_a_400_messages_document() {
    let cp = CanadaPost::start().await;

    let response = cp.create(&REQUEST.replace("M5V3L9", "M5V 3L9")).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let xml = response.text().await.unwrap();
    assert!(xml.contains("<messages xmlns=\"http://www.canadapost.ca/ws/messages\">"));
    assert_eq!(element(&xml, "code"), Some("9111"));
    assert_eq!(cp.sim.simulator.lock().shipments.all().count(), 0);
}

#[tokio::test]
async fn a_wrong_media_type_is_refused() {
    let cp = CanadaPost::start().await;
    let response = cp
        .http
        .post(cp.url("/rs/0001234567/ncshipment"))
        .basic_auth(USER, Some(PASSWORD))
        .header("Content-Type", "application/xml")
        .header("Accept", "*/*")
        .body(REQUEST)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn an_injected_validation_error_then_a_5xx_then_success() {
    let cp = CanadaPost::start().await;
    cp.fault(json!({"route": "NCSHIPMENT", "code": "9111", "description": "Postal code is not valid for province."}))
        .await;
    cp.fault(json!({"route": "NCSHIPMENT", "status": 500}))
        .await;

    let validation = cp.create(REQUEST).await;
    let outage = cp.create(REQUEST).await;
    let success = cp.create(REQUEST).await;

    assert_eq!(validation.status(), StatusCode::BAD_REQUEST);
    let xml = validation.text().await.unwrap();
    assert_eq!(
        element(&xml, "description"),
        Some("Postal code is not valid for province.")
    );
    assert_eq!(outage.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(success.status(), StatusCode::OK);
    assert_eq!(cp.sim.simulator.lock().shipments.all().count(), 1);
}

#[tokio::test]
async fn an_unknown_artifact_is_a_404() {
    let cp = CanadaPost::start().await;
    let response = cp
        .http
        .get(cp.url("/rs/artifact/0000/10238/0"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

impl CanadaPost {
    async fn counters(&self) -> serde_json::Value {
        self.http
            .get(self.url("/_sim/counters"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.http
            .get(url)
            .basic_auth(USER, Some(PASSWORD))
            .header("Accept", MEDIA_TYPE)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_purchase_whose_caller_hangs_up_during_a_delay_after_it_is_still_bought() {
    // Arrange: the answer comes 2 s after the shipment is bought; the caller waits 300 ms.
    let cp = CanadaPost::start().await;
    cp.fault(json!({"route": "NCSHIPMENT", "delay_ms": 2000, "after": true}))
        .await;
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();

    // Act
    let sent = impatient
        .post(cp.url("/rs/0001234567/ncshipment"))
        .basic_auth(USER, Some(PASSWORD))
        .header("Content-Type", MEDIA_TYPE)
        .header("Accept", MEDIA_TYPE)
        .body(REQUEST)
        .send()
        .await;

    // Assert: the caller saw a timeout, the carrier kept the shipment.
    assert!(sent.unwrap_err().is_timeout());
    let counters = cp.counters().await;
    assert_eq!(counters["requests"]["NCSHIPMENT"], 1);
    assert_eq!(counters["canadapost"]["shipments"], 1);
    assert_eq!(
        counters["canadapost"]["by_reference"]["BB-1001-A"]["shipments"],
        1
    );
}

#[tokio::test]
async fn a_5xx_after_buying_and_a_truncated_answer_both_leave_a_shipment() {
    let cp = CanadaPost::start().await;
    cp.fault(json!({"route": "NCSHIPMENT", "status": 500, "after": true}))
        .await;
    cp.fault(json!({"route": "NCSHIPMENT", "truncate": true}))
        .await;

    let failed = cp.create(REQUEST).await;
    let cut = cp.create(REQUEST).await;

    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(cut.status(), StatusCode::OK);
    let body = cut.text().await.unwrap();
    assert!(body.starts_with("<?xml") && !body.contains("</non-contract-shipment-info>"));
    assert_eq!(cp.counters().await["canadapost"]["shipments"], 2);
}

#[tokio::test]
async fn shipments_are_found_by_date_their_details_carry_the_reference_and_a_refund_is_taken() {
    // Arrange
    let cp = CanadaPost::start().await;
    let bought = cp.create(REQUEST).await.text().await.unwrap();
    let shipment_id = element(&bought, "shipment-id").unwrap().to_owned();
    let now = chrono::Utc::now();
    let minute = |at: chrono::DateTime<chrono::Utc>| at.format("%Y%m%d%H%M").to_string();

    // Act: list, details, refund.
    let listed = cp
        .get(&cp.url(&format!(
            "/rs/0001234567/ncshipment?from={}&to={}",
            minute(now - chrono::Duration::minutes(2)),
            minute(now)
        )))
        .await
        .text()
        .await
        .unwrap();
    let earlier = cp
        .get(&cp.url("/rs/0001234567/ncshipment?from=202001010000&to=202001010100"))
        .await
        .text()
        .await
        .unwrap();
    let shipment_url = link(&listed, "shipment").unwrap();
    let details = cp
        .get(&format!("{shipment_url}/details"))
        .await
        .text()
        .await
        .unwrap();
    let info = cp.get(&shipment_url).await.text().await.unwrap();
    let refund = cp
        .http
        .post(link(&info, "refund").unwrap())
        .basic_auth(USER, Some(PASSWORD))
        .header("Content-Type", MEDIA_TYPE)
        .header("Accept", MEDIA_TYPE)
        .body(r#"<non-contract-shipment-refund-request xmlns="http://www.canadapost.ca/ws/ncshipment-v4"><email>desk@example.ca</email></non-contract-shipment-refund-request>"#)
        .send()
        .await
        .unwrap();

    // Assert
    assert!(
        shipment_url.ends_with(&format!("/ncshipment/{shipment_id}")),
        "{listed}"
    );
    assert!(link(&earlier, "shipment").is_none(), "{earlier}");
    assert!(
        details.contains("<non-contract-shipment-details"),
        "{details}"
    );
    assert_eq!(element(&details, "customer-ref-1"), Some("BB-1001-A"));
    assert_eq!(element(&info, "shipment-id"), Some(shipment_id.as_str()));
    assert_eq!(refund.status(), StatusCode::OK);
    let ticket = refund.text().await.unwrap();
    assert!(element(&ticket, "service-ticket-id").is_some(), "{ticket}");
    let counters = cp.counters().await;
    assert_eq!(counters["requests"]["REFUND"], 1);
    assert_eq!(counters["canadapost"]["refunds"], 1);
    assert_eq!(
        counters["canadapost"]["by_reference"]["BB-1001-A"]["refunded"],
        1
    );
}
