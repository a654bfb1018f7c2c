-- One customers table, one orders table, whatever the channel. An outside
-- record is found by (channel, external_id); its payload is kept untouched in
-- raw_payload for audit and replay.

create table sales.customers (
    id             uuid primary key default gen_random_uuid(),
    channel        sales.channel not null,
    external_id    text,
    -- HMAC-SHA256 (secret pepper) of the trimmed, lower-cased e-mail, computed
    -- in Rust. The plain address is never stored.
    email_hash     bytea,
    display_name   text,
    region         text,
    status         text not null default 'active',
    first_order_at timestamptz,
    last_order_at  timestamptz,
    raw_payload    jsonb,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    constraint customers_channel_external_id_key unique (channel, external_id),
    constraint customers_email_hash_check check (octet_length(email_hash) = 32),
    constraint customers_identity_check check (num_nonnulls(external_id, email_hash) >= 1),
    constraint customers_status_check check (status in ('active', 'suspended', 'deleted')),
    constraint customers_order_dates_check check (first_order_at <= last_order_at),
    constraint customers_raw_payload_has_no_email_check
        check (not ops.contains_email_address(raw_payload::text))
);

-- The same address seen in two files (or two channels) is one customer.
create unique index customers_email_hash_key on sales.customers (email_hash)
    where email_hash is not null;
create index customers_region_idx on sales.customers (region);

create table sales.orders (
    id                    uuid primary key default gen_random_uuid(),
    channel               sales.channel not null,
    -- Mirakl order_id, Shopify order id, order_ref of an imported file row.
    external_id           text not null,
    -- Mirakl commercial_id / Shopify order name: what the customer sees.
    commercial_id         text,
    customer_id           uuid,
    ingestion_file_id     uuid,
    -- Current state in the channel's vocabulary; every change is also
    -- appended to sales.order_status_history.
    status                text not null,
    currency              ops.currency_code not null default 'CAD',
    subtotal_amount       numeric(14,2),
    shipping_amount       numeric(14,2),
    tax_amount            numeric(14,2),
    discount_amount       numeric(14,2),
    commission_amount     numeric(14,2),
    total_amount          numeric(14,2) not null,
    payment_method        sales.payment_method,
    payment_reference     text,
    payment_status        text,
    placed_at             timestamptz not null,
    -- Mirakl last_updated_date: the poller's watermark and a stale-write guard.
    last_updated_at       timestamptz,
    acceptance_deadline   timestamptz,
    shipping_deadline     timestamptz,
    shipping_method_code  text,
    shipping_name         text,
    shipping_company      text,
    shipping_line1        text,
    shipping_line2        text,
    shipping_city         text,
    shipping_province     text,
    shipping_postal_code  text,
    shipping_country_code text,
    shipping_phone        text,
    billing_address       jsonb,
    raw_payload           jsonb not null default '{}',
    created_at            timestamptz not null default now(),
    updated_at            timestamptz not null default now(),
    constraint orders_channel_external_id_key unique (channel, external_id),
    constraint orders_customer_id_fkey foreign key (customer_id)
        references sales.customers (id),
    constraint orders_ingestion_file_id_fkey foreign key (ingestion_file_id)
        references ingest.ingestion_files (id),
    constraint orders_status_check check (btrim(status) <> ''),
    constraint orders_amounts_check check (
        total_amount >= 0 and subtotal_amount >= 0 and shipping_amount >= 0
        and tax_amount >= 0 and discount_amount >= 0 and commission_amount >= 0),
    constraint orders_shipping_country_code_check check (shipping_country_code ~ '^[A-Z]{2}$')
);

create index orders_customer_id_idx on sales.orders (customer_id);
create index orders_placed_at_idx on sales.orders (placed_at);
create index orders_status_idx on sales.orders (status);
create index orders_payment_method_idx on sales.orders (payment_method);
create index orders_channel_last_updated_at_idx on sales.orders (channel, last_updated_at);
create index orders_ingestion_file_id_idx on sales.orders (ingestion_file_id);

create table sales.order_lines (
    id               uuid primary key default gen_random_uuid(),
    order_id         uuid not null,
    line_number      integer not null,
    -- Mirakl order_line_id, Shopify line item id.
    external_line_id text,
    sku              text not null,
    -- Resolved through catalog.shop_sku_map; null until the SKU is mapped.
    variant_id       uuid,
    title            text,
    quantity         integer not null,
    unit_price       numeric(14,2) not null,
    currency         ops.currency_code not null default 'CAD',
    line_total       numeric(14,2) not null,
    shipping_amount  numeric(14,2),
    tax_amount       numeric(14,2),
    status           text,
    raw_payload      jsonb not null default '{}',
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint order_lines_order_id_line_number_key unique (order_id, line_number),
    constraint order_lines_order_id_external_line_id_key unique (order_id, external_line_id),
    constraint order_lines_order_id_fkey foreign key (order_id)
        references sales.orders (id) on delete cascade,
    constraint order_lines_variant_id_fkey foreign key (variant_id)
        references catalog.product_variants (id),
    constraint order_lines_line_number_check check (line_number >= 1),
    constraint order_lines_quantity_check check (quantity > 0),
    constraint order_lines_amounts_check check (
        unit_price >= 0 and line_total >= 0 and shipping_amount >= 0 and tax_amount >= 0)
);

create index order_lines_variant_id_idx on sales.order_lines (variant_id);
create index order_lines_sku_idx on sales.order_lines (sku);

create table sales.order_status_history (
    id         uuid primary key default gen_random_uuid(),
    order_id   uuid not null,
    status     text not null,
    changed_at timestamptz not null default now(),
    -- Who saw or made the change: mirakl_poll, mirakl_webhook, accept-orders, file_import…
    source     text not null,
    note       text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint order_status_history_order_id_fkey foreign key (order_id)
        references sales.orders (id) on delete cascade,
    constraint order_status_history_status_check check (btrim(status) <> '')
);

