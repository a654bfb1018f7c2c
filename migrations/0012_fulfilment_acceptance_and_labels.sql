-- Order fulfilment: the acceptance decision taken for a marketplace order,
-- parcel dimensions on variants, and the in-flight mark of a label purchase.

-- One acceptance decision per order, written (with its stock reservations)
-- before Mirakl OR21 is called, so a retried message sends the same decision
-- instead of deciding again. `lines` is the OR21 body's order_lines plus why a
-- line was refused: [{"id": "...", "accepted": true|false, "reason": "..."}].
create table sales.order_acceptances (
    id           uuid primary key default gen_random_uuid(),
    order_id     uuid not null,
    -- decided: reserved and waiting for OR21; sent: Mirakl took it;
    -- reconciled: Mirakl had already moved on (ORDER_INVALID_STATE) and its
    -- state was recorded instead.
    state        text not null default 'decided',
    lines        jsonb not null,
    decided_at   timestamptz not null default now(),
    sent_at      timestamptz,
    marketplace_state text,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    constraint order_acceptances_order_id_key unique (order_id),
    constraint order_acceptances_order_id_fkey foreign key (order_id)
        references sales.orders (id) on delete cascade,
    constraint order_acceptances_state_check check (state in ('decided', 'sent', 'reconciled')),
    constraint order_acceptances_lines_check check (jsonb_typeof(lines) = 'array'),
    constraint order_acceptances_sent_check check (state = 'decided' or sent_at is not null)
);

-- Packed size of one unit, for the carrier's parcel characteristics.
alter table catalog.product_variants
    add column length_cm numeric(6,1),
    add column width_cm  numeric(6,1),
    add column height_cm numeric(6,1),
    add constraint product_variants_dimensions_check
        check (length_cm > 0 and width_cm > 0 and height_cm > 0);

-- Set just before the carrier is asked for a label and kept once it answered.
-- A row with this set and no shipment_id means a process died while a label
-- purchase was in flight: a person must check the carrier before any retry
-- may buy, so that one order never gets two labels.
alter table sales.shipments
    add column label_requested_at timestamptz;

call ops.install_touch_triggers();
