//! The ncshipment v4 documents: the request and its answer, the list of shipments
//! created in a period, a shipment's details, the refund request and its answer, and
//! the `messages` error body.
//!
//! Element order follows the XSD's sequences; optional elements are left out when empty.

use serde::{Deserialize, Serialize};

/// The ncshipment v4 XML namespace.
pub const NAMESPACE: &str = "http://www.canadapost.ca/ws/ncshipment-v4";
/// The media type of ncshipment v4 requests and answers.
pub const MEDIA_TYPE: &str = "application/vnd.cpc.ncshipment-v4+xml";

/// `<non-contract-shipment>`: a label to buy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename = "non-contract-shipment")]
pub struct NonContractShipment {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    /// What, from where, to where.
    #[serde(rename = "delivery-spec")]
    pub delivery_spec: DeliverySpec,
}

impl NonContractShipment {
    /// A shipment request in the ncshipment v4 namespace.
    pub fn new(delivery_spec: DeliverySpec) -> Self {
        Self {
            xmlns: NAMESPACE,
            delivery_spec,
        }
    }

    /// The XML body.
    pub fn to_xml(&self) -> Result<String, quick_xml::SeError> {
        quick_xml::se::to_string(self)
    }
}

/// `<delivery-spec>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliverySpec {
    /// `DOM.EP`, `DOM.RP`, …
    #[serde(rename = "service-code")]
    pub service_code: String,
    /// The seller.
    pub sender: Sender,
    /// The customer.
    pub destination: Destination,
    /// Weight and size.
    #[serde(rename = "parcel-characteristics")]
    pub parcel_characteristics: ParcelCharacteristics,
    /// Required by the schema.
    pub preferences: Preferences,
    /// The order reference printed on the label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub references: Option<References>,
}

/// `<sender>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sender {
    /// A contact person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The seller's company name (required).
    pub company: String,
    /// The seller's phone.
    #[serde(rename = "contact-phone")]
    pub contact_phone: String,
    /// A Canadian address.
    #[serde(rename = "address-details")]
    pub address_details: SenderAddress,
}

/// `<address-details>` of the sender (domestic).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SenderAddress {
    /// Street line.
    #[serde(rename = "address-line-1")]
    pub address_line_1: String,
    /// Unit, suite.
    #[serde(rename = "address-line-2", skip_serializing_if = "Option::is_none")]
    pub address_line_2: Option<String>,
    pub city: String,
    /// Two-letter province.
    #[serde(rename = "prov-state")]
    pub prov_state: String,
    #[serde(rename = "postal-zip-code")]
    pub postal_zip_code: String,
}

/// `<destination>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Destination {
    /// The customer's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The customer's company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// The customer's phone.
    #[serde(
        rename = "client-voice-number",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_voice_number: Option<String>,
    /// Where to.
    #[serde(rename = "address-details")]
    pub address_details: DestinationAddress,
}

/// `<address-details>` of the destination.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DestinationAddress {
    /// Street line.
    #[serde(rename = "address-line-1")]
    pub address_line_1: String,
    /// Unit, suite.
    #[serde(rename = "address-line-2", skip_serializing_if = "Option::is_none")]
    pub address_line_2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Province or state.
    #[serde(rename = "prov-state", skip_serializing_if = "Option::is_none")]
    pub prov_state: Option<String>,
    /// ISO alpha-2 country, e.g. `CA`.
    #[serde(rename = "country-code")]
    pub country_code: String,
    #[serde(rename = "postal-zip-code", skip_serializing_if = "Option::is_none")]
    pub postal_zip_code: Option<String>,
}

/// `<parcel-characteristics>`: weight in kg (3 decimals), size in cm (1 decimal).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParcelCharacteristics {
    /// Kilograms, e.g. `2.500`.
    pub weight: String,
    /// Centimetres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Dimensions>,
}

/// `<dimensions>` in centimetres.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dimensions {
    /// Longest side.
    pub length: String,
    /// Middle side.
    pub width: String,
    /// Shortest side.
    pub height: String,
}

/// `<preferences>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preferences {
    /// Print packing instructions on the label.
    #[serde(rename = "show-packing-instructions")]
    pub show_packing_instructions: bool,
}

/// `<references>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct References {
    /// Printed on the label: the marketplace order id (at most 35 characters).
    #[serde(rename = "customer-ref-1")]
    pub customer_ref_1: String,
}

/// What Canada Post answered for a bought label (`non-contract-shipment-info`), the
/// same whether it answered the purchase or a later read of the shipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentInfo {
    /// Canada Post's shipment id.
    pub shipment_id: String,
    /// The tracking PIN, when the service is tracked.
    pub tracking_pin: Option<String>,
    /// The `rel="label"` link: where the label PDF is fetched from.
    pub label_url: Option<String>,
    /// The `rel="refund"` link: where a refund of the shipment is requested.
    pub refund_url: Option<String>,
}

