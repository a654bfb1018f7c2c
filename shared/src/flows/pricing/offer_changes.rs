//! What the pricing queue does with a competitor offer change (SP-API
//! `ANY_OFFER_CHANGED`): record it, re-evaluate the seller's listings it affects, then
//! run the automation rules over them with the alerts it raised.
//!
//! Each step is idempotent, so a redelivery (or a retry after a failure part way)
//! re-runs them safely: the recording finds the notification already recorded and
//! changes nothing, the evaluation writes nothing when nothing changed, and the firing
//! log's cooldowns hold the rules.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::automation::{run_automation, AutomationReport, CompetitorSignal};
use super::competitors::{record_notification, RecordedOffers};
use super::evaluate::{evaluate_prices, EvaluationOptions, EvaluationReport, Selection};
use crate::ops::errors::ProcessError;

/// What handling one offer change did.
#[derive(Debug, Clone, Default)]
pub struct OfferChangeReport {
    /// The recording: the alerts raised and the listings affected.
    pub recorded: Option<RecordedOffers>,
    /// The re-evaluation of the affected listings.
    pub evaluation: EvaluationReport,
    /// The automation rules' firings.
    pub automation: AutomationReport,
}

/// Handles one SP-API notification from the pricing queue at `now`.
///
/// # Errors
/// Permanent for a notification that cannot be read (naming the field); retryable when
/// the evaluation ran short of time; database failures classified.
pub async fn handle_offer_notification(
    pool: &PgPool,
    notification: &Value,
    now: DateTime<Utc>,
    options: EvaluationOptions,
) -> Result<OfferChangeReport, ProcessError> {
    let recorded = record_notification(pool, notification).await?;
    let listings = &recorded.affected_listing_ids;
    let evaluation = if listings.is_empty() {
        EvaluationReport::default()
    } else {
        evaluate_prices(pool, Selection::Listings(listings), now, options).await?
    };
    if evaluation.stopped_short {
        return Err(ProcessError::retryable(
            "re-evaluating the listings a competitor offer change affects",
            "the invocation ran short of time before every listing was decided",
        ));
    }
    let alerts = alerts_by_listing(&recorded);
    let automation = run_automation(pool, Some(listings), &alerts, now).await?;
    Ok(OfferChangeReport {
        recorded: Some(recorded),
        evaluation,
        automation,
    })
}

/// The alerts of a recording, as automation triggers read them, for each listing they
/// affect.
pub fn alerts_by_listing(recorded: &RecordedOffers) -> HashMap<Uuid, Vec<CompetitorSignal>> {
    let signals: Vec<CompetitorSignal> = recorded
        .alerts
        .iter()
        .map(|alert| CompetitorSignal {
            kind: alert.kind,
            change_pct: alert.change_pct,
        })
        .collect();
    recorded
        .affected_listing_ids
        .iter()
        .map(|listing| (*listing, signals.clone()))
        .collect()
}
