-- Every evaluation rewrites the decision's summary in pricing.current_prices
-- (suggested price, margins, the decision's id and digest): for a full run,
-- every row. Two things made each of those updates write every index entry
-- of the row again, and a new heap page besides:
--
-- - current_prices_net_margin_pct_idx (from the seed) indexed a column each
--   decision changes, and no query of the product reads it (the automation
--   rules read a listing's margin by its listing id). Dropped.
-- - The table's pages were full, so the new version of a row went to another
--   page. Pages now keep more than half their room free (fillfactor 45), so
--   a row's new version fits beside the old one and no index is touched (a
--   heap-only update; the old version is pruned when the page is next read).
--   Measured on the price benchmark's 100,000 listings: the full run's update
--   of every row took 3.2 s of database time with the index and full pages,
--   0.9 s without the index and with room on the page.

drop index pricing.current_prices_net_margin_pct_idx;

-- Rows stored before keep their full pages until their next update, which
-- moves them to pages filled to this mark.
alter table pricing.current_prices set (fillfactor = 45);