create index order_status_history_order_id_changed_at_idx
    on sales.order_status_history (order_id, changed_at);

create trigger order_status_history_append_only
    before update on sales.order_status_history
    for each row execute function ops.reject_history_rewrite();

-- first_order_at / last_order_at follow the orders themselves, so no writer
-- can forget them and replays cannot move them the wrong way.
create function sales.track_customer_order_dates() returns trigger
language plpgsql as $$
begin
    -- least/greatest skip nulls, so a first order fills both columns.
    update sales.customers
    set first_order_at = least(first_order_at, new.placed_at),
        last_order_at = greatest(last_order_at, new.placed_at)
    where id = new.customer_id
      and (new.placed_at between first_order_at and last_order_at) is not true;
    return null;
end;
$$;

create trigger orders_track_customer_order_dates
    after insert or update of customer_id, placed_at on sales.orders
    for each row execute function sales.track_customer_order_dates();

-- One shipment per order; each step of the label flow is stamped so a retried
-- job resumes where the last one stopped.
create table sales.shipments (
    id                   uuid primary key default gen_random_uuid(),
    order_id             uuid not null,
    state                text not null default 'pending',
    carrier              text not null default 'canada_post',
    service_code         text,
    -- The carrier's shipment id (Canada Post shipment-id).
    shipment_id          text,
    tracking_pin         text,
    label_artifact_url   text,
    label_s3_key         text,
    parcel_weight_grams  integer,
    shipping_cost        numeric(14,2),
    currency             ops.currency_code not null default 'CAD',
    label_created_at     timestamptz,
    label_stored_at      timestamptz,
    -- Mirakl OR23 (tracking sent) and OR24 (shipment confirmed).
    tracking_reported_at timestamptz,
    shipped_at           timestamptz,
    last_error           text,
    raw_payload          jsonb,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    constraint shipments_order_id_key unique (order_id),
    constraint shipments_carrier_shipment_id_key unique (carrier, shipment_id),
    constraint shipments_order_id_fkey foreign key (order_id)
        references sales.orders (id),
    constraint shipments_state_check check (state in (
        'pending', 'label_created', 'label_stored', 'tracking_reported', 'shipped',
        'delivered', 'voided', 'failed')),
    constraint shipments_parcel_weight_grams_check check (parcel_weight_grams > 0),
    constraint shipments_shipping_cost_check check (shipping_cost >= 0),
    constraint shipments_label_check check (label_created_at is null or shipment_id is not null)
);

create index shipments_tracking_pin_idx on sales.shipments (tracking_pin);
create index shipments_state_idx on sales.shipments (state);

-- Carrier tracking updates, appended as they are seen.
create table sales.shipment_events (
    id          uuid primary key default gen_random_uuid(),
    shipment_id uuid not null,
    status      text not null,
    description text,
    location    text,
    occurred_at timestamptz not null,
    source      text not null,
    raw_payload jsonb,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint shipment_events_shipment_id_occurred_at_status_key
        unique (shipment_id, occurred_at, status),
    constraint shipment_events_shipment_id_fkey foreign key (shipment_id)
        references sales.shipments (id) on delete cascade
);

create trigger shipment_events_append_only
    before update on sales.shipment_events
    for each row execute function ops.reject_history_rewrite();

-- Units of a variant held for an order line until it ships or is cancelled.
create table inventory.stock_reservations (
    id             uuid primary key default gen_random_uuid(),
    order_line_id  uuid not null,
    variant_id     uuid not null,
    quantity       integer not null,
    reserved_at    timestamptz not null default now(),
    expires_at     timestamptz,
    released_at    timestamptz,
    release_reason text,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    constraint stock_reservations_order_line_id_variant_id_key unique (order_line_id, variant_id),
    constraint stock_reservations_order_line_id_fkey foreign key (order_line_id)
        references sales.order_lines (id) on delete cascade,
    constraint stock_reservations_variant_id_fkey foreign key (variant_id)
        references catalog.product_variants (id),
    constraint stock_reservations_quantity_check check (quantity > 0),
    constraint stock_reservations_release_check
        check ((released_at is null) = (release_reason is null)),
    constraint stock_reservations_release_reason_check
        check (release_reason in ('shipped', 'cancelled', 'refused', 'expired', 'manual'))
);

create index stock_reservations_open_variant_id_idx on inventory.stock_reservations (variant_id)
    where released_at is null;

-- Keeps inventory.stock_levels.reserved equal to the open reservations, so
-- the reserved <= on_hand check refuses an oversell atomically. A variant
-- with no stock row cannot be reserved either.
create function inventory.apply_reservation_to_stock() returns trigger
language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') and old.released_at is null then
        update inventory.stock_levels set reserved = reserved - old.quantity
        where variant_id = old.variant_id;
    end if;
    if tg_op in ('INSERT', 'UPDATE') and new.released_at is null then
        update inventory.stock_levels set reserved = reserved + new.quantity
        where variant_id = new.variant_id;
        if not found then
            -- Nothing on hand: report it as the same oversell the check catches.
            raise exception 'variant % has no stock level to reserve from', new.variant_id
                using errcode = 'check_violation', schema = 'inventory', table = 'stock_levels',
                      constraint = 'stock_levels_reserved_within_on_hand_check';
        end if;
    end if;
    return null;
end;
$$;

create trigger stock_reservations_apply_to_stock
    after insert or update of quantity, variant_id, released_at or delete
    on inventory.stock_reservations
    for each row execute function inventory.apply_reservation_to_stock();

call ops.install_touch_triggers();
