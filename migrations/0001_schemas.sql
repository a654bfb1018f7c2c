-- One schema per bounded context, plus the few types and trigger functions
-- every later migration shares. Keys are uuid everywhere (gen_random_uuid is
-- core since PostgreSQL 13, so no extension is needed).

create schema if not exists sales;
create schema if not exists catalog;
create schema if not exists inventory;
create schema if not exists pricing;
create schema if not exists competitors;
create schema if not exists support;
create schema if not exists etl;
create schema if not exists ingest;
create schema if not exists analytics;
create schema if not exists workflow;
create schema if not exists ops;

-- Domains over text rather than enums: Rust binds and reads them as plain
-- strings, and a bad value still fails with a named constraint.
create domain sales.channel as text
    constraint channel_check
    check (value in ('bestbuy_ca', 'shopify', 'amazon', 'freshdesk', 'file_import'));

create domain sales.payment_method as text
    constraint payment_method_check
    check (value in ('mpesa', 'paystack', 'card', 'bank_transfer', 'other'));

create domain ops.currency_code as char(3)
    constraint currency_code_check
    check (value ~ '^[A-Z]{3}$');

-- Keeps updated_at honest without every statement having to remember it.
create function ops.touch_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

-- History rows are facts about the past: a correction is a new row.
create function ops.reject_history_rewrite() returns trigger
language plpgsql as $$
begin
    raise exception '%.% is append-only', tg_table_schema, tg_table_name
        using errcode = 'restrict_violation';
end;
$$;

-- Attaches ops.touch_updated_at to every project table that has an
-- updated_at column and lacks the trigger; each migration calls it last, so
-- no table can be forgotten.
create procedure ops.install_touch_triggers()
language plpgsql as $$
declare
    t record;
begin
    for t in
        select n.nspname as schema_name, c.relname as table_name
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attname = 'updated_at' and not a.attisdropped
        where c.relkind in ('r', 'p')
          and not c.relispartition
          and n.nspname in ('sales', 'catalog', 'inventory', 'pricing', 'competitors', 'support',
                            'etl', 'ingest', 'analytics', 'workflow', 'ops')
          and not exists (
              select 1 from pg_trigger tg
              where tg.tgrelid = c.oid and tg.tgname = c.relname || '_touch_updated_at')
    loop
        execute format(
            'create trigger %I before update on %I.%I for each row execute function ops.touch_updated_at()',
            t.table_name || '_touch_updated_at', t.schema_name, t.table_name);
    end loop;
end;
$$;

-- Used by checks on columns that must never hold a plain e-mail address
-- (PII rule: only keyed hashes are stored). Pass jsonb as data::text.
create function ops.contains_email_address(content text) returns boolean
language sql immutable parallel safe
return content ~* '[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}';
