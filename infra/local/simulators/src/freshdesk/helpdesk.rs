//! The simulated helpdesk's state: tickets, their conversations, and the per-minute
//! call limit.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use crate::state::{parse_timestamp, seed_objects, timestamp};

/// The most entries a page holds, as in Freshdesk.
pub const MAX_PER_PAGE: usize = 100;
/// Entries per page when `per_page` is not given.
pub const DEFAULT_PER_PAGE: usize = 30;

/// A refused call: its status and Freshdesk's error body.
#[derive(Debug, Clone, PartialEq)]
pub struct HelpdeskError {
    pub status: u16,
    pub body: Value,
}

impl HelpdeskError {
    fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            body: json!({
                "description": "Validation failed",
                "errors": [{"field": field, "message": message.into(), "code": "invalid_value"}]
            }),
        }
    }

    fn not_found() -> Self {
        Self {
            status: 404,
            body: json!({"code": "access_denied", "message": "The requested resource does not exist"}),
        }
    }
}

/// Tickets (by id) with their conversations, and the call limit.
#[derive(Debug, Default)]
pub struct Helpdesk {
    tickets: BTreeMap<u64, Map<String, Value>>,
    conversations: BTreeMap<u64, Vec<Value>>,
    next_conversation_id: u64,
    /// Calls allowed per minute; `None`: no limit.
    per_minute: Option<u32>,
    window: Option<(DateTime<Utc>, u32)>,
}

/// What a call may do under the limit: go on, with what is left this minute, or wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    Unlimited,
    Remaining {
        total: u32,
        remaining: u32,
    },
    /// Seconds until the minute's window ends.
    RetryAfter(u64),
}

/// The query of `GET /api/v2/tickets`.
#[derive(Debug, Default)]
pub struct TicketQuery {
    pub updated_since: Option<String>,
    pub order_by: Option<String>,
    pub order_type: Option<String>,
    pub include: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

fn number(name: &str, raw: Option<&str>, default: usize) -> Result<usize, HelpdeskError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| HelpdeskError::invalid(name, "It should be a positive number")),
    }
}

fn page_of(
    entries: Vec<Value>,
    page: Option<&str>,
    per_page: Option<&str>,
) -> Result<Vec<Value>, HelpdeskError> {
    let page = number("page", page, 1)?;
    let per_page = number("per_page", per_page, DEFAULT_PER_PAGE)?;
    if per_page > MAX_PER_PAGE {
        return Err(HelpdeskError::invalid(
            "per_page",
            format!("It should be less than or equal to {MAX_PER_PAGE}"),
        ));
    }
    Ok(entries
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect())
}

fn updated_at(ticket: &Map<String, Value>) -> DateTime<Utc> {
    ticket
        .get("updated_at")
        .and_then(Value::as_str)
        .and_then(parse_timestamp)
        .unwrap_or_default()
}

impl Helpdesk {
    /// Sets the per-minute limit (`None` or 0: none) and starts a new window.
    pub fn limit(&mut self, per_minute: Option<u32>) {
        self.per_minute = per_minute.filter(|n| *n > 0);
        self.window = None;
    }

    /// Counts one call against the minute's limit.
    pub fn allow(&mut self, now: DateTime<Utc>) -> Allowance {
        let Some(total) = self.per_minute else {
            return Allowance::Unlimited;
        };
        let (start, used) = match self.window {
            Some((start, used)) if now < start + Duration::minutes(1) => (start, used),
            _ => (now, 0),
        };
        if used >= total {
            let left = (start + Duration::minutes(1) - now).num_seconds().max(1);
            return Allowance::RetryAfter(u64::try_from(left).unwrap_or(60));
        }
        self.window = Some((start, used + 1));
        Allowance::Remaining {
            total,
            remaining: total - used - 1,
        }
    }

