//! Canada Post non-contract shipments: the `non-contract-shipment` request, checked
//! the way the real service checks it, and the shipments bought so far.
//!
//! Like the real service, every accepted request buys a new shipment: Canada Post has
//! no idempotency key, so a caller that retries blindly pays twice. The simulator
//! keeps every shipment so that tests can see it did not, lists them by creation time
//! and takes refund requests, as a caller settling an unknown outcome needs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use quick_xml::events::Event;
use quick_xml::Reader;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::state::timestamp;

/// The ncshipment namespace.
pub const NAMESPACE: &str = "http://www.canadapost.ca/ws/ncshipment-v4";

/// Non-contract service codes Canada Post accepts.
const SERVICE_CODES: &[&str] = &[
    "DOM.RP",
    "DOM.EP",
    "DOM.XP",
    "DOM.PC",
    "DOM.LIB",
    "USA.EP",
    "USA.SP.AIR",
    "USA.TP",
    "USA.XP",
    "USA.PW.ENV",
    "USA.PW.PAK",
    "USA.PW.PARCEL",
    "INT.XP",
    "INT.IP.AIR",
    "INT.IP.SURF",
    "INT.SP.AIR",
    "INT.SP.SURF",
    "INT.TP",
    "INT.PW.ENV",
    "INT.PW.PAK",
    "INT.PW.PARCEL",
];

/// Canadian province and territory codes.
const PROVINCES: &[&str] = &[
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
];

/// Heaviest parcel, kg (the schema allows 999.999; Canada Post ships up to 30).
const MAX_WEIGHT_KG: f64 = 30.0;

/// One `<message>` of a Canada Post error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpMessage {
    /// The code, e.g. `9111`.
    pub code: String,
    /// What was wrong.
    pub description: String,
}

impl CpMessage {
    fn new(code: &str, description: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            description: description.into(),
        }
    }
}

/// A bought shipment, for `/_sim/state` and the label artifact.
#[derive(Debug, Clone, Serialize)]
pub struct Shipment {
    /// Canada Post's shipment id.
    pub shipment_id: String,
    pub tracking_pin: String,
    /// The customer number in the path.
    pub customer_number: String,
    /// The key in the label link (`/rs/artifact/{artifact_id}/{page}/0`).
    pub artifact_id: String,
    /// The service bought.
    pub service_code: String,
    /// Who it goes to and where, as printed on the label.
    pub destination: Vec<String>,
    /// `customer-ref-1`, usually the order number.
    pub customer_ref_1: Option<String>,
    pub customer_ref_2: Option<String>,
    /// Parcel weight, kg, as sent.
    pub weight: String,
    /// When it was bought.
    pub created_at: String,
    /// The refund requested for it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund: Option<Refund>,
    /// Where it was mailed from: the requested shipping point, else the sender's
    /// postal code.
    #[serde(skip)]
    pub final_shipping_point: String,
    /// The `<delivery-spec>` element of the purchase, as sent: its details repeat it.
    #[serde(skip)]
    pub delivery_spec_xml: String,
    #[serde(skip)]
    created: DateTime<Utc>,
}

/// A refund request taken for a shipment.
#[derive(Debug, Clone, Serialize)]
pub struct Refund {
    /// The service ticket Canada Post opened.
    pub service_ticket_id: String,
    /// The ticket's date, `YYYY-MM-DD`.
    pub service_ticket_date: String,
    /// Where the answer goes.
    pub email: String,
}

/// Every shipment bought, by shipment id.
#[derive(Debug, Default)]
pub struct Shipments {
    by_id: BTreeMap<String, Shipment>,
    sequence: u64,
}

