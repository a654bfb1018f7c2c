-- Fenced leases. A lease running out does not stop the attempt that held it:
-- a slow attempt may wake up after another took its row over. Every claim now
-- writes a fresh lease_token on the row it leases, and every write the holder
-- makes afterwards (checkpoint, completion, failure, release) requires that
-- token, so an attempt that was taken over changes nothing more.
--
-- Leased rows: ops.idempotency_keys while in_progress, and
-- ingest.ingestion_files while pending or processing.

alter table ops.idempotency_keys
    add column lease_token uuid;

alter table ingest.ingestion_files
    add column lease_token uuid;
