//! The sales channels sellerops knows, as stored in the `sales.channel` domain.

use std::fmt;

/// Where an order, customer or message came from. Read from the database as text
/// (`channel::text`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Channel {
    /// Best Buy Canada's marketplace, run on Mirakl.
    #[sqlx(rename = "bestbuy_ca")]
    BestBuyCa,
    /// The seller's Shopify store.
    Shopify,
    /// Amazon (SP-API).
    Amazon,
    /// Freshdesk, the support desk.
    Freshdesk,
    /// Order files dropped into the orders bucket.
    FileImport,
}

impl Channel {
    /// The value stored in `sales.channel` columns.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::BestBuyCa => "bestbuy_ca",
            Channel::Shopify => "shopify",
            Channel::Amazon => "amazon",
            Channel::Freshdesk => "freshdesk",
            Channel::FileImport => "file_import",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
