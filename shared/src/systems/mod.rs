//! The outside systems sellerops talks to: their APIs, documents and clients, and the
//! one HTTP client ([`http`]) every API adapter sends through.

pub mod amazon;
pub mod aws;
pub mod canadapost;
pub mod db;
pub mod freshdesk;
pub mod http;
pub mod mirakl;
pub mod shopify;