    /// Adds tickets (`{"tickets": [...]}`, an array, or one ticket), each with its
    /// conversations under `conversations` when given. Missing times become `now`,
    /// missing fields Freshdesk's defaults. Returns the ids added and those kept (already
    /// there, `replace` not asked).
    pub fn seed(
        &mut self,
        seed: Value,
        replace: bool,
        now: DateTime<Utc>,
    ) -> Result<(Vec<String>, Vec<String>), String> {
        let tickets = seed_objects(seed, "tickets", "a ticket")?;
        let mut completed = Vec::with_capacity(tickets.len());
        for mut ticket in tickets {
            let id = ticket
                .get("id")
                .and_then(Value::as_u64)
                .ok_or("every ticket needs a numeric id")?;
            let conversations = match ticket.remove("conversations") {
                None => Vec::new(),
                Some(Value::Array(entries)) => entries,
                Some(_) => return Err(format!("ticket {id}: `conversations` must be an array")),
            };
            let stamp = timestamp(now);
            for (key, default) in [
                ("status", json!(2)),
                ("priority", json!(1)),
                ("source", json!(1)),
                ("type", Value::Null),
                ("tags", json!([])),
                ("custom_fields", json!({})),
                ("created_at", json!(stamp)),
                ("updated_at", json!(stamp)),
            ] {
                ticket.entry(key).or_insert(default);
            }
            for key in ["created_at", "updated_at"] {
                let valid = ticket
                    .get(key)
                    .and_then(Value::as_str)
                    .and_then(parse_timestamp)
                    .is_some();
                if !valid {
                    return Err(format!("ticket {id}: {key} is not an RFC 3339 time"));
                }
            }
            let mut entries = Vec::with_capacity(conversations.len());
            for entry in conversations {
                let Value::Object(entry) = entry else {
                    return Err(format!("ticket {id}: every conversation must be an object"));
                };
                entries.push(entry);
            }
            completed.push((id, ticket, entries));
        }
        let (mut added, mut kept) = (Vec::new(), Vec::new());
        for (id, ticket, entries) in completed {
            if self.tickets.contains_key(&id) && !replace {
                kept.push(id.to_string());
                continue;
            }
            // An entry without a time follows the one before it by a second, as a
            // conversation unfolds after its ticket is opened.
            let created = ticket
                .get("created_at")
                .and_then(Value::as_str)
                .and_then(parse_timestamp)
                .unwrap_or(now);
            let entries = entries
                .into_iter()
                .zip(1_i64..)
                .map(|(mut entry, position)| {
                    if !entry.contains_key("id") {
                        entry.insert("id".into(), json!(self.conversation_id()));
                    }
                    entry.entry("ticket_id").or_insert(json!(id));
                    entry.entry("incoming").or_insert(json!(true));
                    entry.entry("private").or_insert(json!(false));
                    entry.entry("source").or_insert(json!(0));
                    entry.entry("created_at").or_insert_with(|| {
                        json!(timestamp(created + chrono::Duration::seconds(position)))
                    });
                    let at = entry.get("created_at").cloned().unwrap_or_default();
                    entry.entry("updated_at").or_insert(at);
                    Value::Object(entry)
                })
                .collect();
            self.tickets.insert(id, ticket);
            self.conversations.insert(id, entries);
            added.push(id.to_string());
        }
        Ok((added, kept))
    }

    fn conversation_id(&mut self) -> u64 {
        self.next_conversation_id += 1;
        90_000_000 + self.next_conversation_id
    }

    /// Every ticket with its conversations, for `/_sim/state`.
    pub fn all(&self) -> Vec<Value> {
        self.tickets
            .iter()
            .map(|(id, ticket)| {
                let mut ticket = ticket.clone();
                ticket.insert(
                    "conversations".into(),
                    Value::Array(self.conversations.get(id).cloned().unwrap_or_default()),
                );
                Value::Object(ticket)
            })
            .collect()
    }

