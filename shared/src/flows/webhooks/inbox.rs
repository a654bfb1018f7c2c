//! `ops.inbox`: every accepted delivery, stored as received less its personal data
//! ([`redact_json`]) before it is normalised, unique per source and delivery id.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::model::personal_data::redact_json;

/// Stores a delivery in the caller's transaction, the one that records it, so it is
/// stored already processed (`processed_at` is the transaction's time): no delivery is
/// ever committed unprocessed, and a clean one is written once, never updated. `None`
/// when it was stored before: a second delivery changes nothing. A concurrent duplicate
/// waits here until the first commits (unique index), then finds it.
pub async fn store_delivery(
    tx: &mut PgConnection,
    source: &str,
    delivery_id: &str,
    headers: &serde_json::Value,
    body: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "insert into ops.inbox (source, delivery_id, headers, body, processed_at)
         values ($1, $2, $3, $4::text::jsonb, now())
         on conflict on constraint inbox_source_delivery_id_key do nothing
         returning id",
        source,
        delivery_id,
        headers,
        redact_json(body),
    )
    .fetch_optional(tx)
    .await
}

/// Notes on a stored delivery why some of its parts could not be recorded (they are in
/// `ops.process_failures`); a delivery recorded whole is not touched again.
pub async fn note_unrecorded_parts(
    tx: &mut PgConnection,
    inbox_id: Uuid,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update ops.inbox set error = $2 where id = $1",
        inbox_id,
        error,
    )
    .execute(tx)
    .await?;
    Ok(())
}
