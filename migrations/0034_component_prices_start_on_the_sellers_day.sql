-- A supplier price written without its first valid day starts on the seller's
-- today. The column defaulted to current_date, the server's date, while the
-- landed cost counts the prices in force on the seller's day
-- (pricing.time_zone): between midnight UTC and a seller's midnight west of
-- UTC, a price entered that evening started tomorrow and was ignored until then.

-- The date at `at` where the seller works: `pricing.time_zone`, UTC when unset.
create function ops.seller_date(at timestamptz)
returns date
language sql stable
as $$
    select (at at time zone coalesce(
        (select s.value #>> '{}' from ops.settings s where s.key = 'pricing.time_zone'),
        'UTC'))::date
$$;

alter table inventory.component_prices
    alter column valid_from set default ops.seller_date(now());