impl Shipments {
    /// Buys a shipment for a request that passed [`parse_request`]; `xml` is that
    /// request as sent.
    pub fn create(
        &mut self,
        customer_number: &str,
        request: &NonContractShipment,
        xml: &str,
        now: DateTime<Utc>,
    ) -> Shipment {
        self.sequence += 1;
        let uuid = Uuid::new_v4().as_u128();
        // 18-digit shipment ids and 16-digit PINs, as Canada Post issues them.
        let shipment_id = format!("4{:017}", uuid % 100_000_000_000_000_000);
        let tracking_pin = format!("{:016}", (uuid >> 64) % 10_000_000_000_000_000);
        let spec = &request.delivery_spec;
        let destination = &spec.destination;
        let address = &destination.address_details;
        let lines = [
            destination.name.clone(),
            destination.company.clone(),
            address.address_line_1.clone(),
            address.address_line_2.clone(),
            Some(
                [
                    address.city.as_deref(),
                    address.prov_state.as_deref(),
                    address.postal_zip_code.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            ),
            address.country_code.clone(),
        ];
        let references = spec.references.as_ref();
        let shipment = Shipment {
            shipment_id: shipment_id.clone(),
            tracking_pin,
            customer_number: customer_number.to_owned(),
            artifact_id: format!("{:016x}", uuid as u64),
            service_code: spec.service_code.clone().unwrap_or_default(),
            destination: lines
                .into_iter()
                .flatten()
                .filter(|l| !l.trim().is_empty())
                .collect(),
            customer_ref_1: references.and_then(|r| r.customer_ref_1.clone()),
            customer_ref_2: references.and_then(|r| r.customer_ref_2.clone()),
            weight: spec
                .parcel_characteristics
                .as_ref()
                .and_then(|p| p.weight.clone())
                .unwrap_or_default(),
            created_at: timestamp(now),
            refund: None,
            final_shipping_point: request
                .requested_shipping_point
                .clone()
                .or_else(|| {
                    spec.sender
                        .as_ref()
                        .and_then(|s| s.address_details.postal_zip_code.clone())
                })
                .unwrap_or_default(),
            delivery_spec_xml: element_xml(xml, "delivery-spec").unwrap_or_default(),
            created: now,
        };
        self.by_id.insert(shipment_id, shipment.clone());
        shipment
    }

    /// One shipment.
    pub fn get(&self, shipment_id: &str) -> Option<&Shipment> {
        self.by_id.get(shipment_id)
    }

    /// The shipment whose label artifact has this id.
    pub fn by_artifact(&self, artifact_id: &str) -> Option<&Shipment> {
        self.by_id.values().find(|s| s.artifact_id == artifact_id)
    }

    /// Every shipment.
    pub fn all(&self) -> impl Iterator<Item = &Shipment> {
        self.by_id.values()
    }

    /// The shipments of `customer_number` created from `from` to `to`, both included,
    /// oldest first.
    pub fn created_between(
        &self,
        customer_number: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<&Shipment> {
        let mut found: Vec<&Shipment> = self
            .by_id
            .values()
            .filter(|s| {
                s.customer_number == customer_number && s.created >= from && s.created <= to
            })
            .collect();
        found.sort_by_key(|s| s.created);
        found
    }

    /// The shipments of `customer_number` with this tracking PIN.
    pub fn with_tracking_pin(&self, customer_number: &str, pin: &str) -> Vec<&Shipment> {
        self.by_id
            .values()
            .filter(|s| s.customer_number == customer_number && s.tracking_pin == pin)
            .collect()
    }

    /// Takes a refund request for a shipment; a second request for the same shipment
    /// answers the ticket of the first. `None` when there is no such shipment.
    pub fn request_refund(
        &mut self,
        shipment_id: &str,
        email: &str,
        now: DateTime<Utc>,
    ) -> Option<Refund> {
        let shipment = self.by_id.get_mut(shipment_id)?;
        let refund = shipment.refund.get_or_insert_with(|| Refund {
            service_ticket_id: format!(
                "GT{}",
                &shipment.shipment_id[shipment.shipment_id.len() - 8..]
            ),
            service_ticket_date: now.format("%Y-%m-%d").to_string(),
            email: email.to_owned(),
        });
        Some(refund.clone())
    }
}

/// The element `name` of `xml` (its first occurrence, tags included), as written.
fn element_xml(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{name}"))?;
    let close = format!("</{name}>");
    let end = xml[start..].find(&close)? + start + close.len();
    Some(xml[start..end].to_owned())
}

/// `<non-contract-shipment>`, as far as the simulator reads it. Every field is
/// optional here so that a missing one gets Canada Post's message, not a parse error.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct NonContractShipment {
    pub requested_shipping_point: Option<String>,
    #[serde(default)]
    pub delivery_spec: DeliverySpec,
}

/// `delivery-spec`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DeliverySpec {
    pub service_code: Option<String>,
    pub sender: Option<Sender>,
    #[serde(default)]
    pub destination: Destination,
    pub parcel_characteristics: Option<ParcelCharacteristics>,
    pub preferences: Option<Preferences>,
    pub references: Option<References>,
}

