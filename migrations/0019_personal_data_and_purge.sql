-- Personal data is redacted in Rust, on the parsed document, before any copy
-- is stored (shared/src/model/personal_data.rs): the text-based
-- ops.redact_email_addresses missed addresses written with JSON escapes or
-- non-ASCII letters, and could break a document it cut through.
drop function ops.redact_email_addresses(text);

-- The scheduled purge reads processed inbox deliveries by age.
create index inbox_processed_received_at_idx on ops.inbox (received_at)
    where processed_at is not null;
