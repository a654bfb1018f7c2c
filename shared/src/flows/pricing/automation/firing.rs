//! Writing planned firings, with the rules' cooldowns and daily limits applied through the
//! firing log (`workflow.automation_firings`).
//!
//! One transaction: the rules concerned are locked (in id order, so two runs cannot
//! deadlock), then one statement judges every planned firing against the log and
//! inserts the ones allowed; then their tasks and alerts are created. A second run at
//! the same time waits for the lock and then sees the first run's firings, so the two
//! cannot both fire within a cooldown or past a limit.
//!
//! - **Cooldown**: a rule does not fire for a listing within `cooldown_minutes` after
//!   its last firing for that listing (0: no cooldown).
//! - **Daily limit**: a rule fires at most `max_daily_triggers` times a day, all
//!   listings together, days running midnight to midnight in the seller's time zone.
//!   When a run would pass the limit, the firings planned first are kept.

use std::collections::HashMap;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::rule::{AutomationRule, AutomationRuleDefinition, InvalidAutomationRule};
use super::trigger::{PlannedFiring, PlannedOutcome};
use crate::ops::errors::ProcessError;

/// What a run's firings came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FiringOutcome {
    /// The firings written, with what they created.
    pub fired: Vec<Fired>,
    /// Planned firings held back by a cooldown.
    pub held_by_cooldown: usize,
    /// Planned firings held back by a daily limit.
    pub held_by_daily_limit: usize,
}

/// One firing written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// `workflow.automation_firings.id`.
    pub firing_id: Uuid,
    /// The rule.
    pub rule_id: Uuid,
    /// The listing.
    pub listing_id: Uuid,
    /// The task created (`workflow.tasks.id`).
    pub task_id: Option<Uuid>,
    /// The alert created (`workflow.alerts.id`).
    pub alert_id: Option<Uuid>,
}

/// The start of `now`'s day in `time_zone`, in UTC.
fn day_start(now: DateTime<Utc>, time_zone: Tz) -> DateTime<Utc> {
    let local_day = now.with_timezone(&time_zone).date_naive();
    time_zone
        .from_local_datetime(&local_day.and_time(NaiveTime::MIN))
        .earliest()
        // A day that starts in a daylight-saving gap starts when the clocks resume.
        .unwrap_or_else(|| time_zone.from_utc_datetime(&local_day.and_time(NaiveTime::MIN)))
        .with_timezone(&Utc)
}

