-- Prices of our listings, the rules that move them, and the competitor
-- offers they react to. Time series are plain tables keyed by
-- (entity, observed_at): stock PostgreSQL, no TimescaleDB.

create table pricing.current_prices (
    id                     uuid primary key default gen_random_uuid(),
    listing_id             uuid not null,
    price                  numeric(14,2) not null,
    currency               ops.currency_code not null default 'CAD',
    sale_price             numeric(14,2),
    sale_starts_on         date,
    sale_ends_on           date,
    has_buy_box            boolean,
    buy_box_price          numeric(14,2),
    buy_box_seller         text,
    buy_box_percentage     numeric(5,2),
    -- Cached from inventory.variant_landed_costs when the price is evaluated.
    landed_cost            numeric(14,4),
    landed_cost_updated_at timestamptz,
    gross_margin           numeric(14,2),
    gross_margin_pct       numeric(7,2),
    net_margin             numeric(14,2),
    net_margin_pct         numeric(7,2),
    referral_fee           numeric(14,2),
    fulfillment_fee        numeric(14,2),
    optimal_price          numeric(14,2),
    price_confidence       numeric(5,2),
    last_optimized_at      timestamptz,
    min_price              numeric(14,2),
    max_price              numeric(14,2),
    margin_floor_pct       numeric(5,2),
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now(),
    constraint current_prices_listing_id_key unique (listing_id),
    constraint current_prices_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade,
    constraint current_prices_price_check check (price >= 0 and sale_price >= 0 and buy_box_price >= 0),
    constraint current_prices_bounds_check check (min_price <= max_price),
    constraint current_prices_sale_dates_check check (sale_ends_on >= sale_starts_on)
);

create index current_prices_net_margin_pct_idx on pricing.current_prices (net_margin_pct desc);

create table pricing.price_history (
    listing_id    uuid not null,
    observed_at   timestamptz not null,
    price         numeric(14,2) not null,
    currency      ops.currency_code not null default 'CAD',
    sale_price    numeric(14,2),
    buy_box_price numeric(14,2),
    has_buy_box   boolean,
    -- sp_api, keepa, mirakl, manual, pricing_rule…
    source        text not null,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint price_history_pkey primary key (listing_id, observed_at),
    constraint price_history_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade,
    constraint price_history_price_check check (price >= 0)
);

create index price_history_observed_at_idx on pricing.price_history using brin (observed_at);

create trigger price_history_append_only
    before update on pricing.price_history
    for each row execute function ops.reject_history_rewrite();

create table pricing.price_rules (
    id          uuid primary key default gen_random_uuid(),
    name        text not null,
    description text,
    applies_to  text not null,
    -- The category, tag or listing id the rule is scoped to.
    scope_value text,
    rule_type   text not null,
    config      jsonb not null,
    -- Higher wins.
    priority    integer not null default 100,
    is_active   boolean not null default true,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint price_rules_applies_to_check
        check (applies_to in ('all', 'category', 'tag', 'listing')),
    constraint price_rules_scope_value_check check ((applies_to = 'all') = (scope_value is null)),
    constraint price_rules_rule_type_check check (rule_type in (
        'margin_floor', 'competitor_match', 'competitor_beat', 'time_based', 'inventory_based'))
);

create index price_rules_active_idx on pricing.price_rules (priority desc) where is_active;

create table competitors.products (
    id                uuid primary key default gen_random_uuid(),
    channel           sales.channel not null,
    -- ASIN on Amazon, product SKU on Mirakl.
    external_id       text not null,
    marketplace_id    text,
    title             text,
    brand             text,
    seller_name       text,
    seller_id         text,
    category_path     text[],
    current_price     numeric(14,2),
    currency          ops.currency_code not null default 'CAD',
    current_bsr       integer,
    review_count      integer,
    rating            numeric(3,2),
    buy_box_price     numeric(14,2),
    buy_box_seller    text,
    is_amazon_seller  boolean not null default false,
    threat_score      numeric(5,2),
    tracking_priority text not null default 'normal',
    keepa_domain_id   integer,
    last_synced_at    timestamptz,
    raw_payload       jsonb,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    constraint competitor_products_channel_external_id_key unique (channel, external_id),
    constraint competitor_products_tracking_priority_check check (tracking_priority in ('high', 'normal', 'low')),
    constraint competitor_products_current_price_check check (current_price >= 0 and buy_box_price >= 0)
);

create index competitor_products_threat_score_idx on competitors.products (threat_score desc);

-- Which of our listings a competitor product is watched for.
create table competitors.tracked_listings (
    competitor_id uuid not null,
    listing_id    uuid not null,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint tracked_listings_pkey primary key (competitor_id, listing_id),
    constraint tracked_listings_competitor_id_fkey foreign key (competitor_id)
        references competitors.products (id) on delete cascade,
    constraint tracked_listings_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade
);

create index tracked_listings_listing_id_idx on competitors.tracked_listings (listing_id);

create table competitors.price_history (
    competitor_id uuid not null,
    observed_at   timestamptz not null,
    price         numeric(14,2),
    currency      ops.currency_code not null default 'CAD',
    buy_box_price numeric(14,2),
    bsr           integer,
    source        text not null default 'keepa',
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint competitor_price_history_pkey primary key (competitor_id, observed_at),
    constraint competitor_price_history_competitor_id_fkey foreign key (competitor_id)
        references competitors.products (id) on delete cascade
);

create index competitor_price_history_observed_at_idx on competitors.price_history using brin (observed_at);

create trigger competitor_price_history_append_only
    before update on competitors.price_history
    for each row execute function ops.reject_history_rewrite();

create table competitors.alerts (
    id                   uuid primary key default gen_random_uuid(),
    competitor_id        uuid not null,
    alert_type           text not null,
    previous_value       text,
    new_value            text,
    change_pct           numeric(10,2),
    severity             text not null default 'medium',
    -- Snapshot of the listings affected when the alert fired.
    affected_listing_ids uuid[] not null default '{}',
    status               text not null default 'new',
    actioned_at          timestamptz,
    action_taken         text,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    constraint alerts_competitor_id_fkey foreign key (competitor_id)
        references competitors.products (id) on delete cascade,
    constraint alerts_alert_type_check check (alert_type in (
        'price_drop', 'price_increase', 'bsr_change', 'new_competitor', 'listing_change',
        'out_of_stock', 'back_in_stock')),
    constraint alerts_severity_check check (severity in ('low', 'medium', 'high', 'critical')),
    constraint alerts_status_check check (status in ('new', 'viewed', 'actioned', 'dismissed'))
);

create index alerts_status_created_at_idx on competitors.alerts (status, created_at desc);
create index alerts_severity_created_at_idx on competitors.alerts (severity, created_at desc);

call ops.install_touch_triggers();
