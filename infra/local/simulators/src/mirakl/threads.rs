//! Mirakl inbox threads: M10 reads one, M11 lists them, M12 adds the shop's reply.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::orders::text;
use super::{ApiError, SHOP_ID, SHOP_NAME};
use crate::state::{parse_timestamp, seed_objects, timestamp};

/// M11's page size when `limit` is not given, and the largest it accepts.
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 100;
/// M11 returns at most this many of a thread's latest messages.
const MESSAGES_RETURNED: usize = 100;
/// M12 refuses a reply to a thread that holds this many messages.
pub const MAX_MESSAGES_PER_THREAD: usize = 1000;
/// M12's `message_input.body`: at least 3 characters, at most 50 000.
const BODY_LENGTHS: std::ops::RangeInclusive<usize> = 3..=50_000;

/// A file sent with an M12 reply (its `files` part), as the message lists it.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The part's file name.
    pub name: String,
    /// Its size in bytes.
    pub size: usize,
}

/// The shop's inbox threads, by id.
#[derive(Debug, Default)]
pub struct Threads {
    by_id: BTreeMap<String, Map<String, Value>>,
}

/// M11's filters and paging, from the query string.
#[derive(Debug, Default)]
pub struct ThreadQuery {
    /// `entity_type`, e.g. `MMP_ORDER`.
    pub entity_type: Option<String>,
    /// `entity_id`: comma-separated; needs `entity_type`.
    pub entity_id: Option<String>,
    /// `updated_since`: threads updated at or after.
    pub updated_since: Option<String>,
    /// `with_messages=true` includes the messages.
    pub with_messages: Option<String>,
    /// `limit`: page size (default 50).
    pub limit: Option<String>,
    /// `page_token`: from the previous page's `next_page_token`.
    pub page_token: Option<String>,
}

impl Threads {
    /// Adds threads from a seed (one thread, an array, or `{"threads": [...]}`).
    ///
    /// A seed may be short: `{"order_id": "X-A", "customer": {"id": "C1",
    /// "display_name": "Jane"}, "topic": "Where is my order?", "messages": [{"body":
    /// "Hi"}]}`; missing ids, dates, participants and metadata are filled in. A
    /// thread already present is kept unless `replace`. Returns the ids added and kept.
    pub fn seed(
        &mut self,
        seed: Value,
        replace: bool,
        now: DateTime<Utc>,
    ) -> Result<(Vec<String>, Vec<String>), String> {
        let threads = seed_objects(seed, "threads", "a thread")?;
        let mut completed = Vec::with_capacity(threads.len());
        for thread in threads {
            completed.push(complete_thread(thread, now)?);
        }
        let (mut added, mut kept) = (Vec::new(), Vec::new());
        for thread in completed {
            let id = text(&thread, "id").to_owned();
            if self.by_id.contains_key(&id) && !replace {
                kept.push(id);
            } else {
                self.by_id.insert(id.clone(), thread);
                added.push(id);
            }
        }
        Ok((added, kept))
    }

    /// Every thread, by id.
    pub fn all(&self) -> impl Iterator<Item = &Map<String, Value>> {
        self.by_id.values()
    }

