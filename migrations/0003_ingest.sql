-- Order files dropped in S3. One row per S3 object version: S3 delivers
-- ObjectCreated more than once, and the same bytes can arrive under two keys.

create domain ingest.file_status as text
    constraint file_status_check
    check (value in ('pending', 'processing', 'completed', 'failed', 'duplicate'));

create table ingest.ingestion_files (
    id                   uuid primary key default gen_random_uuid(),
    bucket               text not null,
    object_key           text not null,
    -- null for unversioned buckets; nulls compare equal in the key below.
    version_id           text,
    filename             text not null,
    etag                 text,
    size_bytes           bigint,
    -- Hex SHA-256 of the file bytes, known once the file has been read.
    content_hash         text,
    status               ingest.file_status not null default 'pending',
    duplicate_of_file_id uuid,
    total_rows           integer,
    processed_rows       integer not null default 0,
    failed_rows          integer not null default 0,
    error_message        text,
    started_at           timestamptz,
    completed_at         timestamptz,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    constraint ingestion_files_bucket_object_key_version_id_key
        unique nulls not distinct (bucket, object_key, version_id),
    constraint ingestion_files_duplicate_of_file_id_fkey foreign key (duplicate_of_file_id)
        references ingest.ingestion_files (id),
    constraint ingestion_files_content_hash_check check (content_hash ~ '^[0-9a-f]{64}$'),
    constraint ingestion_files_size_bytes_check check (size_bytes >= 0),
    constraint ingestion_files_row_counts_check check (
        processed_rows >= 0 and failed_rows >= 0
        and (total_rows is null or processed_rows + failed_rows <= total_rows)),
    constraint ingestion_files_duplicate_check
        check ((status = 'duplicate') = (duplicate_of_file_id is not null)),
    constraint ingestion_files_completed_at_check check (completed_at >= started_at)
);

-- The same content is imported once: a second copy is marked duplicate, and a
-- failed file may be uploaded again and retried.
create unique index ingestion_files_content_hash_key on ingest.ingestion_files (content_hash)
    where status in ('pending', 'processing', 'completed');
create index ingestion_files_status_idx on ingest.ingestion_files (status);
create index ingestion_files_created_at_idx on ingest.ingestion_files (created_at);

-- A row that could not be imported, with enough context to fix the file.
create table ingest.ingestion_errors (
    id          uuid primary key default gen_random_uuid(),
    file_id     uuid not null,
    row_number  integer not null,
    column_name text,
    reason      text not null,
    raw_row     text,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint ingestion_errors_file_id_fkey foreign key (file_id)
        references ingest.ingestion_files (id) on delete cascade,
    constraint ingestion_errors_row_number_check check (row_number >= 1),
    constraint ingestion_errors_reason_check check (btrim(reason) <> ''),
    -- Order files carry customer e-mails: the importer blanks that column first.
    constraint ingestion_errors_raw_row_has_no_email_check
        check (not ops.contains_email_address(raw_row))
);

create index ingestion_errors_file_id_row_number_idx on ingest.ingestion_errors (file_id, row_number);

call ops.install_touch_triggers();
