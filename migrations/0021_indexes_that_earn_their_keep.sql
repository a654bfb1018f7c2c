-- Every index on a table that an order-file import or a webhook writes
-- (sales.orders, sales.order_lines, sales.customers, catalog.products and the
-- daily aggregates) is paid for on each row written. These ones serve no query
-- the product runs; the seeds listed most of them for screens and reports that
-- are not built. migrations/README.md ("Indexes on the tables orders write")
-- names the query each remaining index serves. Add an index back together with
-- the query that needs it.
--
-- The foreign keys stay: they protect money and stock. An index on a
-- referencing column is only needed to delete the referenced row quickly, and
-- the product never deletes variants, products or customers that orders use
-- (a failed order file deletes only customers none of its orders kept, found
-- through sales.orders_customer_id_idx).

drop index sales.orders_status_idx;
drop index sales.orders_payment_method_idx;
drop index sales.orders_channel_last_updated_at_idx;

drop index sales.order_lines_sku_idx;
drop index sales.order_lines_variant_id_idx;

drop index sales.customers_region_idx;

drop index catalog.products_brand_idx;
drop index catalog.products_category_idx;
drop index catalog.products_custom_category_idx;
drop index catalog.products_name_search_idx;
drop index catalog.products_status_idx;
drop index catalog.products_tags_idx;

drop index analytics.sales_aggregates_daily_product_id_idx;
drop index analytics.sales_aggregates_daily_category_idx;
drop index analytics.sales_aggregates_daily_payment_method_idx;
