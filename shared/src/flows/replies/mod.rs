//! Replies to customers' messages, in marketplace threads and helpdesk tickets: what a
//! message asks ([`classifier`]), whether it is answered automatically ([`guards`]) and
//! with which words ([`templates`]), and the flow that decides each message once, sends
//! at most one reply and hands everything else to a person ([`AutoReply`]).

pub mod classifier;
mod facts;
mod flow;
pub mod guards;
mod message;
pub mod order_number;
pub mod templates;

pub use flow::{AutoReply, ReplyOutcome, READ_BACK_PAGES, REPLY_LEASE, REPLY_PROCESS, RETRY};
pub use message::ReplyMessage;