/// `sender`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Sender {
    pub name: Option<String>,
    pub company: Option<String>,
    pub contact_phone: Option<String>,
    #[serde(default)]
    pub address_details: Address,
}

/// `destination`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Destination {
    pub name: Option<String>,
    pub company: Option<String>,
    #[serde(default)]
    pub address_details: Address,
}

/// `address-details` of a sender or a destination.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Address {
    pub address_line_1: Option<String>,
    pub address_line_2: Option<String>,
    pub city: Option<String>,
    pub prov_state: Option<String>,
    /// `country-code` (destinations only).
    pub country_code: Option<String>,
    pub postal_zip_code: Option<String>,
}

/// `parcel-characteristics`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ParcelCharacteristics {
    /// `weight`, kg.
    pub weight: Option<String>,
}

/// `preferences`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Preferences {
    pub show_packing_instructions: Option<String>,
}

/// `references`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct References {
    pub customer_ref_1: Option<String>,
    pub customer_ref_2: Option<String>,
}

/// Parses and checks a `non-contract-shipment` document; every problem found is one
/// message.
pub fn parse_request(xml: &str) -> Result<NonContractShipment, Vec<CpMessage>> {
    check_root(xml).map_err(|m| vec![m])?;
    let request: NonContractShipment = quick_xml::de::from_str(xml).map_err(|err| {
        vec![CpMessage::new(
            "E001",
            format!("The request does not follow the ncshipment-v4 schema: {err}"),
        )]
    })?;
    let mut problems = Vec::new();
    let spec = &request.delivery_spec;
    match spec.service_code.as_deref().map(str::trim) {
        None | Some("") => problems.push(CpMessage::new("E001", "service-code is required.")),
        Some(code) if !SERVICE_CODES.contains(&code) => problems.push(CpMessage::new(
            "E001",
            format!("service-code {code} is not a non-contract service."),
        )),
        Some(_) => {}
    }
    if let Some(point) = request.requested_shipping_point.as_deref() {
        if !is_canadian_postal_code(point) {
            problems.push(CpMessage::new(
                "9111",
                format!("requested-shipping-point {point} is not a valid postal code."),
            ));
        }
    }
    match &spec.sender {
        None => problems.push(CpMessage::new("E001", "sender is required.")),
        Some(sender) => {
            require(&mut problems, "sender/company", sender.company.as_deref());
            require(
                &mut problems,
                "sender/contact-phone",
                sender.contact_phone.as_deref(),
            );
            let address = &sender.address_details;
            require(
                &mut problems,
                "sender/address-details/address-line-1",
                address.address_line_1.as_deref(),
            );
            require(
                &mut problems,
                "sender/address-details/city",
                address.city.as_deref(),
            );
            check_province(&mut problems, "sender", address.prov_state.as_deref());
            check_postal_code(&mut problems, "sender", address.postal_zip_code.as_deref());
        }
    }
    let destination = &spec.destination.address_details;
    require(
        &mut problems,
        "destination/address-details/address-line-1",
        destination.address_line_1.as_deref(),
    );
    match destination.country_code.as_deref().map(str::trim) {
        None | Some("") => problems.push(CpMessage::new(
            "E001",
            "destination/address-details/country-code is required.",
        )),
        Some("CA") => {
            if spec
                .service_code
                .as_deref()
                .is_some_and(|c| !c.starts_with("DOM."))
            {
                problems.push(CpMessage::new(
                    "E001",
                    "A domestic destination needs a DOM service-code.",
                ));
            }
            check_province(
                &mut problems,
                "destination",
                destination.prov_state.as_deref(),
            );
            check_postal_code(
                &mut problems,
                "destination",
                destination.postal_zip_code.as_deref(),
            );
        }
        Some(_) => {}
    }
    match spec
        .parcel_characteristics
        .as_ref()
        .and_then(|p| p.weight.as_deref())
        .map(str::trim)
    {
        None | Some("") => problems.push(CpMessage::new(
            "E001",
            "parcel-characteristics/weight is required.",
        )),
        Some(weight) => match weight.parse::<f64>() {
            Ok(kg) if kg > 0.0 && kg <= MAX_WEIGHT_KG => {}
            _ => problems.push(CpMessage::new(
                "E001",
                format!("weight {weight} must be above 0 and at most {MAX_WEIGHT_KG} kg."),
            )),
        },
    }
    if spec
        .preferences
        .as_ref()
        .and_then(|p| p.show_packing_instructions.as_deref())
        .is_none()
    {
        problems.push(CpMessage::new(
            "E001",
            "preferences/show-packing-instructions is required.",
        ));
    }
    if let Some(reference) = spec
        .references
        .as_ref()
        .and_then(|r| r.customer_ref_1.as_deref())
    {
        if reference.chars().count() > 35 {
            problems.push(CpMessage::new(
                "E001",
                "references/customer-ref-1 is longer than 35 characters.",
            ));
        }
    }
    if problems.is_empty() {
        Ok(request)
    } else {
        Err(problems)
    }
}