#[derive(Deserialize)]
struct ShipmentInfoXml {
    #[serde(rename = "shipment-id")]
    shipment_id: String,
    #[serde(rename = "tracking-pin", default)]
    tracking_pin: Option<String>,
    #[serde(default)]
    links: LinksXml,
}

#[derive(Deserialize, Default)]
struct LinksXml {
    #[serde(rename = "link", default)]
    links: Vec<LinkXml>,
}

#[derive(Deserialize)]
struct LinkXml {
    #[serde(rename = "@rel")]
    rel: String,
    #[serde(rename = "@href")]
    href: String,
}

impl ShipmentInfo {
    /// Reads a `<non-contract-shipment-info>` document.
    pub fn from_xml(xml: &str) -> Result<Self, quick_xml::DeError> {
        let info: ShipmentInfoXml = quick_xml::de::from_str(xml)?;
        let link = |rel: &str| {
            info.links
                .links
                .iter()
                .find(|link| link.rel == rel)
                .map(|link| link.href.trim().to_owned())
        };
        Ok(Self {
            label_url: link("label"),
            refund_url: link("refund"),
            shipment_id: info.shipment_id.trim().to_owned(),
            tracking_pin: info
                .tracking_pin
                .map(|pin| pin.trim().to_owned())
                .filter(|pin| !pin.is_empty()),
        })
    }
}

#[derive(Deserialize)]
struct ShipmentListXml {
    #[serde(rename = "link", default)]
    links: Vec<LinkXml>,
}

/// Reads a `<non-contract-shipments>` document (Get Non-Contract Shipments): the link of
/// every shipment it lists.
pub fn shipment_links(xml: &str) -> Result<Vec<String>, quick_xml::DeError> {
    let list: ShipmentListXml = quick_xml::de::from_str(xml)?;
    Ok(list
        .links
        .into_iter()
        .filter(|link| link.rel == "shipment" || link.rel == "self")
        .map(|link| link.href.trim().to_owned())
        .collect())
}

#[derive(Deserialize)]
struct DetailsXml {
    #[serde(rename = "delivery-spec")]
    delivery_spec: DetailsSpecXml,
}

#[derive(Deserialize)]
struct DetailsSpecXml {
    #[serde(default)]
    references: Option<ReferencesXml>,
}

#[derive(Deserialize)]
struct ReferencesXml {
    #[serde(rename = "customer-ref-1", default)]
    customer_ref_1: Option<String>,
}

/// Reads a `<non-contract-shipment-details>` document: the shipment's `customer-ref-1`,
/// the reference its purchase set (the marketplace order id), if any.
pub fn details_reference(xml: &str) -> Result<Option<String>, quick_xml::DeError> {
    let details: DetailsXml = quick_xml::de::from_str(xml)?;
    Ok(details
        .delivery_spec
        .references
        .and_then(|references| references.customer_ref_1)
        .map(|reference| reference.trim().to_owned())
        .filter(|reference| !reference.is_empty()))
}

/// `<non-contract-shipment-refund-request>`: asks Canada Post to refund a shipment; its
/// answer is sent to `email`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename = "non-contract-shipment-refund-request")]
pub struct RefundRequest {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    /// Where Canada Post writes about the refund.
    pub email: String,
}

impl RefundRequest {
    /// A refund request in the ncshipment v4 namespace.
    pub fn new(email: &str) -> Self {
        Self {
            xmlns: NAMESPACE,
            email: email.to_owned(),
        }
    }

    /// The XML body.
    pub fn to_xml(&self) -> Result<String, quick_xml::SeError> {
        quick_xml::se::to_string(self)
    }
}

/// Canada Post's answer to a refund request: the service ticket that follows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RefundTicket {
    /// When the ticket was opened (a date, as Canada Post writes it).
    #[serde(rename = "service-ticket-date")]
    pub date: String,
    /// The ticket's id.
    #[serde(rename = "service-ticket-id")]
    pub id: String,
}

impl RefundTicket {
    /// Reads a `<non-contract-shipment-refund-request-info>` document.
    pub fn from_xml(xml: &str) -> Result<Self, quick_xml::DeError> {
        let ticket: Self = quick_xml::de::from_str(xml)?;
        Ok(Self {
            date: ticket.date.trim().to_owned(),
            id: ticket.id.trim().to_owned(),
        })
    }
}

/// One carrier message: its code and description (e.g. `9111`, "Postal code is not
/// valid for province.").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CarrierMessage {
    /// Canada Post's code.
    pub code: String,
    /// What is wrong, in the requested language.
    pub description: String,
}