    /// M11: one page of threads and the token of the next page, if any.
    pub fn list(&self, query: &ThreadQuery) -> Result<(Vec<Value>, Option<String>), ApiError> {
        if query.entity_id.is_some() && query.entity_type.is_none() {
            return Err(ApiError::bad_request(
                "entity_id needs entity_type".to_owned(),
            ));
        }
        let since = query
            .updated_since
            .as_deref()
            .map(|v| {
                parse_timestamp(v).ok_or_else(|| {
                    ApiError::bad_request(format!("updated_since is not a date-time: {v}"))
                })
            })
            .transpose()?;
        let limit = match query.limit.as_deref() {
            None => DEFAULT_PAGE_SIZE,
            Some(v) => v
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("limit must be 1 to {MAX_PAGE_SIZE}, not {v}"))
                })?,
        };
        let offset = match query.page_token.as_deref() {
            None | Some("") => 0,
            Some(token) => decode_page_token(token)
                .ok_or_else(|| ApiError::bad_request("page_token is not valid".to_owned()))?,
        };
        let entity_ids: Option<Vec<&str>> = query
            .entity_id
            .as_deref()
            .map(|ids| ids.split(',').map(str::trim).collect());
        let with_messages = query.with_messages.as_deref() == Some("true");

        let mut matching: Vec<&Map<String, Value>> =
            self.by_id
                .values()
                .filter(|thread| {
                    let updated = parse_timestamp(text(thread, "date_updated"));
                    let entities = thread
                        .get("entities")
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    let entity_matches =
                        |entity: &Value| {
                            query.entity_type.as_deref().is_none_or(|t| {
                                entity.get("type").and_then(Value::as_str) == Some(t)
                            }) && entity_ids.as_ref().is_none_or(|ids| {
                                entity
                                    .get("id")
                                    .and_then(Value::as_str)
                                    .is_some_and(|id| ids.contains(&id))
                            })
                        };
                    since.is_none_or(|s| updated.is_some_and(|u| u >= s))
                        && (query.entity_type.is_none() || entities.iter().any(entity_matches))
                })
                .collect();
        matching.sort_by(|a, b| {
            (text(a, "date_updated"), text(a, "id")).cmp(&(text(b, "date_updated"), text(b, "id")))
        });
        let more = matching.len() > offset + limit;
        let page = matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|thread| {
                let mut thread = thread.clone();
                if with_messages {
                    if let Some(Value::Array(messages)) = thread.get_mut("messages") {
                        let skip = messages.len().saturating_sub(MESSAGES_RETURNED);
                        messages.drain(..skip);
                    }
                } else {
                    thread.remove("messages");
                }
                Value::Object(thread)
            })
            .collect();
        Ok((page, more.then(|| encode_page_token(offset + limit))))
    }

    /// M10: one thread with all its messages.
    pub fn get(&self, thread_id: &str) -> Result<Value, ApiError> {
        self.by_id
            .get(thread_id)
            .map(|thread| Value::Object(thread.clone()))
            .ok_or_else(|| thread_not_found(thread_id))
    }

    /// M12: adds the shop's message to a thread; returns the new message's id.
    ///
    /// `input` is the form's `message_input`: `body` (3 to 50 000 characters) and `to`
    /// (participants of the thread, by type and id) are required, `topic` replaces the
    /// thread's topic when given. A thread that holds
    /// [`MAX_MESSAGES_PER_THREAD`] messages takes no more.
    pub fn reply(
        &mut self,
        thread_id: &str,
        input: &Value,
        attachments: &[Attachment],
        now: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let thread = self
            .by_id
            .get_mut(thread_id)
            .ok_or_else(|| thread_not_found(thread_id))?;
        if !input.is_object() {
            return Err(ApiError::business(
                "VALIDATION_ERROR",
                "message_input must be a JSON object",
            ));
        }
        let body = input
            .get("body")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| ApiError::business("VALIDATION_ERROR", "body is required"))?;
        let length = body.chars().count();
        if !BODY_LENGTHS.contains(&length) {
            return Err(ApiError::business(
                "VALIDATION_ERROR",
                format!(
                    "body must be {} to {} characters long, not {length}",
                    BODY_LENGTHS.start(),
                    BODY_LENGTHS.end()
                ),
            ));
        }
        let topic = match input.get("topic") {
            None | Some(Value::Null) => None,
            Some(topic) => {
                let kind = topic.get("type").and_then(Value::as_str);
                let value = topic.get("value").and_then(Value::as_str);
                match (kind, value) {
                    (Some("FREE_TEXT" | "REASON_CODE"), Some(value)) if !value.is_empty() => {
                        Some(json!({"type": kind, "value": value}))
                    }
                    _ => {
                        return Err(ApiError::business(
                            "VALIDATION_ERROR",
                            "topic needs a type (FREE_TEXT or REASON_CODE) and a value",
                        ))
                    }
                }
            }
        };
        let held = thread
            .get("messages")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if held >= MAX_MESSAGES_PER_THREAD {
            return Err(ApiError::business(
                "VALIDATION_ERROR",
                format!("thread {thread_id} holds {MAX_MESSAGES_PER_THREAD} messages, the most a thread may hold"),
            ));
        }
        let recipients = input
            .get("to")
            .and_then(Value::as_array)
            .filter(|to| !to.is_empty())
            .ok_or_else(|| {
                ApiError::business(
                    "VALIDATION_ERROR",
                    "to (at least one recipient) is required",
                )
            })?;
        let participants = thread
            .get("authorized_participants")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut to = Vec::with_capacity(recipients.len());
        for recipient in recipients {
            let kind = recipient.get("type").and_then(Value::as_str).unwrap_or("");
            let id = recipient.get("id").and_then(Value::as_str);
            let participant = participants.iter().find(|p| {
                p.get("type").and_then(Value::as_str) == Some(kind)
                    && (kind == "OPERATOR" || p.get("id").and_then(Value::as_str) == id)
            });
            let Some(participant) = participant else {
                return Err(ApiError::business(
                    "VALIDATION_ERROR",
                    format!(
                        "recipient {kind} {} is not a participant of this thread",
                        id.unwrap_or("")
                    ),
                ));
            };
            to.push(participant.clone());
        }
        let at = timestamp(now);
        let message_id = Uuid::new_v4().to_string();
        let from = shop_sender();
        let attachments: Vec<Value> = attachments
            .iter()
            .map(|file| json!({"id": Uuid::new_v4().to_string(), "name": file.name, "size": file.size}))
            .collect();
        let message = json!({
            "id": message_id,
            "body": body,
            "date_created": at,
            "attachments": attachments,
            "from": from,
            "to": to,
        });
        let messages = thread
            .entry("messages")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .ok_or_else(|| ApiError::bad_request("thread messages are corrupt".to_owned()))?;
        messages.push(message);
        let count = messages.len();
        if let Some(topic) = topic {
            thread.insert("topic".into(), topic);
        }
        thread.insert("date_updated".into(), json!(at));
        thread.insert(
            "metadata".into(),
            json!({
                "last_message_date": at,
                "last_sender": from,
                "shop_reply_needed_since": null,
                "total_count": count,
            }),
        );
        Ok(message_id)
    }
}

