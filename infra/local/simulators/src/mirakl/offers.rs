//! The shop's offers and what OF21, OF24, OF02 and OF04 do with them.
//!
//! Offers are kept as OF21's offer objects; fields a seed leaves out get plausible
//! values. OF24 works as Mirakl documents it: it answers an import id at once, and the
//! import replaces each offer named with the fields sent, every field not sent reset
//! (the quantity to 0, the description and the discount gone). Here the import runs
//! as soon as it is created, so OF02 and OF04 show it `COMPLETE`; a line that cannot be
//! applied (an unknown SKU, a price that is not above zero, a missing state) is counted
//! in error with a reason, and its offer is left as it was.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::ApiError;
use crate::state::{parse_timestamp, seed_objects, timestamp};

/// The first import id handed out.
const FIRST_IMPORT_ID: i64 = 3001;

/// The shop's offers, by shop SKU, and the offer imports made.
#[derive(Debug, Default)]
pub struct Offers {
    by_sku: BTreeMap<String, Map<String, Value>>,
    imports: Vec<Map<String, Value>>,
    next_offer_id: i64,
}

impl Offers {
    /// Adds offers (an offer, an array, or `{"offers": [...]}`), completing each with
    /// plausible values; an offer whose SKU exists is kept unless `replace`. Returns
    /// the SKUs added and kept.
    pub fn seed(
        &mut self,
        seed: Value,
        replace: bool,
    ) -> Result<(Vec<String>, Vec<String>), String> {
        let offers = seed_objects(seed, "offers", "an offer")?;
        let (mut added, mut kept) = (Vec::new(), Vec::new());
        for mut offer in offers {
            let Some(sku) = offer
                .get("shop_sku")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                return Err("every offer needs a shop_sku".to_owned());
            };
            if offer.get("price").and_then(Value::as_f64).is_none() {
                return Err(format!("offer {sku} needs a numeric price"));
            }
            if self.by_sku.contains_key(&sku) && !replace {
                kept.push(sku);
                continue;
            }
            self.next_offer_id += 1;
            let defaults = json!({
                "offer_id": 2000 + self.next_offer_id,
                "product_sku": format!("BBC-{sku}"),
                "product_title": format!("Product {sku}"),
                "quantity": 10,
                "state_code": "11",
                "currency_iso_code": "CAD",
                "active": true,
                "leadtime_to_ship": 2,
                "logistic_class": {"code": "M", "label": "Medium"},
                "min_quantity_alert": null,
                "channels": [],
                "all_prices": [],
                "product_references": [],
                "category_code": "CAT-1",
                "category_label": "Electronics",
            });
            if let Value::Object(defaults) = defaults {
                for (name, value) in defaults {
                    offer.entry(name).or_insert(value);
                }
            }
            refresh_prices(&mut offer);
            self.by_sku.insert(sku.clone(), offer);
            added.push(sku);
        }
        Ok((added, kept))
    }

    /// Every offer, by SKU.
    pub fn all(&self) -> impl Iterator<Item = &Map<String, Value>> {
        self.by_sku.values()
    }

    /// Every import, oldest first.
    pub fn imports(&self) -> &[Map<String, Value>] {
        &self.imports
    }

    /// OF21: the offers, filtered by `sku` when given, with their total count.
    pub fn list(&self, sku: Option<&str>) -> (Vec<Value>, usize) {
        let offers: Vec<Value> = self
            .by_sku
            .values()
            .filter(|offer| {
                sku.is_none_or(|sku| offer.get("shop_sku").and_then(Value::as_str) == Some(sku))
            })
            .map(|offer| Value::Object(offer.clone()))
            .collect();
        let count = offers.len();
        (offers, count)
    }

    /// OF24: checks the body, creates the import and runs it; returns its id.
    pub fn import(&mut self, body: &Value, now: DateTime<Utc>) -> Result<i64, ApiError> {
        let lines = body
            .get("offers")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::business("VALIDATION_ERROR", "offers is required"))?;
        let import_id = FIRST_IMPORT_ID + i64::try_from(self.imports.len()).unwrap_or(0);
        let (mut updated, mut errors) = (0_i64, Vec::new());
        for line in lines {
            match self.apply_line(line) {
                Ok(()) => updated += 1,
                Err(reason) => errors.push(reason),
            }
        }
        let read = i64::try_from(lines.len()).unwrap_or(0);
        let in_error = i64::try_from(errors.len()).unwrap_or(0);
        let import = json!({
            "import_id": import_id,
            "date_created": timestamp(now),
            "status": "COMPLETE",
            "reason_status": if errors.is_empty() { Value::Null } else { json!(errors.join("; ")) },
            "has_error_report": !errors.is_empty(),
            "lines_read": read,
            "lines_in_success": updated,
            "lines_in_error": in_error,
            "lines_in_pending": 0,
            "offer_inserted": 0,
            "offer_updated": updated,
            "offer_deleted": 0,
            "mode": "NORMAL",
            "type": "MIRAKL",
            "origin": "API",
        });
        if let Value::Object(import) = import {
            self.imports.push(import);
        }
        Ok(import_id)
    }

    /// One OF24 line: the offer named is replaced by the fields sent (those not sent
    /// reset), keeping what Mirakl owns (ids, product, category).
    fn apply_line(&mut self, line: &Value) -> Result<(), String> {
        let sku = line
            .get("shop_sku")
            .and_then(Value::as_str)
            .ok_or("shop_sku is required")?;
        let existing = self.by_sku.get(sku).ok_or_else(|| {
            format!("{sku}: no offer with this SKU (creating offers is not simulated)")
        })?;
        let price = line
            .get("price")
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("{sku}: price is required"))?;
        if price <= 0.0 {
            return Err(format!("{sku}: the price must be above 0"));
        }
        let state_code = line
            .get("state_code")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{sku}: state_code is required"))?;
        if line.get("update_delete").and_then(Value::as_str) == Some("delete") {
            return Err(format!("{sku}: deleting offers is not simulated"));
        }
        let mut offer = Map::new();
        for kept in [
            "offer_id",
            "product_sku",
            "product_title",
            "product_references",
            "category_code",
            "category_label",
            "currency_iso_code",
            "channels",
            "active",
        ] {
            if let Some(value) = existing.get(kept) {
                offer.insert(kept.to_owned(), value.clone());
            }
        }
        offer.insert("shop_sku".into(), json!(sku));
        offer.insert("state_code".into(), json!(state_code));
        offer.insert("price".into(), line["price"].clone());
        offer.insert(
            "quantity".into(),
            line.get("quantity").cloned().unwrap_or(json!(0)),
        );
        for same in [
            "description",
            "internal_description",
            "price_additional_info",
            "leadtime_to_ship",
            "min_order_quantity",
            "max_order_quantity",
            "min_quantity_alert",
            "package_quantity",
            "product_tax_code",
            "allow_quote_requests",
            "offer_additional_fields",
        ] {
            offer.insert(
                same.to_owned(),
                line.get(same).cloned().unwrap_or(Value::Null),
            );
        }
        if let Some(code) = line.get("logistic_class").and_then(Value::as_str) {
            offer.insert(
                "logistic_class".into(),
                json!({"code": code, "label": code}),
            );
        }
        for (from, to) in [
            ("available_started", "available_start_date"),
            ("available_ended", "available_end_date"),
        ] {
            offer.insert(
                to.to_owned(),
                line.get(from).cloned().unwrap_or(Value::Null),
            );
        }
        if let Some(discount) = line.get("discount").filter(|d| d.is_object()) {
            offer.insert(
                "discount".into(),
                json!({
                    "discount_price": discount.get("price").cloned().unwrap_or(Value::Null),
                    "start_date": discount.get("start_date").cloned().unwrap_or(Value::Null),
                    "end_date": discount.get("end_date").cloned().unwrap_or(Value::Null),
                    "origin_price": line["price"].clone(),
                    "ranges": discount.get("ranges").cloned().unwrap_or(json!([])),
                }),
            );
        }
        refresh_prices(&mut offer);
        self.by_sku.insert(sku.to_owned(), offer);
        Ok(())
    }

    /// OF02: one import.
    pub fn import_status(&self, import_id: &str) -> Result<Value, ApiError> {
        self.imports
            .iter()
            .find(|import| {
                import.get("import_id").map(Value::to_string).as_deref() == Some(import_id)
            })
            .map(|import| Value::Object(import.clone()))
            .ok_or_else(|| ApiError::not_found("IMPORT_NOT_FOUND", format!("import {import_id}")))
    }

    /// OF04: the imports created at or after `start_date` when given, newest first.
    pub fn list_imports(&self, start_date: Option<&str>) -> Result<Vec<Value>, ApiError> {
        let since = match start_date {
            Some(raw) => Some(parse_timestamp(raw).ok_or_else(|| {
                ApiError::bad_request(format!("start_date {raw:?} is not a date-time"))
            })?),
            None => None,
        };
        Ok(self
            .imports
            .iter()
            .rev()
            .filter(|import| {
                since.is_none_or(|since| {
                    import
                        .get("date_created")
                        .and_then(Value::as_str)
                        .and_then(parse_timestamp)
                        .is_some_and(|created| created >= since)
                })
            })
            .map(|import| Value::Object(import.clone()))
            .collect())
    }
}