#[derive(Deserialize)]
struct MessagesXml {
    #[serde(rename = "message", default)]
    messages: Vec<CarrierMessage>,
}

/// Reads a `<messages>` error document; `None` when the body is something else.
pub fn parse_messages(xml: &str) -> Option<Vec<CarrierMessage>> {
    if !xml.contains("<messages") {
        return None;
    }
    quick_xml::de::from_str::<MessagesXml>(xml)
        .ok()
        .map(|doc| doc.messages)
        .filter(|messages| !messages.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_gives_the_shipment_id_pin_and_label_link() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<non-contract-shipment-info xmlns="http://www.canadapost.ca/ws/ncshipment-v4">
  <shipment-id>406951321983787352</shipment-id>
  <tracking-pin>12345678901234</tracking-pin>
  <links>
    <link rel="self" href="https://x/rs/1/ncshipment/4" media-type="application/vnd.cpc.ncshipment-v4+xml"/>
    <link rel="label" href="https://x/rs/artifact/abc/1/0" media-type="application/pdf" index="0"/>
  </links>
</non-contract-shipment-info>"#;
        let info = ShipmentInfo::from_xml(xml).unwrap();
        assert_eq!(info.shipment_id, "406951321983787352");
        assert_eq!(info.tracking_pin.as_deref(), Some("12345678901234"));
        assert_eq!(
            info.label_url.as_deref(),
            Some("https://x/rs/artifact/abc/1/0")
        );
        assert_eq!(info.refund_url, None);
    }

    #[test]
    fn the_list_gives_each_shipments_link() {
        let xml = r#"<non-contract-shipments xmlns="http://www.canadapost.ca/ws/ncshipment-v4">
  <link rel="shipment" href="https://x/rs/1/ncshipment/4001" media-type="application/vnd.cpc.ncshipment-v4+xml"/>
  <link rel="shipment" href="https://x/rs/1/ncshipment/4002" media-type="application/vnd.cpc.ncshipment-v4+xml"/>
</non-contract-shipments>"#;
        assert_eq!(
            shipment_links(xml).unwrap(),
            [
                "https://x/rs/1/ncshipment/4001",
                "https://x/rs/1/ncshipment/4002"
            ]
        );
        let empty =
            r#"<non-contract-shipments xmlns="http://www.canadapost.ca/ws/ncshipment-v4"/>"#;
        assert!(shipment_links(empty).unwrap().is_empty());
    }

    #[test]
    fn the_details_give_the_reference_the_purchase_set() {
        let xml = r#"<non-contract-shipment-details xmlns="http://www.canadapost.ca/ws/ncshipment-v4">
  <final-shipping-point>K1P5N2</final-shipping-point>
  <tracking-pin>73120984561207</tracking-pin>
  <delivery-spec>
    <service-code>DOM.EP</service-code>
    <parcel-characteristics><weight>2.250</weight></parcel-characteristics>
    <preferences><show-packing-instructions>false</show-packing-instructions></preferences>
    <references><customer-ref-1> BB-20417-A </customer-ref-1></references>
  </delivery-spec>
</non-contract-shipment-details>"#;
        assert_eq!(
            details_reference(xml).unwrap().as_deref(),
            Some("BB-20417-A")
        );
        let without = xml.replace(
            "<references><customer-ref-1> BB-20417-A </customer-ref-1></references>",
            "",
        );
        assert_eq!(details_reference(&without).unwrap(), None);
    }

    #[test]
    fn a_refund_request_and_its_ticket() {
        assert_eq!(
            RefundRequest::new("desk@example.ca").to_xml().unwrap(),
            r#"<non-contract-shipment-refund-request xmlns="http://www.canadapost.ca/ws/ncshipment-v4"><email>desk@example.ca</email></non-contract-shipment-refund-request>"#
        );
        let answer = r#"<non-contract-shipment-refund-request-info xmlns="http://www.canadapost.ca/ws/ncshipment-v4"><service-ticket-date>2026-03-04</service-ticket-date><service-ticket-id>GT12345678</service-ticket-id></non-contract-shipment-refund-request-info>"#;
        assert_eq!(
            RefundTicket::from_xml(answer).unwrap(),
            RefundTicket {
                date: "2026-03-04".into(),
                id: "GT12345678".into()
            }
        );
    }

    #[test]
    fn a_messages_document_gives_each_code_and_description() {
        let xml = r#"<messages xmlns="http://www.canadapost.ca/ws/messages"><message><code>9111</code><description>Postal code is not valid for province.</description></message></messages>"#;
        assert_eq!(
            parse_messages(xml),
            Some(vec![CarrierMessage {
                code: "9111".into(),
                description: "Postal code is not valid for province.".into()
            }])
        );
        assert_eq!(parse_messages("<html>Bad gateway</html>"), None);
    }
}
