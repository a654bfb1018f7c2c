-- A webhook delivery is stored in ops.inbox by the transaction that records
-- it, so it is stored already processed (processed_at set on insert) and a
-- delivery recorded whole is never updated: one row version and one write of
-- each index instead of two. No delivery is ever committed unprocessed, so the
-- index of unprocessed deliveries never held a visible row, and no query read
-- it. Dropped.

drop index ops.inbox_unprocessed_idx;