/// The document must be a `non-contract-shipment` in the ncshipment-v4 namespace.
fn check_root(xml: &str) -> Result<(), CpMessage> {
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => {
                if start.local_name().as_ref() != "non-contract-shipment" {
                    return Err(CpMessage::new(
                        "E001",
                        "The root element must be non-contract-shipment.",
                    ));
                }
                let namespace = start
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == "xmlns")
                    .map(|a| a.value.to_string());
                if namespace.as_deref() != Some(NAMESPACE) {
                    return Err(CpMessage::new(
                        "E001",
                        format!("non-contract-shipment must be in the namespace {NAMESPACE}."),
                    ));
                }
                return Ok(());
            }
            Ok(Event::Eof) => return Err(CpMessage::new("E001", "The request body is empty.")),
            Ok(_) => {}
            Err(err) => {
                return Err(CpMessage::new(
                    "E001",
                    format!("The request is not well-formed XML: {err}"),
                ))
            }
        }
    }
}

fn require(problems: &mut Vec<CpMessage>, path: &str, value: Option<&str>) {
    if value.is_none_or(|v| v.trim().is_empty()) {
        problems.push(CpMessage::new("E001", format!("{path} is required.")));
    }
}

fn check_province(problems: &mut Vec<CpMessage>, party: &str, value: Option<&str>) {
    match value.map(str::trim) {
        Some(code) if PROVINCES.contains(&code) => {}
        Some(code) => problems.push(CpMessage::new(
            "E001",
            format!("{party}/address-details/prov-state {code} is not a Canadian province."),
        )),
        None => problems.push(CpMessage::new(
            "E001",
            format!("{party}/address-details/prov-state is required."),
        )),
    }
}

fn check_postal_code(problems: &mut Vec<CpMessage>, party: &str, value: Option<&str>) {
    match value {
        Some(code) if is_canadian_postal_code(code) => {}
        Some(code) => problems.push(CpMessage::new(
            "9111",
            format!("{party} postal code {code} is not valid."),
        )),
        None => problems.push(CpMessage::new(
            "9111",
            format!("{party}/address-details/postal-zip-code is required."),
        )),
    }
}

