//! The outside systems sellerops talks to: their APIs, documents and clients.

pub mod aws;
pub mod canadapost;
pub mod db;
pub mod freshdesk;
pub mod mirakl;
pub mod shopify;
