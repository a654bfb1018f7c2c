-- Listing scores, channel traffic reports and daily sales roll-ups. The
-- seeds' hypertables are plain tables keyed by (entity, time) with a BRIN
-- index on time; the daily roll-up is a table refreshed by a function.

create table analytics.listing_scores (
    listing_id        uuid not null,
    scored_at         timestamptz not null,
    total_score       numeric(5,2) not null,
    seo_score         numeric(5,2),
    content_score     numeric(5,2),
    image_score       numeric(5,2),
    competitive_score numeric(5,2),
    compliance_score  numeric(5,2),
    score_breakdown   jsonb,
    scoring_version   text,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    constraint listing_scores_pkey primary key (listing_id, scored_at),
    constraint listing_scores_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade
);

create index listing_scores_scored_at_idx on analytics.listing_scores using brin (scored_at);

create table analytics.performance_metrics (
    listing_id            uuid not null,
    period_start          timestamptz not null,
    report_date           date,
    sessions              integer,
    page_views            integer,
    page_views_pct        numeric(7,4),
    units_ordered         integer,
    unit_session_pct      numeric(7,4),
    ordered_product_sales numeric(14,2),
    currency              ops.currency_code not null default 'CAD',
    buy_box_pct           numeric(5,2),
    bsr                   integer,
    bsr_category          text,
    created_at            timestamptz not null default now(),
    updated_at            timestamptz not null default now(),
    constraint performance_metrics_pkey primary key (listing_id, period_start),
    constraint performance_metrics_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade,
    constraint performance_metrics_counts_check
        check (sessions >= 0 and page_views >= 0 and units_ordered >= 0)
);

create index performance_metrics_period_start_idx on analytics.performance_metrics using brin (period_start);

-- A listing change and the metrics around it, to judge what the change did.
create table analytics.attribution_events (
    id             uuid primary key default gen_random_uuid(),
    listing_id     uuid not null,
    change_type    text not null,
    -- The listing_versions or price_history row behind the change.
    change_ref     text,
    changed_at     timestamptz not null,
    metrics_before jsonb,
    metrics_after  jsonb,
    impact_score   numeric(5,2),
    confidence     numeric(5,2),
    analysis_date  date,
    analysis_notes text,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    constraint attribution_events_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade
);

create index attribution_events_listing_id_idx on analytics.attribution_events (listing_id);
create index attribution_events_impact_score_idx on analytics.attribution_events (impact_score desc);

-- Daily sales per product, category and payment method. Key columns are
-- never null: an unknown category is '' and an unknown method 'other'.
-- revenue is in the reporting currency held in currency.
create table analytics.sales_aggregates_daily (
    day              date not null,
    product_id       uuid not null,
    category         text not null default '',
    payment_method   sales.payment_method not null default 'other',
    revenue          numeric(14,2) not null default 0,
    currency         ops.currency_code not null default 'CAD',
    units            integer not null default 0,
    order_count      integer not null default 0,
    unique_customers integer not null default 0,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint sales_aggregates_daily_pkey primary key (day, product_id, category, payment_method),
    constraint sales_aggregates_daily_product_id_fkey foreign key (product_id)
        references catalog.products (id),
    constraint sales_aggregates_daily_counts_check
        check (units >= 0 and order_count >= 0 and unique_customers >= 0 and unique_customers <= order_count)
);

create index sales_aggregates_daily_product_id_idx on analytics.sales_aggregates_daily (product_id);
create index sales_aggregates_daily_category_idx on analytics.sales_aggregates_daily (category);
create index sales_aggregates_daily_payment_method_idx on analytics.sales_aggregates_daily (payment_method);

-- Recomputes the UTC days [p_from, p_to) from orders and their mapped lines;
-- the replacement for the seed's continuous aggregate. Cancelled, refused
-- and refunded orders do not count; lines not yet mapped to a variant wait
-- for the next refresh. Returns the number of rows written.
create function analytics.refresh_sales_aggregates_daily(p_from date, p_to date)
returns integer
language plpgsql as $$
declare
    written integer;
begin
    delete from analytics.sales_aggregates_daily where day >= p_from and day < p_to;

    insert into analytics.sales_aggregates_daily
        (day, product_id, category, payment_method, revenue, currency, units, order_count, unique_customers)
    select
        (o.placed_at at time zone 'UTC')::date,
        v.product_id,
        coalesce(p.category, ''),
        coalesce(o.payment_method, 'other'),
        sum(l.line_total),
        min(l.currency),
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
    group by 1, 2, 3, 4;

    get diagnostics written = row_count;
    return written;
end;
$$;

call ops.install_touch_triggers();
