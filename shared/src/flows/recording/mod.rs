//! The recording path: every marketplace event, whether pushed by a webhook or pulled by
//! the poller, is written to the database the same way.
//!
//! - [`order`]: one channel order (any channel) becomes one `sales.orders` row, its lines,
//!   its customer and a status-history row when the state changes. A version older than
//!   the one stored changes nothing (`last_updated_at` decides).
//! - [`mirakl`]: Best Buy orders and message threads, and the follow-up work they cause
//!   (accept, label, reply), written to the outbox in the caller's transaction.
//! - [`shopify`]: Shopify orders and customers from its webhooks, and orders from the
//!   scheduled reconciliation.
//! - [`freshdesk`]: helpdesk tickets from Freshdesk's automation-rule webhooks.
//! - [`checks`]: what an order must be to be recorded (refused otherwise, naming the
//!   field), and what is recorded as sent but raised in [`data_problems`].
//!
//! Every function here runs inside the caller's transaction and is safe to run twice
//! with the same input: a retry after a crash finishes the job exactly once.

pub mod checks;
pub mod data_problems;
pub mod freshdesk;
pub mod mirakl;
pub mod order;
pub mod shopify;

use crate::model::customer_email::{CustomerEmail, EmailHash, EmailPepper};

/// Who saw the event, as written to `sales.order_status_history.source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeenBy {
    /// A Mirakl order webhook.
    MiraklWebhook,
    /// The scheduled OR11/M11 poll.
    MiraklPoll,
    ShopifyWebhook,
    /// The scheduled reconciliation through Shopify's Admin GraphQL API.
    ShopifyPoll,
}

impl SeenBy {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SeenBy::MiraklWebhook => "mirakl_webhook",
            SeenBy::MiraklPoll => "mirakl_poll",
            SeenBy::ShopifyWebhook => "shopify_webhook",
            SeenBy::ShopifyPoll => "shopify_poll",
        }
    }
}

/// The keyed hash of an address found in an outside document, or nothing when the
/// document carries no usable address. The address itself goes no further.
pub fn hash_email(raw: Option<&str>, pepper: &EmailPepper) -> Option<EmailHash> {
    raw.and_then(|address| CustomerEmail::parse(address).ok())
        .map(|email| email.hash(pepper))
}