/// The prices Mirakl derives: the price a buyer pays (the discount price while one is
/// set), the origin price, and the total with the minimum shipping.
fn refresh_prices(offer: &mut Map<String, Value>) {
    let origin = offer.get("price").cloned().unwrap_or(json!(0));
    let discounted = offer
        .get("discount")
        .and_then(|discount| discount.get("discount_price"))
        .filter(|price| price.is_number())
        .cloned();
    let paid = discounted.unwrap_or_else(|| origin.clone());
    offer.insert("price".into(), paid.clone());
    offer.insert("total_price".into(), paid.clone());
    offer.insert(
        "applicable_pricing".into(),
        json!({"price": paid, "unit_origin_price": origin, "volume_prices": []}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded() -> Offers {
        let mut offers = Offers::default();
        offers
            .seed(
                json!({"shop_sku": "SKU-1", "price": 89.99, "quantity": 7, "description": "Boxed"}),
                false,
            )
            .unwrap();
        offers
    }

    #[test]
    fn an_update_replaces_the_offer_and_resets_what_it_leaves_out() {
        let mut offers = seeded();
        let id = offers
            .import(
                &json!({"offers": [{"shop_sku": "SKU-1", "state_code": "11", "price": 84.5}]}),
                Utc::now(),
            )
            .unwrap();
        let (listed, _) = offers.list(Some("SKU-1"));
        assert_eq!(listed[0]["price"], json!(84.5));
        assert_eq!(listed[0]["quantity"], json!(0));
        assert_eq!(listed[0]["description"], Value::Null);
        let import = offers.import_status(&id.to_string()).unwrap();
        assert_eq!(import["status"], "COMPLETE");
        assert_eq!(import["lines_in_error"], 0);
    }

    #[test]
    fn a_line_that_cannot_be_applied_is_in_error_and_changes_nothing() {
        let mut offers = seeded();
        let id = offers
            .import(
                &json!({"offers": [{"shop_sku": "SKU-1", "state_code": "11", "price": 0}]}),
                Utc::now(),
            )
            .unwrap();
        let import = offers.import_status(&id.to_string()).unwrap();
        assert_eq!(import["lines_in_error"], 1);
        assert_eq!(offers.list(Some("SKU-1")).0[0]["price"], json!(89.99));
    }
}
