-- 0022 set toast_tuple_target = 256 on pricing.price_decisions so that
-- explanations would be compressed in the row from 256 bytes. PostgreSQL only
-- starts compressing a row once it exceeds about 2 KB, whatever the target
-- says; an explanation runs to about 1 KB, so every one was stored whole and
-- the setting did nothing. Reset to the default, which says what happens.
-- The column keeps lz4 for the rare explanation long enough to be compressed.

alter table pricing.price_decisions reset (toast_tuple_target);
