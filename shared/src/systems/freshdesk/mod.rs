//! Freshdesk, the helpdesk: its tickets as webhooks send them and as the REST API v2
//! lists them ([`ticket`]), a ticket's conversations ([`conversation`]), and the
//! client that reads them and posts replies ([`client`]).
//!
//! Every call goes through the shared [`HttpClient`](super::http::HttpClient): logged in
//! `ops.api_calls` with the Basic-auth header redacted, bodies kept only for a failed
//! call and then with their personal data masked (a reply's words withheld).

pub mod client;
pub mod conversation;
pub mod ticket;

pub use client::{FreshdeskClient, FreshdeskError};
pub use conversation::FreshdeskConversation;
pub use ticket::{html_text, text_html, FreshdeskTicket, InvalidTicket};
