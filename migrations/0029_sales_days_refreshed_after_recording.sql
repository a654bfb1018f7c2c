-- A webhook delivery or a poll no longer recomputes its orders' days before it
-- commits: it notes them, and the days are recomputed later, once for every
-- delivery that noted them. Recomputing the day in every delivery under the
-- day's lock put one day's deliveries in single file, each waiting for the
-- whole day's recompute and commit of the one before.
--
-- 1. analytics.sales_days_to_refresh: the days whose orders changed since their
--    aggregates were last recomputed, one row per transaction and day. Rows are
--    only ever inserted by the recording path and deleted by a refresh, and the
--    table has no unique key, so a delivery never waits for another to note its
--    day.
-- 2. analytics.refresh_sales_days(days): recomputes the given days now (an
--    import's, in the transaction that completes the file), taking their notes.
-- 3. analytics.refresh_stale_sales_days(from, to): recomputes every noted day in
--    [from, to) (the sync's sweep, and a reader wanting exact figures).
-- 4. analytics.fresh_sales_aggregates_daily(from, to): the aggregates of
--    [from, to), its noted days recomputed first: exact as of the call.

create table analytics.sales_days_to_refresh (
    day        date not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create index sales_days_to_refresh_day_idx on analytics.sales_days_to_refresh (day);

-- Recomputes p_days (any order, repeats allowed) in the caller's transaction
-- and deletes their notes. Each day's advisory lock (class 'SELL', the day as
-- days since 1970-01-01) is taken oldest first and held until commit: two
-- refreshes of a day would both delete and both insert its rows, while
-- different days go on side by side, and one order means two refreshes never
-- wait on each other in a cycle. The recompute is a later statement than any
-- note's commit it follows (read committed takes a snapshot per statement), so
-- it sees the orders of every note it deletes. A note another refresh is
-- deleting is skipped, not waited for (two deletes meeting rows in different
-- orders could deadlock); the day's lock then waits for that refresh to commit
-- before this one recomputes the day again. Consecutive days are recomputed as
-- one range. Returns the aggregate rows written.
create function analytics.refresh_sales_days(p_days date[])
returns integer
language plpgsql
as $$
declare
    days date[];
    day_ date;
    run_from date;
    run_to date;
    written integer := 0;
begin
    select coalesce(array_agg(distinct d order by d), '{}') into days
    from unnest(p_days) as u(d)
    where d is not null and d < 'infinity'::date and d > '-infinity'::date;
    if cardinality(days) = 0 then
        return 0;
    end if;

    delete from analytics.sales_days_to_refresh
    where ctid = any(array(
        select ctid from analytics.sales_days_to_refresh
        where day = any(days)
        for update skip locked));

    foreach day_ in array days loop
        perform pg_advisory_xact_lock(1397049420, day_ - date '1970-01-01');
    end loop;

    foreach day_ in array days loop
        if run_to = day_ then
            run_to := day_ + 1;
        else
            if run_from is not null then
                written := written + analytics.refresh_sales_aggregates_daily(run_from, run_to);
            end if;
            run_from := day_;
            run_to := day_ + 1;
        end if;
    end loop;
    written := written + analytics.refresh_sales_aggregates_daily(run_from, run_to);
    return written;
end;
$$;

-- Recomputes every day in [p_from, p_to) noted since its last refresh, and
-- returns how many days. A day another refresh is recomputing is waited for and
-- recomputed again, so what is read after this call is exact as of its start.
create function analytics.refresh_stale_sales_days(
    p_from date default '-infinity',
    p_to date default 'infinity'
)
returns integer
language plpgsql
as $$
declare
    days date[];
begin
    select coalesce(array_agg(distinct day), '{}') into days
    from analytics.sales_days_to_refresh
    where day >= p_from and day < p_to;
    perform analytics.refresh_sales_days(days);
    return cardinality(days);
end;
$$;

-- The aggregates of [p_from, p_to), exact as of the call: the days noted in the
-- range are recomputed first (a write, so not on a read-only replica; there,
-- read the table, exact as of the last refresh).
create function analytics.fresh_sales_aggregates_daily(p_from date, p_to date)
returns setof analytics.sales_aggregates_daily
language plpgsql
as $$
begin
    perform analytics.refresh_stale_sales_days(p_from, p_to);
    return query
        select * from analytics.sales_aggregates_daily a
        where a.day >= p_from and a.day < p_to;
end;
$$;

call ops.install_touch_triggers();