/// Writes `planned` at `now` (see the module documentation).
///
/// # Errors
/// Database failures, classified retryable or permanent.
pub async fn fire(
    pool: &PgPool,
    planned: &[PlannedFiring],
    now: DateTime<Utc>,
    time_zone: Tz,
) -> Result<FiringOutcome, ProcessError> {
    if planned.is_empty() {
        return Ok(FiringOutcome::default());
    }
    let db = |what: &'static str| {
        move |err| ProcessError::database(format!("firing automation rules: {what}"), err)
    };
    let firing_ids: Vec<Uuid> = planned.iter().map(|_| Uuid::new_v4()).collect();
    let rule_ids: Vec<Uuid> = planned.iter().map(|p| p.rule_id).collect();
    let listing_ids: Vec<Uuid> = planned.iter().map(|p| p.listing_id).collect();
    let reasons: Vec<String> = planned.iter().map(|p| p.reason.clone()).collect();

    let mut tx = pool.begin().await.map_err(db("beginning"))?;
    sqlx::query!(
        "select id from workflow.automation_rules where id = any($1) order by id for update",
        &rule_ids,
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db("locking the rules"))?;

    let verdicts = sqlx::query!(
        r#"with candidate as (
               select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[])
                   with ordinality as c (firing_id, rule_id, listing_id, reason, ord)
           ),
           judged as (
               select c.*, r.max_daily_triggers,
                      exists (select 1 from workflow.automation_firings f
                              where f.rule_id = c.rule_id and f.listing_id = c.listing_id
                                and f.fired_at > $5::timestamptz - make_interval(mins => r.cooldown_minutes))
                          as cooling,
                      (select count(*) from workflow.automation_firings f
                       where f.rule_id = c.rule_id and f.fired_at >= $6::timestamptz) as fired_today
               from candidate c
               join workflow.automation_rules r on r.id = c.rule_id and r.is_active
           ),
           verdict as (
               select firing_id, rule_id, listing_id, reason,
                      case
                          when cooling then 'cooldown'
                          when max_daily_triggers is not null
                               and fired_today + row_number() over (
                                   partition by rule_id, cooling order by ord)
                                   > max_daily_triggers then 'daily_limit'
                      end as held_by
               from judged
           ),
           inserted as (
               insert into workflow.automation_firings (id, rule_id, listing_id, fired_at, reason)
               select firing_id, rule_id, listing_id, $5, reason from verdict
               where held_by is null
               returning id
           )
           select firing_id as "firing_id!", held_by from verdict"#,
        &firing_ids,
        &rule_ids,
        &listing_ids,
        &reasons,
        now,
        day_start(now, time_zone),
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db("judging the firings"))?;

    let mut outcome = FiringOutcome::default();
    let held: HashMap<Uuid, Option<String>> = verdicts
        .into_iter()
        .map(|row| (row.firing_id, row.held_by))
        .collect();
    let mut tasks = TaskRows::default();
    let mut alerts = AlertRows::default();
    for (firing_id, firing) in firing_ids.iter().zip(planned) {
        match held.get(firing_id) {
            // An inactive rule's firing is judged by no one and written by no one.
            None => continue,
            Some(Some(reason)) if reason == "cooldown" => outcome.held_by_cooldown += 1,
            Some(Some(_)) => outcome.held_by_daily_limit += 1,
            Some(None) => {
                let mut fired = Fired {
                    firing_id: *firing_id,
                    rule_id: firing.rule_id,
                    listing_id: firing.listing_id,
                    task_id: None,
                    alert_id: None,
                };
                match &firing.outcome {
                    PlannedOutcome::Task {
                        title,
                        description,
                        task_type,
                        priority_score,
                    } => {
                        let id = Uuid::new_v4();
                        tasks.push(id, firing, title, description, task_type, *priority_score);
                        fired.task_id = Some(id);
                    }
                    PlannedOutcome::Alert { severity, message } => {
                        let id = Uuid::new_v4();
                        alerts.ids.push(id);
                        alerts.rule_ids.push(firing.rule_id);
                        alerts.listing_ids.push(firing.listing_id);
                        alerts.severities.push(severity.as_str().to_owned());
                        alerts.messages.push(message.clone());
                        fired.alert_id = Some(id);
                    }
                }
                outcome.fired.push(fired);
            }
        }
    }

    if !tasks.ids.is_empty() {
        sqlx::query!(
            "insert into workflow.tasks
                 (id, title, description, task_type, priority_score, created_by, source_rule_id)
             select id, title, description, task_type, priority_score, 'rule', rule_id
             from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::numeric[],
                         $6::uuid[])
                 as task (id, title, description, task_type, priority_score, rule_id)",
            &tasks.ids,
            &tasks.titles,
            &tasks.descriptions as &[Option<String>],
            &tasks.task_types,
            &tasks.priority_scores as &[Option<Decimal>],
            &tasks.rule_ids,
        )
        .execute(&mut *tx)
        .await
        .map_err(db("creating the tasks"))?;
        sqlx::query!(
            "insert into workflow.task_listings (task_id, listing_id)
             select * from unnest($1::uuid[], $2::uuid[])",
            &tasks.ids,
            &tasks.listing_ids,
        )
        .execute(&mut *tx)
        .await
        .map_err(db("linking the tasks to their listings"))?;
    }
    if !alerts.ids.is_empty() {
        sqlx::query!(
            "insert into workflow.alerts (id, rule_id, listing_id, severity, message)
             select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[])",
            &alerts.ids,
            &alerts.rule_ids,
            &alerts.listing_ids,
            &alerts.severities,
            &alerts.messages,
        )
        .execute(&mut *tx)
        .await
        .map_err(db("raising the alerts"))?;
    }
    if !outcome.fired.is_empty() {
        let fired_ids: Vec<Uuid> = outcome.fired.iter().map(|f| f.firing_id).collect();
        let task_ids: Vec<Option<Uuid>> = outcome.fired.iter().map(|f| f.task_id).collect();
        let alert_ids: Vec<Option<Uuid>> = outcome.fired.iter().map(|f| f.alert_id).collect();
        sqlx::query!(
            "update workflow.automation_firings f
             set task_id = made.task_id, alert_id = made.alert_id
             from unnest($1::uuid[], $2::uuid[], $3::uuid[]) as made (id, task_id, alert_id)
             where f.id = made.id",
            &fired_ids,
            &task_ids as &[Option<Uuid>],
            &alert_ids as &[Option<Uuid>],
        )
        .execute(&mut *tx)
        .await
        .map_err(db("recording what the firings created"))?;
        let fired_rules: Vec<Uuid> = outcome.fired.iter().map(|f| f.rule_id).collect();
        sqlx::query!(
            "update workflow.automation_rules r
             set last_triggered_at = $2, trigger_count = r.trigger_count + fired.count
             from (select rule_id, count(*)::int as count from unnest($1::uuid[]) as rule_id
                   group by rule_id) as fired
             where r.id = fired.rule_id",
            &fired_rules,
            now,
        )
        .execute(&mut *tx)
        .await
        .map_err(db("counting the rules' firings"))?;
    }
    tx.commit().await.map_err(db("committing"))?;
    Ok(outcome)
}

#[derive(Default)]
struct TaskRows {
    ids: Vec<Uuid>,
    rule_ids: Vec<Uuid>,
    listing_ids: Vec<Uuid>,
    titles: Vec<String>,
    descriptions: Vec<Option<String>>,
    task_types: Vec<String>,
    priority_scores: Vec<Option<Decimal>>,
}

