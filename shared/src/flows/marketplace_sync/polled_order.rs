//! How a poll records one order it read, whatever the channel: through that channel's
//! webhook path, with the days it touched noted for the daily sales aggregates' next
//! refresh (the sync's own sweep, at the end of its run), in a transaction of its own.
//! One order failing loses only that order, and an order is never recorded without its
//! day noted.

use std::future::Future;

use sqlx::{PgConnection, PgPool};

use crate::flows::recording::checks::CheckedOrder;
use crate::flows::recording::mirakl::{record_mirakl_order, RecordedMiraklOrder};
use crate::flows::recording::order::RecordedOrder;
use crate::flows::recording::shopify::record_shopify_order;
use crate::flows::recording::SeenBy;
use crate::flows::sales_aggregates::SalesDays;
use crate::model::customer_email::EmailPepper;
use crate::systems::mirakl::orders::MiraklOrder;
use crate::systems::shopify::ShopifyOrder;

/// An order a poll read and checked, recorded the way its channel's webhook records it.
pub(crate) trait PolledOrder: Sync {
    /// What the channel's recording path reports.
    type Recorded;

    /// Records the order as seen by the channel's poll, noting the days it touched.
    fn record(
        &self,
        conn: &mut PgConnection,
        pepper: &EmailPepper,
        days: &mut SalesDays,
    ) -> impl Future<Output = Result<Self::Recorded, sqlx::Error>> + Send;
}

impl PolledOrder for CheckedOrder<MiraklOrder> {
    type Recorded = RecordedMiraklOrder;

    async fn record(
        &self,
        conn: &mut PgConnection,
        pepper: &EmailPepper,
        days: &mut SalesDays,
    ) -> Result<RecordedMiraklOrder, sqlx::Error> {
        record_mirakl_order(conn, self, pepper, SeenBy::MiraklPoll, days).await
    }
}

impl PolledOrder for CheckedOrder<ShopifyOrder> {
    type Recorded = RecordedOrder;

    async fn record(
        &self,
        conn: &mut PgConnection,
        pepper: &EmailPepper,
        days: &mut SalesDays,
    ) -> Result<RecordedOrder, sqlx::Error> {
        record_shopify_order(conn, self, pepper, SeenBy::ShopifyPoll, days).await
    }
}

/// Records `order` and notes its days for the aggregates' next refresh, committed
/// together.
pub(crate) async fn record_polled_order<O: PolledOrder>(
    pool: &PgPool,
    order: &O,
    pepper: &EmailPepper,
) -> Result<O::Recorded, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut days = SalesDays::new();
    let recorded = order.record(&mut tx, pepper, &mut days).await?;
    days.note_stale(&mut tx).await?;
    tx.commit().await?;
    Ok(recorded)
}
