//! The parcel's weight and size, from product data or the configured default.
//!
//! Weight: the sum of every unit's `weight_grams` when all are known, else the default
//! weight (a guessed partial sum would under-declare the parcel). Size: a single unit's
//! own dimensions when known, else the default box (several units are packed in it).

use rust_decimal::Decimal;

use crate::ops::config::DefaultParcel;
use crate::systems::canadapost::{Dimensions, ParcelCharacteristics};

/// One order line's units as the parcel sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedLine {
    /// Units shipped.
    pub quantity: i32,
    /// One unit's weight, when known.
    pub weight_grams: Option<i32>,
    /// One unit's length in cm, when known.
    pub length_cm: Option<Decimal>,
    /// One unit's width in cm, when known.
    pub width_cm: Option<Decimal>,
    /// One unit's height in cm, when known.
    pub height_cm: Option<Decimal>,
}

/// The parcel to declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parcel {
    /// Kilograms, three decimals.
    pub weight_kg: Decimal,
    /// Length, width, height in cm, one decimal.
    pub dimensions: (Decimal, Decimal, Decimal),
}

impl Parcel {
    /// Works out the parcel for `lines`.
    pub fn for_lines(lines: &[PackedLine], default: &DefaultParcel) -> Self {
        let grams: Option<i64> = lines
            .iter()
            .map(|line| {
                line.weight_grams
                    .map(|grams| i64::from(grams) * i64::from(line.quantity))
            })
            .sum();
        let weight_kg = match grams {
            Some(grams) if grams > 0 && !lines.is_empty() => Decimal::new(grams, 3),
            _ => default.weight_kg,
        };
        let units: i64 = lines.iter().map(|line| i64::from(line.quantity)).sum();
        let own_size = match lines {
            [line] if units == 1 => line.length_cm.zip(line.width_cm).zip(line.height_cm),
            _ => None,
        };
        let dimensions = match own_size {
            Some(((length, width), height)) => (length, width, height),
            None => (default.length_cm, default.width_cm, default.height_cm),
        };
        Self {
            weight_kg: weight_kg.max(Decimal::new(1, 3)).round_dp(3),
            dimensions,
        }
    }

    /// The weight in grams, for `sales.shipments.parcel_weight_grams`.
    pub fn weight_grams(&self) -> i32 {
        use rust_decimal::prelude::ToPrimitive;
        (self.weight_kg * Decimal::from(1000))
            .round()
            .to_i32()
            .unwrap_or(i32::MAX)
    }

    /// As Canada Post's `<parcel-characteristics>`.
    pub fn characteristics(&self) -> ParcelCharacteristics {
        let cm = |value: Decimal| format!("{:.1}", value.round_dp(1));
        ParcelCharacteristics {
            weight: format!("{:.3}", self.weight_kg),
            dimensions: Some(Dimensions {
                length: cm(self.dimensions.0),
                width: cm(self.dimensions.1),
                height: cm(self.dimensions.2),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: DefaultParcel = DefaultParcel {
        weight_kg: Decimal::from_parts(15, 0, 0, false, 1),
        length_cm: Decimal::from_parts(30, 0, 0, false, 0),
        width_cm: Decimal::from_parts(20, 0, 0, false, 0),
        height_cm: Decimal::from_parts(10, 0, 0, false, 0),
    };

    fn line(quantity: i32, grams: Option<i32>, size: Option<(i64, i64, i64)>) -> PackedLine {
        PackedLine {
            quantity,
            weight_grams: grams,
            length_cm: size.map(|s| Decimal::from(s.0)),
            width_cm: size.map(|s| Decimal::from(s.1)),
            height_cm: size.map(|s| Decimal::from(s.2)),
        }
    }

    #[test]
    fn known_weights_are_summed_and_one_unit_keeps_its_own_size() {
        let parcel = Parcel::for_lines(&[line(1, Some(2250), Some((38, 27, 6)))], &DEFAULT);
        let xml = parcel.characteristics();
        assert_eq!(xml.weight, "2.250");
        assert_eq!(xml.dimensions.unwrap().length, "38.0");
        let parcel = Parcel::for_lines(
            &[line(2, Some(500), None), line(1, Some(250), None)],
            &DEFAULT,
        );
        assert_eq!(parcel.weight_grams(), 1250);
        assert_eq!(parcel.dimensions.0, Decimal::from(30));
    }

    #[test]
    fn an_unknown_weight_falls_back_to_the_default_parcel() {
        let parcel = Parcel::for_lines(&[line(1, Some(500), None), line(1, None, None)], &DEFAULT);
        assert_eq!(parcel.characteristics().weight, "1.500");
    }
}