impl TaskRows {
    fn push(
        &mut self,
        id: Uuid,
        firing: &PlannedFiring,
        title: &str,
        description: &Option<String>,
        task_type: &str,
        priority_score: Option<Decimal>,
    ) {
        self.ids.push(id);
        self.rule_ids.push(firing.rule_id);
        self.listing_ids.push(firing.listing_id);
        self.titles.push(title.to_owned());
        self.descriptions.push(description.clone());
        self.task_types.push(task_type.to_owned());
        self.priority_scores.push(priority_score);
    }
}

#[derive(Default)]
struct AlertRows {
    ids: Vec<Uuid>,
    rule_ids: Vec<Uuid>,
    listing_ids: Vec<Uuid>,
    severities: Vec<String>,
    messages: Vec<String>,
}

/// A rule to write, as the seller gives it.
#[derive(Debug, Clone)]
pub struct NewAutomationRule {
    /// The seller's name for it.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// `threshold` or `competitive`.
    pub trigger_type: String,
    /// The trigger's settings.
    pub trigger_config: serde_json::Value,
    /// A JSON list of conditions.
    pub conditions: serde_json::Value,
    /// `create_task` or `send_alert`.
    pub action_type: String,
    /// The action's settings.
    pub action_config: serde_json::Value,
    /// Minimum minutes between firings for one listing.
    pub cooldown_minutes: i32,
    /// Firings per day at most; `None` is unlimited.
    pub max_daily_triggers: Option<i32>,
}

/// Why a rule was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteRuleError {
    /// The rule is wrong; nothing was written.
    #[error(transparent)]
    Invalid(#[from] InvalidAutomationRule),
    /// The database failed.
    #[error("writing the automation rule")]
    Database(#[source] sqlx::Error),
}

/// Checks `rule` and writes it; a rule that could not run is refused with the part and
/// field at fault, before anything is written.
///
/// # Errors
/// [`WriteRuleError::Invalid`] for a bad rule, [`WriteRuleError::Database`] otherwise.
pub async fn insert_automation_rule<'e>(
    executor: impl PgExecutor<'e>,
    rule: &NewAutomationRule,
) -> Result<Uuid, WriteRuleError> {
    AutomationRule::parse(
        Uuid::nil(),
        &rule.name,
        &AutomationRuleDefinition {
            trigger_type: &rule.trigger_type,
            trigger_config: &rule.trigger_config,
            conditions: &rule.conditions,
            action_type: &rule.action_type,
            action_config: &rule.action_config,
            cooldown_minutes: rule.cooldown_minutes,
            max_daily_triggers: rule.max_daily_triggers,
        },
    )?;
    let conditions = if rule.conditions.is_null() {
        serde_json::Value::Array(Vec::new())
    } else {
        rule.conditions.clone()
    };
    sqlx::query_scalar!(
        "insert into workflow.automation_rules
             (name, description, trigger_type, trigger_config, conditions, action_type,
              action_config, cooldown_minutes, max_daily_triggers)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         returning id",
        rule.name,
        rule.description,
        rule.trigger_type,
        rule.trigger_config,
        conditions,
        rule.action_type,
        rule.action_config,
        rule.cooldown_minutes,
        rule.max_daily_triggers,
    )
    .fetch_one(executor)
    .await
    .map_err(WriteRuleError::Database)
}

/// The active threshold and competitive rules, read and checked. A stored rule that no
/// longer reads (written before it was checked, or by hand) is returned apart with its
/// error, for the caller to report; the others still run.
///
/// # Errors
/// Database failures.
pub async fn load_automation_rules<'e>(
    executor: impl PgExecutor<'e>,
) -> Result<(Vec<AutomationRule>, Vec<(Uuid, InvalidAutomationRule)>), ProcessError> {
    let rows = sqlx::query!(
        "select id, name, trigger_type, trigger_config, conditions, action_type, action_config,
                cooldown_minutes, max_daily_triggers
         from workflow.automation_rules
         where is_active and trigger_type in ('threshold', 'competitive')
         order by id",
    )
    .fetch_all(executor)
    .await
    .map_err(|err| ProcessError::database("reading the automation rules", err))?;
    let mut rules = Vec::with_capacity(rows.len());
    let mut invalid = Vec::new();
    for row in rows {
        let definition = AutomationRuleDefinition {
            trigger_type: &row.trigger_type,
            trigger_config: &row.trigger_config,
            conditions: &row.conditions,
            action_type: &row.action_type,
            action_config: &row.action_config,
            cooldown_minutes: row.cooldown_minutes,
            max_daily_triggers: row.max_daily_triggers,
        };
        match AutomationRule::parse(row.id, &row.name, &definition) {
            Ok(rule) => rules.push(rule),
            Err(err) => invalid.push((row.id, err)),
        }
    }
    Ok((rules, invalid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_starts_at_midnight_in_the_sellers_time_zone() {
        let toronto: Tz = "America/Toronto".parse().unwrap();
        // 03:30 UTC on 2 March is 22:30 on 1 March in Toronto (UTC−5).
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 3, 30, 0).unwrap();
        assert_eq!(
            day_start(now, toronto),
            Utc.with_ymd_and_hms(2026, 3, 1, 5, 0, 0).unwrap()
        );
        assert_eq!(
            day_start(now, chrono_tz::UTC),
            Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
        );
    }
}
