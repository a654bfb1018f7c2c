//! The helpdesk sync: Freshdesk's automation-rule webhooks can be missed or never set
//! up, so each scheduled run also reads the tickets updated since its watermark
//! (`freshdesk`/`tickets` in `etl.sync_metadata`), then each changed ticket's
//! conversations — two passes, as the helpdesk's API shapes them — and records both
//! through the webhook's own path ([`record_ticket`], [`record_conversations`]): one
//! inbox for marketplace threads and helpdesk tickets, whichever way a ticket came.
//! Once a ticket's conversations are read to the end, its customer messages that no
//! agent answered are queued for an automatic reply ([`queue_unanswered`]).
//!
//! A poll starts an overlap window before the watermark; the very first reads back a
//! bounded look-back. Freshdesk lists the tickets oldest change first, in numbered
//! pages; a ticket changed while the poll reads moves to the end of the list and would
//! shift the pages under it, so after each full page the poll asks again from (a second
//! before) the newest change it has read, and turns the page only when that would not
//! move it on. A ticket read twice in one run is handled once; one read again in a
//! later run's overlap is recorded as unchanged, and its conversations are not read
//! again when they were mirrored at that version (`conversations_synced_at`).
//!
//! The watermark moves to the newest change whose ticket and conversations are both
//! recorded, even when the run stops early: oldest change first, what is left has
//! changed since. A run stops early when too little time is left for another page's
//! worst case, when Freshdesk answers 429 asking for a longer wait than the retry
//! policy allows (no poll starts before that time: `next_allowed_at`), or when a call
//! keeps failing; each is recorded in `etl.sync_metadata`, and the next run goes on.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::watermark::{self, SyncEntity};
use super::{wait_until, MarketplaceSync, SyncTally};
use crate::flows::recording::freshdesk::{
    mark_conversations_synced, queue_unanswered, record_conversations, record_ticket,
};
use crate::ops::config::{ConfigError, FreshdeskSettings};
use crate::ops::errors::{error_chain, Disposition, ProcessError};
use crate::ops::process_failures::{record_process_failure, ProcessFailure};
use crate::ops::retry::RetryPolicy;
use crate::ops::time_budget;
use crate::systems::freshdesk::{FreshdeskClient, FreshdeskError, FreshdeskTicket};

/// How a page is asked for within one run: two attempts, 5 s apart, waiting up to 10 s
/// for a `Retry-After`. Freshdesk's limit is per minute, so a 429 usually asks for
/// longer: the poll then stops, and no run calls again before the time it named.
pub const FRESHDESK_POLL_RETRY: RetryPolicy = RetryPolicy {
    attempts: 2,
    base_delay: Duration::from_secs(5),
    max_delay: Duration::from_secs(10),
};

/// The helpdesk sync's client and how it reads.
#[derive(Debug, Clone)]
pub struct FreshdeskPoll {
    pub client: FreshdeskClient,
    /// The helpdesk the tickets are filed under (`FRESHDESK_DOMAIN`).
    pub domain: String,
    /// [`FRESHDESK_POLL_RETRY`] in production.
    pub retry: RetryPolicy,
    /// How far before the watermark each poll starts.
    pub overlap: Duration,
    /// How far back the first poll reads.
    pub first_lookback: Duration,
    /// Tickets and conversation entries per page.
    pub page_size: u32,
}

impl FreshdeskPoll {
    /// The poll as configured, logging calls through `log`.
    pub fn from_settings(
        settings: &FreshdeskSettings,
        log: sqlx::PgPool,
        retry: RetryPolicy,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            client: FreshdeskClient::from_settings(settings, log)?,
            domain: settings.domain.clone(),
            retry,
            overlap: settings.overlap,
            first_lookback: settings.first_lookback,
            page_size: settings.page_size,
        })
    }
}

const PROCESS: &str = "FreshdeskSync";

/// Why a poll stopped before the end of the list.
enum Stop {
    /// Freshdesk asked to wait longer than a run may.
    Wait(Duration),
    /// Too little time is left for another page.
    OutOfTime,
    /// A call or a write failed.
    Failed(ProcessError),
}

impl From<ProcessError> for Stop {
    fn from(err: ProcessError) -> Self {
        Self::Failed(err)
    }
}

impl MarketplaceSync {
    /// Reads the tickets updated since the watermark (less the overlap) and their
    /// conversations, and records them; nothing when Freshdesk is not configured.
    pub async fn sync_freshdesk_tickets(
        &self,
        now: DateTime<Utc>,
    ) -> Result<SyncTally, ProcessError> {
        self.sync_freshdesk_tickets_until(now, None).await
    }

