#!/usr/bin/env bash
# `make bench-indexes [ROWS=200000]`: what each index on the tables an import or a
# webhook writes costs per write. For every index of sales.orders, sales.order_lines,
# sales.customers and catalog.products, the same generated rows are inserted into an
# empty copy of the table carrying that one index, and the time is compared with the
# copy carrying none. migrations/README.md quotes these figures. Not part of `make test`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/up.sh" >/dev/null
# shellcheck source=infra/local/env.sh
source "$here/env.sh"

rows="${ROWS:-200000}"
echo "==> index write costs: $rows rows per table, best of 3 (load: $(cut -d' ' -f1-3 /proc/loadavg))"
psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -X -v rows="$rows" <<'SQL'
set client_min_messages = notice;
drop schema if exists bench_indexes cascade;
create schema bench_indexes;

-- Rows shaped like an import's: random uuid keys, a few files, a year of dates,
-- about two lines per order, customers shared by several orders.
create table bench_indexes.orders_rows as
select gen_random_uuid() as id, 'file_import'::text as channel, 'ORD-' || i as external_id,
       md5((i % greatest(:rows / 3, 1))::text)::uuid as customer_id,
       timestamptz '2026-01-01' + (i % 365) * interval '1 day' + (i % 86400) * interval '1 second' as placed_at,
       (array['pending', 'shipped', 'delivered', 'cancelled'])[1 + i % 4] as status,
       (array['card', 'bank_transfer', 'other'])[1 + i % 3] as payment_method,
       (i * 7)::numeric(14,2) / 100 as total_amount,
       ('00000000-0000-4000-8000-' || lpad((i / 50000)::text, 12, '0'))::uuid as ingestion_file_id,
       timestamptz '2026-06-01' + i * interval '1 second' as last_updated_at
from generate_series(1, :rows) as i;

create table bench_indexes.order_lines_rows as
select gen_random_uuid() as id, o.id as order_id, n as line_number, 'SKU-' || (hashtext(o.external_id || n) & 4095) as sku,
       o.external_id || '-' || n as external_line_id,
       1 + n as quantity, 9.99::numeric(14,2) as unit_price, (9.99 * (1 + n))::numeric(14,2) as line_total,
       o.ingestion_file_id
from bench_indexes.orders_rows o, generate_series(1, 2) as n;

create table bench_indexes.customers_rows as
select gen_random_uuid() as id, 'file_import'::text as channel, 'CUST-' || i as external_id,
       decode(md5(i::text) || md5((i + 1)::text), 'hex') as email_hash,
       (array['ON', 'QC', 'BC', 'AB', 'NS'])[1 + i % 5] as region
from generate_series(1, :rows) as i;

create table bench_indexes.products_rows as
select gen_random_uuid() as id, 'SKU-' || i as sku, 'Product ' || i || ' laptop sleeve 15 inch' as name,
       (array['laptops', 'audio', 'cables'])[1 + i % 3] as category, 'Brand ' || (i % 40) as brand,
       array['tag' || (i % 10), 'tag' || (i % 7)] as tags
from generate_series(1, :rows) as i;

create function bench_indexes.time_insert(target text, source text, columns text) returns numeric
language plpgsql as $$
declare
    best numeric := null;
    started timestamptz;
    took numeric;
begin
    for attempt in 1..3 loop
        execute format('truncate %s', target);
        started := clock_timestamp();
        execute format('insert into %s (%s) select %s from %s', target, columns, columns, source);
        took := extract(epoch from clock_timestamp() - started);
        best := least(coalesce(best, took), took);
    end loop;
    execute format('truncate %s', target);
    return best;
end;
$$;

create function bench_indexes.measure(table_schema text, table_name text, columns text)
returns table (index_name text, seconds numeric, over_bare numeric, percent numeric)
language plpgsql as $$
declare
    copy text := format('bench_indexes.%I', table_name);
    source text := format('bench_indexes.%I', table_name || '_rows');
    bare numeric;
    definition record;
    took numeric;
begin
    execute format('create table %s (like %I.%I including defaults)', copy, table_schema, table_name);
    bare := bench_indexes.time_insert(copy, source, columns);
    index_name := '(no index)'; seconds := bare; over_bare := 0; percent := 0;
    return next;
    for definition in
        select i.indexname, i.indexdef from pg_indexes i
        where i.schemaname = table_schema and i.tablename = table_name order by i.indexname
    loop
        execute replace(
            replace(definition.indexdef, format(' ON %s.%s ', table_schema, table_name), format(' ON %s ', copy)),
            format('INDEX %s ', definition.indexname), 'INDEX bench_one ');
        took := bench_indexes.time_insert(copy, source, columns);
        execute 'drop index bench_indexes.bench_one';
        index_name := definition.indexname;
        seconds := took;
        over_bare := took - bare;
        percent := round(100 * (took - bare) / nullif(bare, 0));
        return next;
    end loop;
    execute format('drop table %s', copy);
end;
$$;

\pset footer off
\echo
\echo sales.orders
select index_name, round(seconds, 3) as seconds, round(over_bare, 3) as over_bare_s, percent as over_bare_pct
from bench_indexes.measure('sales', 'orders', 'id, channel, external_id, customer_id, placed_at, status, payment_method, total_amount, ingestion_file_id, last_updated_at');
\echo sales.order_lines (two per order)
select index_name, round(seconds, 3) as seconds, round(over_bare, 3) as over_bare_s, percent as over_bare_pct
from bench_indexes.measure('sales', 'order_lines', 'id, order_id, line_number, sku, external_line_id, quantity, unit_price, line_total, ingestion_file_id');
\echo sales.customers
select index_name, round(seconds, 3) as seconds, round(over_bare, 3) as over_bare_s, percent as over_bare_pct
from bench_indexes.measure('sales', 'customers', 'id, channel, external_id, email_hash, region');
\echo catalog.products
select index_name, round(seconds, 3) as seconds, round(over_bare, 3) as over_bare_s, percent as over_bare_pct
from bench_indexes.measure('catalog', 'products', 'id, sku, name, category, brand, tags');
drop schema bench_indexes cascade;
SQL
