-- Stock follows the order's life, and the daily sales count only what sold.
--
-- 1. A reservation can be released because its line was refunded before it
--    shipped: 'refunded' joins the release reasons.
-- 2. The expiry sweep reads open reservations by expires_at.
-- 3. sales.is_unsold_status names the statuses that never count as a sale,
--    for an order and for a line; the daily refresh now leaves out a
--    cancelled, refused or refunded line of an order that stands.
-- 4. inventory.order_reservations shows where each reservation of each order
--    stands, in the words an operator checks: open, consumed (the units left
--    on_hand when the order shipped) or released (with the reason).

alter table inventory.stock_reservations
    drop constraint stock_reservations_release_reason_check,
    add constraint stock_reservations_release_reason_check
        check (release_reason in ('shipped', 'cancelled', 'refused', 'refunded', 'expired', 'manual'));

create index stock_reservations_open_expires_at_idx on inventory.stock_reservations (expires_at)
    where released_at is null and expires_at is not null;

-- The channels' own words for an order or line that was not sold (Mirakl
-- spells CANCELED, Shopify and order files cancelled).
create function sales.is_unsold_status(status text) returns boolean
language sql immutable parallel safe
as $$
    select lower(status) in ('cancelled', 'canceled', 'refused', 'refunded')
$$;

create or replace function analytics.refresh_sales_aggregates_daily(p_from date, p_to date)
returns integer
language plpgsql
set work_mem = '64MB'
as $$
declare
    written integer;
begin
    delete from analytics.sales_aggregates_daily where day >= p_from and day < p_to;

    insert into analytics.sales_aggregates_daily
        (day, product_id, category, payment_method, currency, revenue, units, order_count,
         unique_customers)
    select
        (o.placed_at at time zone 'UTC')::date,
        v.product_id,
        coalesce(p.category, ''),
        coalesce(o.payment_method, 'other'),
        l.currency,
        sum(l.line_total),
        sum(l.quantity),
        count(distinct o.id),
        count(distinct o.customer_id)
    from sales.orders o
    join sales.order_lines l on l.order_id = o.id
    join catalog.product_variants v on v.id = l.variant_id
    join catalog.products p on p.id = v.product_id
    where o.placed_at >= p_from::timestamp at time zone 'UTC'
      and o.placed_at < p_to::timestamp at time zone 'UTC'
      and not sales.is_unsold_status(o.status)
      and (l.status is null or not sales.is_unsold_status(l.status))
    group by 1, 2, 3, 4, 5;

    get diagnostics written = row_count;
    return written;
end;
$$;

create view inventory.order_reservations as
select
    o.channel,
    o.external_id as order_external_id,
    o.status as order_status,
    l.external_line_id,
    l.sku,
    r.variant_id,
    r.quantity,
    case
        when r.released_at is null then 'open'
        when r.release_reason = 'shipped' then 'consumed'
        else 'released'
    end as state,
    r.release_reason,
    r.reserved_at,
    r.expires_at,
    r.released_at
from inventory.stock_reservations r
join sales.order_lines l on l.id = r.order_line_id
join sales.orders o on o.id = l.order_id;
