//! What a price earns, and the lowest price that still earns the margin floor.
//!
//! With `L` the landed cost, `r` the channel's referral fee as a fraction of the price
//! and `f` its fixed fee per unit, the net margin at price `p` is
//! `(p − L − r·p − f) / p`. Solving `net margin = m / 100` for `p` gives the floor price
//! `(L + f) / (1 − r − m/100)`, rounded **up** to the cent so that the cent it lands on
//! still keeps the margin.
//!
//! Every figure is computed exactly in [`Decimal`] and rounded once, at the end, to
//! cents (amounts) or hundredths of a percent (percentages).

use rust_decimal::{Decimal, RoundingStrategy};

/// One hundred, the scale of every percentage here.
const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

/// Rounds to the cent towards the higher amount (a floor price: the cent below would
/// miss the margin).
pub fn up_to_cent(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::ToPositiveInfinity)
}

/// Rounds to the cent towards the lower amount (a competitor beat: the cent above would
/// not beat it).
pub fn down_to_cent(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::ToNegativeInfinity)
}

/// Rounds to the cent, a half cent going up (percent changes, reported margins).
pub fn half_up_to_cent(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// `amount` changed by `pct` percent (`-5` is five percent less), rounded half-up to
/// the cent.
pub fn changed_by_pct(amount: Decimal, pct: Decimal) -> Decimal {
    half_up_to_cent(amount * (HUNDRED + pct) / HUNDRED)
}

/// What a channel keeps of each sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelFees {
    referral_pct: Decimal,
    fixed: Decimal,
}

/// Fees that cannot be a channel's: a referral fee of 100 % or more leaves no price
/// that covers any cost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidFees {
    /// The referral percentage is negative or 100 or more.
    #[error("referral_pct must be at least 0 and below 100 (a percentage of the price), got {0}")]
    ReferralPct(Decimal),
    /// The fixed fee is negative.
    #[error("fixed must not be negative, got {0}")]
    Fixed(Decimal),
}

impl ChannelFees {
    /// A referral fee of `referral_pct` percent of the price (`15` for 15 %) and a fixed
    /// fee per unit sold.
    pub fn new(referral_pct: Decimal, fixed: Decimal) -> Result<Self, InvalidFees> {
        if referral_pct < Decimal::ZERO || referral_pct >= HUNDRED {
            return Err(InvalidFees::ReferralPct(referral_pct));
        }
        if fixed < Decimal::ZERO {
            return Err(InvalidFees::Fixed(fixed));
        }
        Ok(Self {
            referral_pct,
            fixed,
        })
    }

    /// The referral fee as a percentage of the price.
    pub fn referral_pct(&self) -> Decimal {
        self.referral_pct
    }

    /// The fixed fee per unit.
    pub fn fixed(&self) -> Decimal {
        self.fixed
    }

    /// The referral fee as a fraction of the price (`r` in the formulas).
    fn referral_fraction(&self) -> Decimal {
        self.referral_pct / HUNDRED
    }
}

/// The exact net margin at `price`, as a fraction of it (`0.25` for 25 %); `None` at a
/// price of zero, where a margin has no meaning.
pub fn net_margin_fraction(
    price: Decimal,
    landed_cost: Decimal,
    fees: &ChannelFees,
) -> Option<Decimal> {
    if price.is_zero() {
        return None;
    }
    Some(net_amount(price, landed_cost, fees) / price)
}

/// `p − L − r·p − f`, unrounded.
fn net_amount(price: Decimal, landed_cost: Decimal, fees: &ChannelFees) -> Decimal {
    price - landed_cost - fees.referral_fraction() * price - fees.fixed
}

/// The lowest price, in cents, whose net margin is at least `margin_floor_pct` percent;
/// `None` when no price reaches it (the referral fee and the margin take 100 % or more
/// of every price).
pub fn floor_price(
    landed_cost: Decimal,
    fees: &ChannelFees,
    margin_floor_pct: Decimal,
) -> Option<Decimal> {
    let share_left = Decimal::ONE - fees.referral_fraction() - margin_floor_pct / HUNDRED;
    if share_left <= Decimal::ZERO {
        return None;
    }
    Some(up_to_cent((landed_cost + fees.fixed) / share_left))
}

/// What a sale at one price earns, rounded for people to read: amounts to the cent,
/// percentages of the price to two decimals, halves going up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Margins {
    /// Price less landed cost.
    pub gross: Decimal,
    /// `gross` as a percentage of the price; `None` at a price of zero.
    pub gross_pct: Option<Decimal>,
    /// Price less landed cost and the channel's fees.
    pub net: Decimal,
    /// `net` as a percentage of the price; `None` at a price of zero.
    pub net_pct: Option<Decimal>,
}

