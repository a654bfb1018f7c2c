//! The guards: whether a customer message is answered automatically, and if not, the
//! first reason it is not, by a stable name recorded with the decision.
//!
//! In order, the first that fails is named:
//!
//! | guard | a person answers when |
//! |---|---|
//! | `not_routine_intent`, `low_confidence`, `hazard` | the text asks for more than order status, tracking or an invoice, is unclear, or is angry, legal, about damage, fraud or safety ([`Classification::text_guard`]) |
//! | `no_template` | no reply is written for the intent, or for the order's situation (a cancelled order asked about) |
//! | `order_not_identified` | the thread has no order we know, or the text names another order than the thread's (or one not of this customer) |
//! | `facts_missing` | a fact the reply states is missing: a shipped order's tracking number or carrier, a ship-by date (or one already past), the customer to address |
//! | `customer_not_last` | the thread's latest message is not the customer's |
//! | `person_replied` | someone of the shop or the operator wrote after this message |
//! | `cooling_off` | the thread had an automatic reply within the cooling-off period |
//! | `max_replies_reached` | the thread had as many automatic replies as allowed |
//!
//! Everything here is pure: the flow loads the facts ([`super::facts`]) and records
//! the verdict.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::classifier::{Classification, Intent, TextGuard};
use super::order_number::OrderNumber;
use super::templates::{long_date, Facts, Placeholder, ReplyTemplates, Situation};
use crate::model::conversation::SenderType;
use crate::systems::mirakl::order_state::OrderState;

/// A guard, by the name recorded in `support.reply_decisions.guard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Guard {
    NotRoutineIntent,
    LowConfidence,
    Hazard,
    NoTemplate,
    OrderNotIdentified,
    FactsMissing,
    CustomerNotLast,
    PersonReplied,
    CoolingOff,
    MaxRepliesReached,
}

impl Guard {
    /// Every guard, in the order they are checked.
    pub const ALL: [Guard; 10] = [
        Self::NotRoutineIntent,
        Self::LowConfidence,
        Self::Hazard,
        Self::NoTemplate,
        Self::OrderNotIdentified,
        Self::FactsMissing,
        Self::CustomerNotLast,
        Self::PersonReplied,
        Self::CoolingOff,
        Self::MaxRepliesReached,
    ];

    /// The stable name, as recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotRoutineIntent => "not_routine_intent",
            Self::LowConfidence => "low_confidence",
            Self::Hazard => "hazard",
            Self::NoTemplate => "no_template",
            Self::OrderNotIdentified => "order_not_identified",
            Self::FactsMissing => "facts_missing",
            Self::CustomerNotLast => "customer_not_last",
            Self::PersonReplied => "person_replied",
            Self::CoolingOff => "cooling_off",
            Self::MaxRepliesReached => "max_replies_reached",
        }
    }

    /// The guard of that name.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|guard| guard.as_str() == name)
    }
}

impl From<TextGuard> for Guard {
    fn from(guard: TextGuard) -> Self {
        match guard {
            TextGuard::NotRoutine => Self::NotRoutineIntent,
            TextGuard::LowConfidence => Self::LowConfidence,
            TextGuard::Hazard => Self::Hazard,
        }
    }
}

/// One message of the thread, as the guards see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadEntry {
    pub id: Uuid,
    pub sender: SenderType,
    pub sent_at: DateTime<Utc>,
}

/// The thread around the customer's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadFacts {
    /// The customer's message being decided.
    pub message_id: Uuid,
    pub message_sent_at: DateTime<Utc>,
    /// Every message of the thread (ours included), oldest first.
    pub messages: Vec<ThreadEntry>,
    /// Automatic replies in the thread so far (in shadow mode: the ones decided).
    pub auto_replies: u32,
    /// When the latest of them was sent (or decided, in shadow mode).
    pub last_auto_reply_at: Option<DateTime<Utc>>,
    /// Whom the reply addresses: the customer's Mirakl id (M12), or a ticket's requester.
    pub customer_participant: Option<String>,
}

/// An order, with what a reply may say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    /// `sales.orders.id`.
    pub id: Uuid,
    /// The Best Buy order number (Mirakl order id).
    pub external_id: String,
    pub commercial_id: Option<String>,
    pub state: OrderState,
    pub placed_at: DateTime<Utc>,
    pub ship_by: Option<DateTime<Utc>>,
    pub shipment: Option<ShipmentFacts>,
}

