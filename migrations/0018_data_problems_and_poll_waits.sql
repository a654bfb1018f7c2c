-- Data problems: what a channel sent that is recorded as sent but does not add
-- up, or is not understood, for a person to look at. Money is never rounded or
-- rewritten to make it fit: an order whose total disagrees with its lines is
-- recorded with each line's own amounts and the total as sent, and the
-- disagreement is kept here, naming both values. One row per channel, order
-- and field (the field's JSON path in the channel's document); a later version
-- of the order that no longer has the problem marks it resolved.

create table ops.data_problems (
    id             uuid primary key default gen_random_uuid(),
    channel        text not null,
    -- The channel's id of the order.
    external_id    text not null,
    -- The field's JSON path in the channel's document, e.g. total_price or
    -- order_lines[1].order_line_state.
    field          text not null,
    -- total_mismatch: an amount that disagrees with the sum of the amounts it
    -- sums; unknown_state: a state sellerops does not know, recorded as UNKNOWN.
    kind           text not null,
    -- What was sent, and what it should have been where that is known.
    sent_value     text not null,
    expected_value text,
    detail         text not null,
    first_seen_at  timestamptz not null default now(),
    last_seen_at   timestamptz not null default now(),
    resolved_at    timestamptz,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    constraint data_problems_channel_external_id_field_key
        unique (channel, external_id, field),
    constraint data_problems_kind_check
        check (kind in ('total_mismatch', 'unknown_state')),
    constraint data_problems_detail_check check (btrim(detail) <> '')
);

create index data_problems_open_idx on ops.data_problems (first_seen_at)
    where resolved_at is null;

call ops.install_touch_triggers();

-- A poll the outside system asked to wait (a 429 whose Retry-After is longer
-- than the run may wait) does not call again before this time; the next
-- scheduled run after it reads from the watermark as usual.
alter table etl.sync_metadata add column next_allowed_at timestamptz;