fn thread_not_found(thread_id: &str) -> ApiError {
    ApiError::not_found(
        "THREAD_NOT_FOUND",
        format!("thread {thread_id} does not exist"),
    )
}

fn encode_page_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset={offset}"))
}

fn decode_page_token(token: &str) -> Option<usize> {
    let decoded = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    String::from_utf8(decoded)
        .ok()?
        .strip_prefix("offset=")?
        .parse()
        .ok()
}

fn shop_participant() -> Value {
    json!({"display_name": SHOP_NAME, "id": SHOP_ID, "type": "SHOP"})
}

fn shop_sender() -> Value {
    json!({
        "display_name": SHOP_NAME,
        "type": "SHOP_USER",
        "organization_details": {"display_name": SHOP_NAME, "id": SHOP_ID, "type": "SHOP"},
    })
}

/// Fills what M11 always sends and a seed left out.
fn complete_thread(
    mut thread: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, String> {
    let at = timestamp(now);
    let id = match thread.get("id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        None => Uuid::new_v4().to_string(),
        Some(_) => return Err("a thread id must be a string".to_owned()),
    };
    thread.insert("id".into(), json!(id));
    let customer = match thread.remove("customer") {
        Some(Value::Object(c)) => json!({
            "display_name": c.get("display_name").cloned().unwrap_or(json!("Customer")),
            "id": c.get("id").cloned().unwrap_or(json!(format!("CUST-{id}"))),
            "type": "CUSTOMER",
        }),
        _ => json!({"display_name": "Jane Doe", "id": format!("CUST-{id}"), "type": "CUSTOMER"}),
    };
    if let Some(order_id) = thread.remove("order_id") {
        thread
            .entry("entities")
            .or_insert_with(|| json!([{"id": order_id, "label": order_id, "type": "MMP_ORDER"}]));
    }
    if let Some(Value::String(topic)) = thread.get("topic") {
        let topic = json!({"type": "FREE_TEXT", "value": topic});
        thread.insert("topic".into(), topic);
    }
    let customer_sender = json!({
        "display_name": customer["display_name"],
        "type": "CUSTOMER_USER",
        "organization_details": customer,
    });
    let messages = match thread.remove("messages") {
        None => Vec::new(),
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(format!("thread {id}: messages must be an array")),
    };
    let mut completed = Vec::with_capacity(messages.len());
    for message in messages {
        let Value::Object(mut message) = message else {
            return Err(format!("thread {id}: every message must be an object"));
        };
        let from_shop = message.get("from") == Some(&json!("SHOP"));
        let (from, to) = if from_shop {
            (shop_sender(), customer.clone())
        } else {
            (customer_sender.clone(), shop_participant())
        };
        if message.get("from").is_none_or(Value::is_string) {
            message.insert("from".into(), from);
        }
        let defaults = json!({
            "id": Uuid::new_v4().to_string(),
            "body": "",
            "date_created": at,
            "attachments": [],
            "to": [to],
        });
        if let Value::Object(defaults) = defaults {
            for (key, value) in defaults {
                message.entry(key).or_insert(value);
            }
        }
        completed.push(Value::Object(message));
    }
    let last = completed.last().cloned();
    let last_date = last
        .as_ref()
        .and_then(|m| m.get("date_created").cloned())
        .unwrap_or(json!(at));
    let last_from = last.as_ref().and_then(|m| m.get("from").cloned());
    let customer_waits = last_from
        .as_ref()
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str)
        == Some("CUSTOMER_USER");
    let defaults = json!({
        "date_created": completed.first().and_then(|m| m.get("date_created")).cloned().unwrap_or(json!(at)),
        "date_updated": last_date,
        "topic": {"type": "FREE_TEXT", "value": "Question about my order"},
        "entities": [],
        "authorized_participants": [shop_participant(), customer, {"display_name": "Best Buy", "type": "OPERATOR"}],
        "current_participants": [shop_participant(), customer],
        "no_store_reply_needed": [],
        "metadata": {
            "last_message_date": last_date,
            "last_sender": last_from,
            "shop_reply_needed_since": if customer_waits { last_date.clone() } else { Value::Null },
            "total_count": completed.len(),
        },
    });
    if let Value::Object(defaults) = defaults {
        for (key, value) in defaults {
            thread.entry(key).or_insert(value);
        }
    }
    thread.insert("messages".into(), Value::Array(completed));
    Ok(thread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip() {
        assert_eq!(decode_page_token(&encode_page_token(150)), Some(150));
        assert_eq!(decode_page_token("not a token"), None);
    }

    #[test]
    fn a_short_seed_waits_for_the_shop_reply() {
        let mut threads = Threads::default();
        let (added, _) = threads
            .seed(
                json!({"id": "t1", "order_id": "X-A", "messages": [{"body": "Where is it?"}]}),
                false,
                Utc::now(),
            )
            .unwrap();
        assert_eq!(added, vec!["t1".to_owned()]);
        let thread = threads.all().next().unwrap();
        assert!(!thread["metadata"]["shop_reply_needed_since"].is_null());
        assert_eq!(thread["entities"][0]["type"], json!("MMP_ORDER"));
    }
}