/// The order's shipment, when one exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentFacts {
    /// `sales.shipments.state`.
    pub state: String,
    /// `sales.shipments.carrier`, e.g. `canada_post`.
    pub carrier: Option<String>,
    pub tracking_pin: Option<String>,
}

/// The orders a message may be about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderCandidates {
    /// The thread's order, when the thread is about one we hold.
    pub thread_order: Option<OrderFacts>,
    /// The thread's Mirakl order id, even when we do not hold that order.
    pub thread_order_id: Option<String>,
    /// The customer's other orders, looked at when the thread names none.
    pub customer_orders: Vec<OrderFacts>,
}

/// The limits of the thread guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub cooling_off: Duration,
    pub max_replies_per_thread: u32,
}

/// What the guards decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every guard held: send `body`, addressed to `customer`, about `order_id`.
    Reply {
        body: String,
        order_id: Uuid,
        customer: String,
        /// Why, in one line.
        reason: String,
    },
    /// A person answers.
    HandOver {
        guard: Guard,
        /// The order, when it was identified.
        order_id: Option<Uuid>,
        /// Why, in one line.
        reason: String,
    },
}

impl Verdict {
    fn hand_over(guard: Guard, order_id: Option<Uuid>, reason: impl Into<String>) -> Self {
        Self::HandOver {
            guard,
            order_id,
            reason: reason.into(),
        }
    }
}

/// Order states in which the parcel has left.
fn has_shipped(order: &OrderFacts) -> bool {
    matches!(
        order.state,
        OrderState::Shipped | OrderState::ToCollect | OrderState::Received
    ) || order.shipment.as_ref().is_some_and(|shipment| {
        matches!(
            shipment.state.as_str(),
            "tracking_reported" | "shipped" | "delivered"
        )
    })
}

/// Order states in which it has not shipped yet and still will.
fn will_ship(order: &OrderFacts) -> bool {
    matches!(
        order.state,
        OrderState::WaitingAcceptance
            | OrderState::WaitingDebit
            | OrderState::WaitingDebitPayment
            | OrderState::Shipping
    )
}

/// The day a time falls on in Canada's Eastern time, taken as standard time (UTC−5)
/// all year: a ship-by date is never stated later than it is in Montréal or Toronto.
fn eastern_day(at: DateTime<Utc>) -> NaiveDate {
    (at - chrono::TimeDelta::hours(5)).date_naive()
}

/// Which order the message is about: the thread's, or the one its text names among
/// the customer's orders. A text naming another order than the thread's is about
/// that other order, which a person must look at.
pub fn identify_order<'a>(
    written: Option<&str>,
    candidates: &'a OrderCandidates,
) -> Result<&'a OrderFacts, String> {
    let written_number = written.and_then(OrderNumber::parse);
    let names = |number: &OrderNumber, order: &OrderFacts| {
        number.names(&order.external_id)
            || order
                .commercial_id
                .as_deref()
                .is_some_and(|commercial| number.names(commercial))
    };
    if let Some(thread_order) = &candidates.thread_order {
        return match (&written_number, written) {
            (Some(number), _) if !names(number, thread_order) => Err(format!(
                "the text names order {}, not the thread's order {}",
                written.unwrap_or_default(),
                thread_order.external_id
            )),
            _ => Ok(thread_order),
        };
    }
    if let Some(thread_order_id) = &candidates.thread_order_id {
        return Err(format!(
            "the thread is about order {thread_order_id}, which is not recorded"
        ));
    }
    let Some(number) = written_number else {
        return Err("the thread is about no order and the text names none".into());
    };
    let mut matching = candidates
        .customer_orders
        .iter()
        .filter(|order| names(&number, order));
    match (matching.next(), matching.next()) {
        (Some(order), None) => Ok(order),
        (Some(_), Some(_)) => Err(format!(
            "order {} matches several of the customer's orders",
            written.unwrap_or_default()
        )),
        (None, _) => Err(format!(
            "order {} is not one of this customer's orders",
            written.unwrap_or_default()
        )),
    }
}