impl Margins {
    /// The margins of a sale at `price` of a unit that cost `landed_cost`.
    pub fn at(price: Decimal, landed_cost: Decimal, fees: &ChannelFees) -> Self {
        let gross = price - landed_cost;
        let net = net_amount(price, landed_cost, fees);
        let pct =
            |amount: Decimal| (!price.is_zero()).then(|| half_up_to_cent(amount * HUNDRED / price));
        Self {
            gross: half_up_to_cent(gross),
            gross_pct: pct(gross),
            net: half_up_to_cent(net),
            net_pct: pct(net),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn fees(referral_pct: &str, fixed: &str) -> ChannelFees {
        ChannelFees::new(dec(referral_pct), dec(fixed)).unwrap()
    }

    #[test]
    fn the_floor_price_is_rounded_up_to_the_cent() {
        // (10 + 1) / (1 − 0.15 − 0.20) = 16.923… → 16.93
        assert_eq!(
            floor_price(dec("10"), &fees("15", "1"), dec("20")),
            Some(dec("16.93"))
        );
    }

    #[test]
    fn an_exact_floor_price_is_not_rounded_up_a_cent() {
        // (12 + 1) / (1 − 0.15 − 0.20) = 20 exactly
        assert_eq!(
            floor_price(dec("12"), &fees("15", "1"), dec("20")),
            Some(dec("20.00"))
        );
    }

    #[test]
    fn the_floor_price_keeps_the_margin_and_the_cent_below_does_not() {
        let fees = fees("15", "0.99");
        let landed = dec("7.3125");
        let floor = floor_price(landed, &fees, dec("25")).unwrap();
        let kept = net_margin_fraction(floor, landed, &fees).unwrap();
        let missed = net_margin_fraction(floor - dec("0.01"), landed, &fees).unwrap();
        assert!(kept >= dec("0.25"), "{floor} keeps {kept}");
        assert!(missed < dec("0.25"), "a cent less keeps {missed}");
    }

    #[test]
    fn no_floor_price_when_fees_and_margin_take_the_whole_price() {
        assert_eq!(floor_price(dec("10"), &fees("30", "0"), dec("70")), None);
        assert_eq!(floor_price(dec("10"), &fees("30", "0"), dec("75")), None);
    }

    #[test]
    fn net_margin_follows_the_formula() {
        // (20 − 10 − 0.15·20 − 1) / 20 = 6 / 20
        assert_eq!(
            net_margin_fraction(dec("20"), dec("10"), &fees("15", "1")),
            Some(dec("0.3"))
        );
        assert_eq!(
            net_margin_fraction(dec("0"), dec("10"), &fees("15", "1")),
            None
        );
    }

    #[test]
    fn margins_are_reported_to_the_cent() {
        // gross 24.99 − 10 = 14.99 (59.98…%); net 24.99 − 10 − 3.7485 − 1 = 10.2415
        // (40.98…%)
        let margins = Margins::at(dec("24.99"), dec("10"), &fees("15", "1"));
        assert_eq!(margins.gross, dec("14.99"));
        assert_eq!(margins.gross_pct, Some(dec("59.98")));
        assert_eq!(margins.net, dec("10.24"));
        assert_eq!(margins.net_pct, Some(dec("40.98")));
    }

    #[test]
    fn a_half_cent_of_margin_rounds_up() {
        // net 10.00 − 5 − 0.05·10 − 0.125 = 4.375 → 4.38; gross pct 50.00
        let margins = Margins::at(dec("10.00"), dec("5"), &fees("5", "0.125"));
        assert_eq!(margins.net, dec("4.38"));
        assert_eq!(margins.net_pct, Some(dec("43.75")));
        assert_eq!(margins.gross_pct, Some(dec("50.00")));
    }

    #[test]
    fn a_loss_is_a_negative_margin() {
        let margins = Margins::at(dec("10"), dec("12.345"), &fees("10", "0"));
        assert_eq!(margins.gross, dec("-2.35"));
        assert_eq!(margins.net, dec("-3.35"));
        assert_eq!(margins.net_pct, Some(dec("-33.45")));
    }

    #[test]
    fn percent_changes_round_half_up() {
        // 19.90 · 0.95 = 18.905 → 18.91
        assert_eq!(changed_by_pct(dec("19.90"), dec("-5")), dec("18.91"));
        // 10.10 · 1.15 = 11.615 → 11.62
        assert_eq!(changed_by_pct(dec("10.10"), dec("15")), dec("11.62"));
        // 10.01 · 0.9 = 9.009 → 9.01
        assert_eq!(changed_by_pct(dec("10.01"), dec("-10")), dec("9.01"));
    }

    #[test]
    fn rounding_directions_are_kept_apart() {
        assert_eq!(up_to_cent(dec("16.921")), dec("16.93"));
        assert_eq!(down_to_cent(dec("16.929")), dec("16.92"));
        assert_eq!(half_up_to_cent(dec("16.925")), dec("16.93"));
        assert_eq!(half_up_to_cent(dec("16.9249")), dec("16.92"));
    }

    #[test]
    fn fees_outside_their_range_are_refused() {
        assert_eq!(
            ChannelFees::new(dec("100"), dec("0")),
            Err(InvalidFees::ReferralPct(dec("100")))
        );
        assert_eq!(
            ChannelFees::new(dec("-1"), dec("0")),
            Err(InvalidFees::ReferralPct(dec("-1")))
        );
        assert_eq!(
            ChannelFees::new(dec("15"), dec("-0.01")),
            Err(InvalidFees::Fixed(dec("-0.01")))
        );
    }
}