    /// `GET /api/v2/tickets`: the tickets updated at or after `updated_since` (the last
    /// 30 days without it, as Freshdesk), ordered as asked (`created_at` descending by
    /// default), one page; `include=requester` embeds the requester and
    /// `include=description` the description, as Freshdesk only then sends them.
    pub fn list(
        &self,
        query: &TicketQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<Value>, HelpdeskError> {
        let since = match &query.updated_since {
            Some(raw) => parse_timestamp(raw).ok_or_else(|| {
                HelpdeskError::invalid("updated_since", "It should be a valid date")
            })?,
            None => now - Duration::days(30),
        };
        let order_by = query.order_by.as_deref().unwrap_or("created_at");
        if !matches!(order_by, "created_at" | "updated_at" | "due_by" | "status") {
            return Err(HelpdeskError::invalid(
                "order_by",
                "It should be one of these values: 'created_at,due_by,updated_at,status'",
            ));
        }
        let ascending = match query.order_type.as_deref().unwrap_or("desc") {
            "asc" => true,
            "desc" => false,
            _ => {
                return Err(HelpdeskError::invalid(
                    "order_type",
                    "It should be one of these values: 'asc,desc'",
                ))
            }
        };
        let includes: Vec<&str> = query
            .include
            .as_deref()
            .map(|raw| raw.split(',').map(str::trim).collect())
            .unwrap_or_default();
        for include in &includes {
            if !matches!(*include, "requester" | "description" | "stats" | "company") {
                return Err(HelpdeskError::invalid(
                    "include",
                    "It should be one of these values: 'requester,stats,company,description'",
                ));
            }
        }
        let mut tickets: Vec<&Map<String, Value>> = self
            .tickets
            .values()
            .filter(|ticket| updated_at(ticket) >= since)
            .collect();
        tickets.sort_by(|a, b| {
            let key = |t: &Map<String, Value>| {
                (
                    t.get(order_by).map(ToString::to_string).unwrap_or_default(),
                    t.get("id").and_then(Value::as_u64).unwrap_or(0),
                )
            };
            let ordering = key(a).cmp(&key(b));
            if ascending {
                ordering
            } else {
                ordering.reverse()
            }
        });
        let shown = tickets
            .into_iter()
            .map(|ticket| {
                let mut shown = ticket.clone();
                if !includes.contains(&"description") {
                    shown.remove("description");
                    shown.remove("description_text");
                }
                match shown.remove("requester") {
                    Some(requester) if includes.contains(&"requester") => {
                        shown.insert("requester".into(), requester);
                    }
                    _ => {}
                }
                Value::Object(shown)
            })
            .collect();
        page_of(shown, query.page.as_deref(), query.per_page.as_deref())
    }

    /// `GET /api/v2/tickets/{id}/conversations`: one page, oldest first.
    pub fn conversations(
        &self,
        ticket_id: u64,
        page: Option<&str>,
        per_page: Option<&str>,
    ) -> Result<Vec<Value>, HelpdeskError> {
        let entries = self
            .conversations
            .get(&ticket_id)
            .ok_or_else(HelpdeskError::not_found)?;
        page_of(entries.clone(), page, per_page)
    }

    /// `POST /api/v2/tickets/{id}/reply`: the shop's public reply, added to the
    /// conversation; the ticket's `updated_at` moves to now.
    pub fn reply(
        &mut self,
        ticket_id: u64,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, HelpdeskError> {
        if !self.tickets.contains_key(&ticket_id) {
            return Err(HelpdeskError::not_found());
        }
        let html = match body.get("body").and_then(Value::as_str) {
            Some(html) if !html.trim().is_empty() => html.to_owned(),
            _ => {
                return Err(HelpdeskError {
                    status: 400,
                    body: json!({"description": "Validation failed",
                        "errors": [{"field": "body", "message": "It should not be blank", "code": "missing_field"}]}),
                })
            }
        };
        let id = self.conversation_id();
        let stamp = timestamp(now);
        let entry = json!({
            "id": id, "ticket_id": ticket_id, "body": html, "body_text": strip_tags(&html),
            "incoming": false, "private": false, "source": 0, "user_id": 1,
            "from_email": "support@sellerops-local.freshdesk.com",
            "created_at": stamp, "updated_at": stamp,
        });
        self.conversations
            .entry(ticket_id)
            .or_default()
            .push(entry.clone());
        if let Some(ticket) = self.tickets.get_mut(&ticket_id) {
            ticket.insert("updated_at".into(), json!(stamp));
        }
        Ok(entry)
    }
}

/// The plain text Freshdesk keeps beside a body (`body_text`): tags dropped, a line
/// break for each `<br>` and block, the common entities decoded.
fn strip_tags(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut tag: Option<String> = None;
    for c in html.chars() {
        match (&mut tag, c) {
            (None, '<') => tag = Some(String::new()),
            (Some(name), '>') => {
                let name = name.trim_start_matches('/').to_ascii_lowercase();
                let name = name.split([' ', '/']).next().unwrap_or_default();
                if matches!(name, "br" | "p" | "div" | "li") {
                    text.push('\n');
                }
                tag = None;
            }
            (Some(name), c) => name.push(c),
            (None, c) => text.push(c),
        }
    }
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_replys_plain_text_keeps_its_lines_and_decodes_entities() {
        assert_eq!(
            strip_tags("<div>Your order ships today.<br>Suivi : l&#39;envoi &amp; co &lt;3</div>"),
            "Your order ships today.\nSuivi : l'envoi & co <3"
        );
    }

    #[test]
    fn the_limit_turns_calls_away_until_the_minute_ends() {
        let mut desk = Helpdesk::default();
        assert_eq!(desk.allow(at("2026-11-30T09:00:00Z")), Allowance::Unlimited);
        desk.limit(Some(2));
        let start = at("2026-11-30T09:00:00Z");
        assert!(matches!(
            desk.allow(start),
            Allowance::Remaining { remaining: 1, .. }
        ));
        assert!(matches!(
            desk.allow(start),
            Allowance::Remaining { remaining: 0, .. }
        ));
        assert_eq!(
            desk.allow(start + Duration::seconds(20)),
            Allowance::RetryAfter(40)
        );
        assert!(matches!(
            desk.allow(start + Duration::seconds(61)),
            Allowance::Remaining { .. }
        ));
    }

    #[test]
    fn a_seeded_ticket_gets_defaults_and_its_conversations_ids() {
        let mut desk = Helpdesk::default();
        let now = at("2026-11-30T09:00:00Z");
        desk.seed(
            json!({"tickets": [{"id": 7, "conversations": [{"body_text": "hi"}]}]}),
            false,
            now,
        )
        .unwrap();
        let listed = desk.list(&TicketQuery::default(), now).unwrap();
        assert_eq!(listed[0]["status"], 2);
        let entries = desk.conversations(7, None, None).unwrap();
        assert_eq!(entries[0]["incoming"], true);
        assert!(entries[0]["id"].as_u64().is_some());
        assert!(desk.seed(json!({"id": "x"}), false, now).is_err());
    }
}