/// Decides one customer message.
pub fn decide(
    classification: &Classification,
    thread: &ThreadFacts,
    candidates: &OrderCandidates,
    templates: &ReplyTemplates,
    limits: Limits,
    now: DateTime<Utc>,
) -> Verdict {
    let intent = classification.intent;
    let language = classification.language;
    if let Err(guard) = classification.text_guard() {
        return Verdict::hand_over(
            guard.into(),
            identify_order(classification.entities.order_id.as_deref(), candidates)
                .ok()
                .map(|order| order.id),
            format!("the text alone rules it out ({})", guard.as_str()),
        );
    }
    if !templates.answers(intent) {
        return Verdict::hand_over(
            Guard::NoTemplate,
            None,
            format!("no reply is written for {}", intent.as_str()),
        );
    }
    let order = match identify_order(classification.entities.order_id.as_deref(), candidates) {
        Ok(order) => order,
        Err(why) => return Verdict::hand_over(Guard::OrderNotIdentified, None, why),
    };
    let stop = |guard, reason: String| Verdict::hand_over(guard, Some(order.id), reason);

    let situation = match intent {
        Intent::InvoiceRequest
            if !matches!(order.state, OrderState::Canceled | OrderState::Refused) =>
        {
            Situation::Any
        }
        Intent::OrderStatus | Intent::TrackingRequest if has_shipped(order) => Situation::Shipped,
        Intent::OrderStatus | Intent::TrackingRequest if will_ship(order) => Situation::NotShipped,
        _ => {
            return stop(
                Guard::NoTemplate,
                format!(
                    "no reply is written for {} about an order in state {}",
                    intent.as_str(),
                    order.state.as_str()
                ),
            )
        }
    };
    let Some(template) = templates.reply(intent, situation, language) else {
        return stop(
            Guard::NoTemplate,
            format!(
                "no {} reply is written for {} when the order is {}",
                language.as_str(),
                intent.as_str(),
                situation.as_str()
            ),
        );
    };

    let mut facts = Facts::default();
    facts.set(Placeholder::OrderId, order.external_id.as_str());
    facts.set(
        Placeholder::OrderDate,
        long_date(eastern_day(order.placed_at), language),
    );
    match order.ship_by {
        Some(ship_by) if situation == Situation::NotShipped && ship_by < now => {
            return stop(
                Guard::FactsMissing,
                format!(
                    "the ship-by date of order {} has passed and it has not shipped",
                    order.external_id
                ),
            )
        }
        Some(ship_by) => facts.set(
            Placeholder::ShipBy,
            long_date(eastern_day(ship_by), language),
        ),
        None => {}
    }
    if let Some(shipment) = &order.shipment {
        if let Some(pin) = shipment
            .tracking_pin
            .as_deref()
            .filter(|pin| !pin.is_empty())
        {
            facts.set(Placeholder::TrackingPin, pin);
            if let Some(carrier) = shipment
                .carrier
                .as_deref()
                .and_then(|code| templates.carrier(code))
            {
                facts.set(Placeholder::Carrier, carrier.name(language));
                facts.set(
                    Placeholder::TrackingUrl,
                    carrier.tracking_url(language, pin),
                );
            }
        }
    }
    let body = match template.render(&facts) {
        Ok(body) => body,
        Err(missing) => {
            return stop(
                Guard::FactsMissing,
                format!(
                    "the reply states the {} of order {}, which is not known",
                    missing.name(),
                    order.external_id
                ),
            )
        }
    };
    let Some(customer) = thread.customer_participant.clone() else {
        return stop(
            Guard::FactsMissing,
            "the thread names no customer to address the reply to".into(),
        );
    };

    if let Some(guard) = thread_guard(thread, limits, now) {
        return stop(guard.0, guard.1);
    }
    Verdict::Reply {
        body,
        order_id: order.id,
        customer,
        reason: format!(
            "every guard held: {} reply ({}) about order {}",
            intent.as_str(),
            situation.as_str(),
            order.external_id
        ),
    }
}

