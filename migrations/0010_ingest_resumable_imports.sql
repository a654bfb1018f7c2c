-- Resumable, exactly-once imports of order files (function ingest-orders-file).
--
-- An import claims its ingestion_files row with a lease, writes the file in
-- batches, and advances processed_rows + failed_rows in the same transaction
-- as each batch's rows: that sum is the checkpoint a retry resumes from. The
-- lease only keeps a second delivery from doing the same work at the same
-- time; a crashed attempt's lease runs out and a retry takes the file over.

alter table ingest.ingestion_files
    add column locked_until timestamptz;

alter table ingest.ingestion_files
    add constraint ingestion_files_lease_check
    check (locked_until is null or status = 'processing');

-- The UTC days whose orders an import changed: the daily sales aggregates of
-- exactly these days are recomputed when the file completes, even when the
-- batches were written by an attempt that crashed.
create table ingest.ingestion_file_days (
    file_id    uuid not null,
    day        date not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint ingestion_file_days_pkey primary key (file_id, day),
    constraint ingestion_file_days_file_id_fkey foreign key (file_id)
        references ingest.ingestion_files (id) on delete cascade
);

call ops.install_touch_triggers();