/// `A1A1A1`, upper case, no space: the form the schema's PostalCodeType takes.
fn is_canadian_postal_code(code: &str) -> bool {
    let chars: Vec<char> = code.trim().chars().collect();
    chars.len() == 6
        && chars.iter().enumerate().all(|(i, c)| {
            if i % 2 == 0 {
                c.is_ascii_uppercase()
            } else {
                c.is_ascii_digit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const VALID: &str = r#"<non-contract-shipment xmlns="http://www.canadapost.ca/ws/ncshipment-v4">
  <requested-shipping-point>K1A0B1</requested-shipping-point>
  <delivery-spec>
    <service-code>DOM.EP</service-code>
    <sender><company>Refurb Co</company><contact-phone>4165551212</contact-phone>
      <address-details><address-line-1>123 King St</address-line-1><city>Ottawa</city>
        <prov-state>ON</prov-state><postal-zip-code>K1A0B1</postal-zip-code></address-details></sender>
    <destination><name>Jane Doe</name>
      <address-details><address-line-1>500 Main St</address-line-1><city>Toronto</city>
        <prov-state>ON</prov-state><country-code>CA</country-code><postal-zip-code>M5V3L9</postal-zip-code></address-details></destination>
    <parcel-characteristics><weight>2.500</weight>
      <dimensions><length>40</length><width>30</width><height>8</height></dimensions></parcel-characteristics>
    <preferences><show-packing-instructions>false</show-packing-instructions></preferences>
    <references><customer-ref-1>Order_00010-A</customer-ref-1></references>
  </delivery-spec>
</non-contract-shipment>"#;

    #[test]
    fn the_reference_example_is_accepted() {
        let request = parse_request(VALID).unwrap();
        assert_eq!(
            request.delivery_spec.service_code.as_deref(),
            Some("DOM.EP")
        );
        assert_eq!(
            request
                .delivery_spec
                .references
                .and_then(|r| r.customer_ref_1)
                .as_deref(),
            Some("Order_00010-A")
        );
    }

    #[test]
    fn a_bad_postal_code_is_message_9111() {
        let xml = VALID.replace("M5V3L9", "M5V 3L9");
        let problems = parse_request(&xml).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].code, "9111");
    }

    #[test]
    fn a_wrong_namespace_is_refused() {
        let xml = VALID.replace("ncshipment-v4", "shipment-v8");
        assert!(parse_request(&xml).is_err());
    }

    #[test]
    fn every_missing_field_is_reported() {
        let xml = r#"<non-contract-shipment xmlns="http://www.canadapost.ca/ws/ncshipment-v4"><delivery-spec/></non-contract-shipment>"#;
        let problems = parse_request(xml).unwrap_err();
        assert!(problems.len() >= 4, "{problems:?}");
    }

    #[test]
    fn shipments_get_distinct_ids_and_pins() {
        let request = parse_request(VALID).unwrap();
        let mut shipments = Shipments::default();
        let a = shipments.create("0001234567", &request, VALID, Utc::now());
        let b = shipments.create("0001234567", &request, VALID, Utc::now());
        assert_ne!(a.shipment_id, b.shipment_id);
        assert_ne!(a.tracking_pin, b.tracking_pin);
        assert_eq!(a.tracking_pin.len(), 16);
        assert_eq!(a.shipment_id.len(), 18);
        assert_eq!(
            shipments.by_artifact(&a.artifact_id).unwrap().shipment_id,
            a.shipment_id
        );
        assert!(a.delivery_spec_xml.starts_with("<delivery-spec>"));
        assert!(a.delivery_spec_xml.ends_with("</delivery-spec>"));
        assert_eq!(a.final_shipping_point, "K1A0B1");
    }

    #[test]
    fn shipments_are_listed_by_creation_time_and_refunded_once() {
        let request = parse_request(VALID).unwrap();
        let mut shipments = Shipments::default();
        let noon = DateTime::parse_from_rfc3339("2026-03-04T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let early = shipments.create("0001234567", &request, VALID, noon);
        let late = shipments.create(
            "0001234567",
            &request,
            VALID,
            noon + chrono::Duration::minutes(10),
        );
        let listed = shipments.created_between(
            "0001234567",
            noon - chrono::Duration::minutes(1),
            noon + chrono::Duration::minutes(1),
        );
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].shipment_id, early.shipment_id);
        assert!(shipments
            .created_between("0009999999", noon, noon + chrono::Duration::hours(1))
            .is_empty());
        let first = shipments
            .request_refund(&late.shipment_id, "desk@example.ca", noon)
            .unwrap();
        let again = shipments
            .request_refund(&late.shipment_id, "other@example.ca", noon)
            .unwrap();
        assert_eq!(first.service_ticket_id, again.service_ticket_id);
        assert!(shipments
            .request_refund("nope", "desk@example.ca", noon)
            .is_none());
    }
}