/// The guards on the thread itself: who wrote last, and how many automatic replies it
/// had and when.
fn thread_guard(
    thread: &ThreadFacts,
    limits: Limits,
    now: DateTime<Utc>,
) -> Option<(Guard, String)> {
    let latest = thread
        .messages
        .iter()
        .max_by_key(|entry| (entry.sent_at, entry.id == thread.message_id));
    if let Some(latest) = latest {
        if latest.sender != SenderType::Customer {
            return Some((
                Guard::CustomerNotLast,
                "the thread's latest message is not the customer's".into(),
            ));
        }
    }
    let person_after = thread.messages.iter().any(|entry| {
        matches!(entry.sender, SenderType::Technician | SenderType::Operator)
            && entry.sent_at > thread.message_sent_at
    });
    if person_after {
        return Some((
            Guard::PersonReplied,
            "someone wrote in the thread after the customer's message".into(),
        ));
    }
    let cooling_off =
        chrono::TimeDelta::from_std(limits.cooling_off).unwrap_or(chrono::TimeDelta::MAX);
    if let Some(last) = thread.last_auto_reply_at {
        if now.signed_duration_since(last) < cooling_off {
            return Some((
                Guard::CoolingOff,
                format!(
                    "the thread had an automatic reply less than {} minutes ago",
                    limits.cooling_off.as_secs() / 60
                ),
            ));
        }
    }
    if thread.auto_replies >= limits.max_replies_per_thread {
        return Some((
            Guard::MaxRepliesReached,
            format!(
                "the thread had {} automatic replies already (at most {})",
                thread.auto_replies, limits.max_replies_per_thread
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::classifier::{Entities, Language};
    use super::*;

    const NOW: &str = "2026-03-04T17:00:00Z";

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn read_as(intent: Intent, language: Language, order_id: Option<&str>) -> Classification {
        Classification {
            language,
            intent,
            confidence: 0.95,
            entities: Entities {
                order_id: order_id.map(str::to_owned),
                tracking_pin: None,
            },
            hazard: None,
            reason: "test".into(),
        }
    }

    fn order(state: OrderState, pin: Option<&str>) -> OrderFacts {
        OrderFacts {
            id: Uuid::from_u128(7),
            external_id: "201934572-A".into(),
            commercial_id: Some("201934572".into()),
            state,
            placed_at: at("2026-03-02T14:18:43Z"),
            ship_by: Some(at("2026-03-06T23:59:59Z")),
            shipment: pin.map(|pin| ShipmentFacts {
                state: "shipped".into(),
                carrier: Some("canada_post".into()),
                tracking_pin: Some(pin.into()),
            }),
        }
    }

    fn on_thread(order: OrderFacts) -> OrderCandidates {
        OrderCandidates {
            thread_order_id: Some(order.external_id.clone()),
            thread_order: Some(order),
            customer_orders: Vec::new(),
        }
    }

    fn entry(id: u128, sender: SenderType, sent_at: &str) -> ThreadEntry {
        ThreadEntry {
            id: Uuid::from_u128(id),
            sender,
            sent_at: at(sent_at),
        }
    }

    /// A thread whose one message is the customer's, at 16:40.
    fn thread() -> ThreadFacts {
        ThreadFacts {
            message_id: Uuid::from_u128(1),
            message_sent_at: at("2026-03-04T16:40:00Z"),
            messages: vec![entry(1, SenderType::Customer, "2026-03-04T16:40:00Z")],
            auto_replies: 0,
            last_auto_reply_at: None,
            customer_participant: Some("C-558201".into()),
        }
    }

    const LIMITS: Limits = Limits {
        cooling_off: Duration::from_secs(3600),
        max_replies_per_thread: 3,
    };

    fn verdict(
        classification: &Classification,
        thread: &ThreadFacts,
        candidates: &OrderCandidates,
    ) -> Verdict {
        decide(
            classification,
            thread,
            candidates,
            ReplyTemplates::bundled(),
            LIMITS,
            at(NOW),
        )
    }

    fn guard_of(verdict: &Verdict) -> Option<Guard> {
        match verdict {
            Verdict::Reply { .. } => None,
            Verdict::HandOver { guard, .. } => Some(*guard),
        }
    }

    #[test]
    fn a_shipped_order_is_answered_with_its_tracking_in_the_customers_language() {
        let shipped = on_thread(order(OrderState::Shipped, Some("7023210987654321")));
        let fr = verdict(
            &read_as(Intent::TrackingRequest, Language::Fr, None),
            &thread(),
            &shipped,
        );
        let Verdict::Reply { body, customer, .. } = fr else {
            panic!("{fr:?}")
        };
        assert!(body.contains("7023210987654321"), "{body}");
        assert!(body.contains("Postes Canada"), "{body}");
        assert!(body.contains("track-reperage/fr#/search?searchFor=7023210987654321"));
        assert_eq!(customer, "C-558201");
    }

    #[test]
    fn an_order_not_shipped_is_answered_with_its_ship_by_date() {
        let waiting = on_thread(order(OrderState::Shipping, None));
        let en = verdict(
            &read_as(Intent::OrderStatus, Language::En, Some("0201934572")),
            &thread(),
            &waiting,
        );
        let Verdict::Reply { body, .. } = en else {
            panic!("{en:?}")
        };
        assert!(body.contains("March 6, 2026"), "{body}");
        assert!(body.contains("201934572-A"), "{body}");
    }

    #[test]
    fn every_guard_is_named_when_it_stops_the_reply() {
        let shipped = || on_thread(order(OrderState::Shipped, Some("7023210987654321")));
        let status = read_as(Intent::OrderStatus, Language::En, None);
        let mut cases: Vec<(Guard, Classification, ThreadFacts, OrderCandidates)> = Vec::new();

        cases.push((
            Guard::NotRoutineIntent,
            read_as(Intent::CancelRequest, Language::En, None),
            thread(),
            shipped(),
        ));
        let mut unsure = status.clone();
        unsure.confidence = 0.2;
        cases.push((Guard::LowConfidence, unsure, thread(), shipped()));
        cases.push((
            Guard::NoTemplate,
            status.clone(),
            thread(),
            on_thread(order(OrderState::Canceled, None)),
        ));
        cases.push((
            Guard::OrderNotIdentified,
            read_as(Intent::OrderStatus, Language::En, Some("201934999-A")),
            thread(),
            shipped(),
        ));
        cases.push((
            Guard::OrderNotIdentified,
            status.clone(),
            thread(),
            OrderCandidates {
                thread_order_id: Some("201934572-A".into()),
                ..OrderCandidates::default()
            },
        ));
        cases.push((
            Guard::FactsMissing,
            status.clone(),
            thread(),
            on_thread(order(OrderState::Shipped, None)),
        ));
        let mut late = order(OrderState::Shipping, None);
        late.ship_by = Some(at("2026-03-03T23:59:59Z"));
        cases.push((
            Guard::FactsMissing,
            status.clone(),
            thread(),
            on_thread(late),
        ));
        let mut nobody = thread();
        nobody.customer_participant = None;
        cases.push((Guard::FactsMissing, status.clone(), nobody, shipped()));
        let mut answered = thread();
        answered
            .messages
            .push(entry(2, SenderType::Technician, "2026-03-04T16:50:00Z"));
        cases.push((
            Guard::CustomerNotLast,
            status.clone(),
            answered.clone(),
            shipped(),
        ));
        answered
            .messages
            .push(entry(3, SenderType::Customer, "2026-03-04T16:55:00Z"));
        cases.push((Guard::PersonReplied, status.clone(), answered, shipped()));
        let mut recent = thread();
        recent.auto_replies = 1;
        recent.last_auto_reply_at = Some(at("2026-03-04T16:30:00Z"));
        cases.push((Guard::CoolingOff, status.clone(), recent, shipped()));
        let mut many = thread();
        many.auto_replies = 3;
        many.last_auto_reply_at = Some(at("2026-03-03T10:00:00Z"));
        cases.push((Guard::MaxRepliesReached, status.clone(), many, shipped()));

        for (expected, classification, thread, candidates) in &cases {
            let verdict = verdict(classification, thread, candidates);
            assert_eq!(guard_of(&verdict), Some(*expected), "{verdict:?}");
        }
        let named: std::collections::HashSet<Guard> =
            cases.iter().map(|(guard, ..)| *guard).collect();
        assert_eq!(
            named.len() + 1,
            Guard::ALL.len(),
            "all but the hazard guard"
        );
    }

    #[test]
    fn the_text_may_name_the_customers_order_when_the_thread_names_none() {
        let mut mine = order(OrderState::Shipped, Some("7023210987654321"));
        mine.id = Uuid::from_u128(8);
        let candidates = OrderCandidates {
            thread_order: None,
            thread_order_id: None,
            customer_orders: vec![mine],
        };
        let named = verdict(
            &read_as(Intent::TrackingRequest, Language::En, Some("201934572")),
            &thread(),
            &candidates,
        );
        assert!(matches!(named, Verdict::Reply { order_id, .. } if order_id == Uuid::from_u128(8)));
        let unnamed = verdict(
            &read_as(Intent::TrackingRequest, Language::En, None),
            &thread(),
            &candidates,
        );
        assert_eq!(guard_of(&unnamed), Some(Guard::OrderNotIdentified));
    }

    #[test]
    fn guard_names_are_stable() {
        let names: Vec<&str> = Guard::ALL.iter().map(|guard| guard.as_str()).collect();
        assert_eq!(
            names,
            [
                "not_routine_intent",
                "low_confidence",
                "hazard",
                "no_template",
                "order_not_identified",
                "facts_missing",
                "customer_not_last",
                "person_replied",
                "cooling_off",
                "max_replies_reached"
            ]
        );
        for guard in Guard::ALL {
            assert_eq!(Guard::named(guard.as_str()), Some(guard));
        }
    }
}
