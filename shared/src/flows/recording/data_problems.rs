//! `ops.data_problems`: what an order or a helpdesk ticket was recorded with that a
//! person should look at (a total that disagrees with its lines, a state not known, a
//! date that is not one), one row per channel, order or ticket, and field. Each is also
//! raised as a warning in the log when it is recorded.

use sqlx::PgConnection;

use crate::model::channel::Channel;

/// What a data problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// An amount that disagrees with the sum of the amounts it sums.
    TotalMismatch,
    /// A state sellerops does not know, recorded as `UNKNOWN`.
    UnknownState,
    /// A date field whose value is not a date; kept as sent, read as absent.
    InvalidDate,
}

impl ProblemKind {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::TotalMismatch => "total_mismatch",
            ProblemKind::UnknownState => "unknown_state",
            ProblemKind::InvalidDate => "invalid_date",
        }
    }
}

/// Something an order was recorded with that a person should look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataProblem {
    /// The field's JSON path in the channel's document.
    pub field: String,
    pub kind: ProblemKind,
    /// The value as sent.
    pub sent: String,
    /// What it should have been, where that is known.
    pub expected: Option<String>,
    /// The problem in words, naming both values.
    pub detail: String,
}

/// Records the problems of the version of an order just recorded, in the caller's
/// transaction, and marks resolved those of its earlier versions that this one no
/// longer has. Each problem found is logged as a warning. The first version of an order
/// (`first_version`) has no earlier problems to resolve, so when it has none of its own
/// nothing is sent to the database.
pub async fn record_data_problems(
    tx: &mut PgConnection,
    channel: Channel,
    external_id: &str,
    problems: &[DataProblem],
    first_version: bool,
) -> Result<(), sqlx::Error> {
    for problem in problems {
        tracing::warn!(channel = %channel, order = external_id, field = %problem.field,
            kind = problem.kind.as_str(), sent = %problem.sent, expected = ?problem.expected,
            detail = %problem.detail, "data problem: recorded as sent");
    }
    if problems.is_empty() && first_version {
        return Ok(());
    }
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    // One statement, one round trip on every recording: the problems raised (usually
    // none) and the earlier ones this version no longer has are different rows.
    // `as _`: the macros type-check an array parameter only as `&[T]`, not the borrowed
    // or nullable elements bound here; the casts in the SQL fix each array's type.
    sqlx::query!(
        "with raised as (
             insert into ops.data_problems as p
                 (channel, external_id, field, kind, sent_value, expected_value, detail)
             select $1, $2, n.field, n.kind, n.sent, n.expected, n.detail
             from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                  as n(field, kind, sent, expected, detail)
             on conflict on constraint data_problems_channel_external_id_field_key do update set
                 kind = excluded.kind,
                 sent_value = excluded.sent_value,
                 expected_value = excluded.expected_value,
                 detail = excluded.detail,
                 last_seen_at = now(),
                 resolved_at = null
             returning p.field
         )
         update ops.data_problems set resolved_at = now()
         where channel = $1 and external_id = $2 and resolved_at is null
           and field <> all($3::text[])",
        channel.as_str(),
        external_id,
        fields as _,
        problems.iter().map(|p| p.kind.as_str()).collect::<Vec<_>>() as _,
        problems.iter().map(|p| p.sent.as_str()).collect::<Vec<_>>() as _,
        problems
            .iter()
            .map(|p| p.expected.as_deref())
            .collect::<Vec<_>>() as _,
        problems
            .iter()
            .map(|p| p.detail.as_str())
            .collect::<Vec<_>>() as _,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
