-- Whether anything a full price evaluation reads changed since the last one
-- that completed (shared/src/flows/pricing/unchanged.rs).
--
-- Every statement that writes one of those tables notes its transaction in
-- pricing.input_changes, once per transaction. A full evaluation that completes
-- records the snapshot it started from, and until when time alone changes none
-- of its decisions: the next edge of an active time-based rule's window, or the
-- seller's next midnight (component prices are valid by day). A scheduled run
-- with every noted change already visible to that snapshot, before that time,
-- has nothing to decide and reads nothing more.

create table pricing.input_changes (
    -- The writing transaction: compared with a run's snapshot, it tells whether
    -- the run could see the change.
    xid        xid8 not null,
    -- The first input table the transaction wrote (for a person reading).
    table_name text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- One row: the last full evaluation that completed.
create table pricing.last_full_evaluation (
    id               boolean primary key default true,
    started_snapshot pg_snapshot not null,
    started_at       timestamptz not null,
    completed_at     timestamptz not null,
    unchanged_until  timestamptz not null,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint last_full_evaluation_one_row check (id)
);

create function pricing.note_input_change() returns trigger
language plpgsql as $$
begin
    -- Once per transaction: the transaction id is what a run compares.
    if current_setting('pricing.input_change_noted', true)
           is distinct from pg_current_xact_id()::text then
        insert into pricing.input_changes (xid, table_name)
        values (pg_current_xact_id(), tg_table_schema || '.' || tg_table_name);
        perform set_config('pricing.input_change_noted', pg_current_xact_id()::text, true);
    end if;
    return null;
end;
$$;

do $$
declare
    input text;
begin
    foreach input in array array[
        'ops.settings',
        'catalog.shop_sku_map', 'catalog.products', 'catalog.product_variants',
        'catalog.variant_components', 'inventory.component_prices', 'inventory.stock_levels',
        'competitors.tracked_listings', 'competitors.products', 'competitors.offers']
    loop
        execute format(
            'create trigger note_pricing_input after insert or update or delete or truncate on %s
                 for each statement execute function pricing.note_input_change()', input);
    end loop;
end;
$$;

-- A statement trigger fires even when no row changed: on the two tables the
-- evaluation itself writes on every run (a rule's config problem, the
-- decisions' summary in current prices), only the columns it reads count.
create trigger note_pricing_input
    after insert or delete or truncate
       or update of id, name, applies_to, scope_value, rule_type, config, priority, is_active,
                    apply_enabled
    on pricing.price_rules
    for each statement execute function pricing.note_input_change();

create trigger note_pricing_input
    after insert or delete or truncate
       or update of listing_id, price, currency, regular_price, min_price, max_price,
                    margin_floor_pct, apply_enabled
    on pricing.current_prices
    for each statement execute function pricing.note_input_change();

call ops.install_touch_triggers();
