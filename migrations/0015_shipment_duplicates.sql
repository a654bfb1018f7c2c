-- Labels bought twice. Canada Post's purchase has no idempotency key, so a
-- purchase whose answer was lost (a timeout, a 5xx, an unreadable answer, a
-- crash before the answer was written) may have bought a label. The next
-- attempt lists what Canada Post created for the order (customer-ref-1) and
-- keeps one shipment on sales.shipments; every other one found is recorded
-- here, and its refund requested through its refund link.

create table sales.shipment_duplicates (
    id                  uuid primary key default gen_random_uuid(),
    order_id            uuid not null,
    carrier             text not null default 'canada_post',
    -- The carrier's shipment id of the label not used.
    shipment_id         text not null,
    tracking_pin        text,
    -- The shipment's rel="refund" link.
    refund_url          text,
    -- The refund request was taken: Canada Post's service ticket.
    refund_requested_at timestamptz,
    refund_ticket_id    text,
    refund_ticket_date  text,
    -- Canada Post refused the refund request (or gave no link): a person asks
    -- for it by hand.
    refund_error        text,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint shipment_duplicates_carrier_shipment_id_key unique (carrier, shipment_id),
    constraint shipment_duplicates_order_id_fkey foreign key (order_id)
        references sales.orders (id),
    constraint shipment_duplicates_refund_check
        check (refund_requested_at is null or refund_ticket_id is not null)
);

create index shipment_duplicates_refund_pending_idx on sales.shipment_duplicates (order_id)
    where refund_requested_at is null and refund_error is null;

call ops.install_touch_triggers();
