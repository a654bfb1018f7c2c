-- Order files write hundreds of thousands of orders at a time. Two things made
-- that slow and one made it wrong:
--
-- 1. sales.track_customer_order_dates ran once per order row, an UPDATE of the
--    customer each time. It now runs once per statement over the statement's
--    transition table: one set-based UPDATE whatever the number of orders, with
--    the same effect (first/last order dates only widen).
-- 2. The daily sales aggregates refresh sorts every line of the days it
--    recomputes; with the default work_mem that sort spilled to disk.
-- 3. Revenue was summed across currencies within a key. The currency is now
--    part of the key: one row per (day, product, category, payment method,
--    currency).

drop trigger orders_track_customer_order_dates on sales.orders;

create or replace function sales.track_customer_order_dates() returns trigger
language plpgsql as $$
begin
    update sales.customers c
    set first_order_at = least(c.first_order_at, n.first_order_at),
        last_order_at = greatest(c.last_order_at, n.last_order_at)
    from (
        select customer_id, min(placed_at) as first_order_at, max(placed_at) as last_order_at
        from changed_orders
        where customer_id is not null
        group by customer_id
    ) n
    where c.id = n.customer_id
      -- least/greatest skip nulls, so a first order fills both columns; a
      -- customer whose dates already cover the orders is not rewritten.
      and (c.first_order_at is null or c.last_order_at is null
           or n.first_order_at < c.first_order_at or n.last_order_at > c.last_order_at);
    return null;
end;
$$;

-- Transition tables cannot be combined with a column list or with two events,
-- so inserts and updates each get a trigger.
create trigger orders_track_customer_order_dates_after_insert
    after insert on sales.orders
    referencing new table as changed_orders
    for each statement execute function sales.track_customer_order_dates();

create trigger orders_track_customer_order_dates_after_update
    after update on sales.orders
    referencing new table as changed_orders
    for each statement execute function sales.track_customer_order_dates();

alter table analytics.sales_aggregates_daily
    drop constraint sales_aggregates_daily_pkey,
    add constraint sales_aggregates_daily_pkey
        primary key (day, product_id, category, payment_method, currency);

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
      and lower(o.status) not in ('cancelled', 'canceled', 'refused', 'refunded')
    group by 1, 2, 3, 4, 5;

    get diagnostics written = row_count;
    return written;
end;
$$;
