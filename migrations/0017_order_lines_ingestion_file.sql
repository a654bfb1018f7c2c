-- An order file that fails as a whole after some of its batches committed
-- takes back everything those batches wrote, in the transaction that marks it
-- failed (shared/src/flows/ingest/ingestion_file.rs, `fail`). Its orders are
-- found by sales.orders.ingestion_file_id; the lines it added, including those
-- it added to orders imported earlier from other files, by this column.
--
-- No foreign key: the line's order already references its file for the lines
-- of the file's own orders, and a check per line would add seconds to an
-- import of a million lines for a column only the importer writes.

alter table sales.order_lines add column ingestion_file_id uuid;

update sales.order_lines
set ingestion_file_id = (raw_payload->>'ingestion_file_id')::uuid
where raw_payload ? 'ingestion_file_id';

create index order_lines_ingestion_file_id_idx on sales.order_lines (ingestion_file_id)
    where ingestion_file_id is not null;