    /// [`Self::sync_freshdesk_tickets`], starting a page only while its worst case still
    /// fits before `deadline`.
    pub async fn sync_freshdesk_tickets_until(
        &self,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<SyncTally, ProcessError> {
        let Some(poll) = &self.freshdesk else {
            return Ok(SyncTally::default());
        };
        let entity = SyncEntity::FRESHDESK_TICKETS;
        if let Some(skipped) = self.still_waiting(entity, now).await? {
            return Ok(skipped);
        }
        let start = watermark::begin(&self.pool, entity).await?;
        let since = match start.at {
            Some(at) => at - chrono::Duration::from_std(poll.overlap).unwrap_or_default(),
            None => now - chrono::Duration::from_std(poll.first_lookback).unwrap_or_default(),
        };
        let started = Instant::now();
        let mut tally = SyncTally::default();
        let mut newest = None;
        let stop = self
            .poll_freshdesk(poll, since, deadline, &mut tally, &mut newest)
            .await;
        // Oldest change first: the watermark may move to the newest change recorded
        // whatever stopped the poll.
        watermark::succeed(&self.pool, entity, newest).await?;
        match stop {
            None => Ok(tally),
            Some(Stop::Wait(wait)) => {
                let until = wait_until(now, started, wait);
                tally.wait_until = Some(until);
                let reason = format!(
                    "Freshdesk asked to wait (429 with Retry-After) until {until}, longer than \
                     a run may wait; stopped after {} ticket(s), the watermark at the newest \
                     change recorded",
                    tally.seen
                );
                tracing::warn!(%reason, "helpdesk sync stopped: rate limited");
                watermark::wait(&self.pool, entity, until, &reason).await?;
                Ok(tally)
            }
            Some(Stop::OutOfTime) => {
                tally.cut_short = true;
                let reason = format!(
                    "stopped after {} ticket(s), short of time for another page; the \
                     watermark moved to the newest change recorded",
                    tally.seen
                );
                tracing::warn!(%reason, "helpdesk sync cut short");
                watermark::fail(&self.pool, entity, &reason).await?;
                Ok(tally)
            }
            Some(Stop::Failed(err)) => {
                watermark::fail(&self.pool, entity, &error_chain(&err)).await?;
                Err(err)
            }
        }
    }

    /// Reads page after page until the list ends (`None`) or something stops it;
    /// `newest` is the newest change whose ticket and conversations are recorded.
    async fn poll_freshdesk(
        &self,
        poll: &FreshdeskPoll,
        since: DateTime<Utc>,
        deadline: Option<Instant>,
        tally: &mut SyncTally,
        newest: &mut Option<DateTime<Utc>>,
    ) -> Option<Stop> {
        let page_worst_case = time_budget::freshdesk_page_worst_case(poll.retry);
        let fits = || {
            deadline.is_none_or(|deadline| {
                deadline.saturating_duration_since(Instant::now()) >= page_worst_case
            })
        };
        let mut done: HashSet<(String, Option<DateTime<Utc>>)> = HashSet::new();
        let mut cursor = since;
        let mut page_number = 1;
        loop {
            if !fits() {
                return Some(Stop::OutOfTime);
            }
            let page = match poll
                .client
                .tickets_updated_since(cursor, page_number, poll.page_size, poll.retry)
                .await
            {
                Ok(page) => page,
                Err(err) => return Some(stop_for(err)),
            };
            let mut page_newest = None;
            for ticket in page.tickets {
                let ticket = match ticket {
                    Ok(ticket) => ticket,
                    Err((ticket_id, reason)) => {
                        tally.seen += 1;
                        tally.failed += 1;
                        let reason = format!("not a Freshdesk ticket: {reason}");
                        if let Err(err) = self.ticket_not_recorded(&ticket_id, &reason).await {
                            return Some(Stop::Failed(err));
                        }
                        continue;
                    }
                };
                page_newest = page_newest.max(ticket.updated_at);
                if !done.insert((ticket.ticket_id.clone(), ticket.updated_at)) {
                    continue;
                }
                tally.seen += 1;
                match self.sync_ticket(poll, &ticket, &fits, tally).await {
                    Ok(()) => *newest = (*newest).max(ticket.updated_at),
                    Err(stop) => return Some(stop),
                }
            }
            if !page.full {
                return None;
            }
            // Ask again from the newest change read, unless that would not move on.
            let second = chrono::Duration::seconds(1);
            match page_newest.map(|at| at - second) {
                Some(next) if next > cursor => {
                    cursor = next;
                    page_number = 1;
                }
                _ => page_number += 1,
            }
        }
    }

    /// Records one ticket, then mirrors its conversations unless they are current.
    async fn sync_ticket(
        &self,
        poll: &FreshdeskPoll,
        ticket: &FreshdeskTicket,
        fits: &impl Fn() -> bool,
        tally: &mut SyncTally,
    ) -> Result<(), Stop> {
        let recorded = async {
            let mut tx = self.pool.begin().await?;
            let recorded = record_ticket(&mut tx, &poll.domain, ticket, &self.pepper).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(recorded)
        }
        .await;
        let recorded = match recorded {
            Ok(recorded) => recorded,
            Err(err) => {
                let err = ProcessError::database(
                    format!("recording Freshdesk ticket {}", ticket.ticket_id),
                    err,
                );
                if err.disposition() == Disposition::Retry {
                    return Err(Stop::Failed(err));
                }
                tally.failed += 1;
                self.ticket_not_recorded(&ticket.ticket_id, &error_chain(&err))
                    .await?;
                return Ok(());
            }
        };
        tally.data_problems += u64::from(recorded.data_problems);
        let mut changed = recorded.changed;
        if !recorded.conversations_current {
            let mut page_number = 1;
            loop {
                if !fits() {
                    return Err(Stop::OutOfTime);
                }
                let page = match poll
                    .client
                    .conversations(&ticket.ticket_id, page_number, poll.page_size, poll.retry)
                    .await
                {
                    Ok(page) => page,
                    Err(err @ FreshdeskError::Rejected { .. }) => {
                        // The ticket is gone or unreadable: a person looks; the poll goes on.
                        tally.failed += 1;
                        self.ticket_not_recorded(&ticket.ticket_id, &err.to_string())
                            .await?;
                        return Ok(());
                    }
                    Err(err) => return Err(stop_for(err)),
                };
                let mut entries = Vec::with_capacity(page.conversations.len());
                for entry in page.conversations {
                    match entry {
                        Ok(entry) => entries.push(entry),
                        Err(reason) => {
                            tally.failed += 1;
                            self.ticket_not_recorded(
                                &ticket.ticket_id,
                                &format!("a conversation entry is not readable: {reason}"),
                            )
                            .await?;
                        }
                    }
                }
                let db = |err| {
                    ProcessError::database(
                        format!(
                            "recording Freshdesk ticket {}'s conversations",
                            ticket.ticket_id
                        ),
                        err,
                    )
                };
                let mut tx = self.pool.begin().await.map_err(db)?;
                let new = record_conversations(&mut tx, recorded.conversation_id, &entries)
                    .await
                    .map_err(db)?;
                if !page.full {
                    // The ticket is mirrored whole: what an agent answered is known.
                    queue_unanswered(&mut tx, recorded.conversation_id)
                        .await
                        .map_err(db)?;
                    if let Some(version) = ticket.updated_at {
                        mark_conversations_synced(
                            &mut tx,
                            &poll.domain,
                            &ticket.ticket_id,
                            version,
                        )
                        .await
                        .map_err(db)?;
                    }
                }
                tx.commit().await.map_err(db)?;
                changed |= new > 0;
                if !page.full {
                    break;
                }
                page_number += 1;
            }
        }
        if changed {
            tally.changed += 1;
        }
        Ok(())
    }

    /// A ticket that cannot be recorded is written down for a person, naming why; the
    /// poll goes on.
    async fn ticket_not_recorded(&self, ticket_id: &str, reason: &str) -> Result<(), ProcessError> {
        tracing::warn!(ticket = ticket_id, reason, "Freshdesk ticket not recorded");
        record_process_failure(
            &self.pool,
            &ProcessFailure {
                process: PROCESS,
                entity_type: "ticket",
                entity_ref: ticket_id,
                reason,
                payload: None,
            },
        )
        .await
        .map_err(|e| ProcessError::database("recording a helpdesk sync failure", e))?;
        Ok(())
    }
}

/// A 429 still refused after the retries stops the poll until the wait it asked for
/// (a minute, the limit's window, when it named none); any other failure stops it as
/// failed.
fn stop_for(err: FreshdeskError) -> Stop {
    match err {
        FreshdeskError::RateLimited { retry_after, .. } => {
            Stop::Wait(retry_after.unwrap_or(Duration::from_secs(60)))
        }
        err => Stop::Failed(err.into()),
    }
}
