-- The one product model. A product is what the seller sells (a laptop model,
-- a drill, a RAM stick); a variant is one stockable configuration of it with
-- its own internal SKU. Components are variants too, so a bill of materials
-- is just variants made of other variants.

create table inventory.suppliers (
    id                uuid primary key default gen_random_uuid(),
    name              text not null,
    code              text,
    contact_name      text,
    -- A business address the seller writes purchase orders to, not customer PII.
    contact_email     text,
    phone             text,
    country_code      char(2) not null default 'CA',
    is_domestic       boolean not null default true,
    payment_terms     text,
    lead_time_days    integer,
    min_order_value   numeric(14,2),
    currency          ops.currency_code not null default 'CAD',
    quality_score     numeric(5,2),
    reliability_score numeric(5,2),
    notes             text,
    is_active         boolean not null default true,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    constraint suppliers_code_key unique (code),
    constraint suppliers_lead_time_days_check check (lead_time_days >= 0),
    constraint suppliers_min_order_value_check check (min_order_value >= 0)
);

create table catalog.products (
    id               uuid primary key default gen_random_uuid(),
    -- The seller's own model/style code; variants carry the stock-level SKU.
    sku              text,
    name             text not null,
    product_kind     text not null default 'finished_good',
    component_type   text,
    brand            text,
    manufacturer     text,
    model_number     text,
    part_number      text,
    category         text,
    subcategory      text,
    category_path    text[],
    description      text,
    features         text[],
    specifications   jsonb,
    tags             text[] not null default '{}',
    custom_category  text,
    product_group    text,
    lifecycle_stage  text not null default 'active',
    status           text not null default 'active',
    base_price       numeric(14,2),
    currency         ops.currency_code not null default 'CAD',
    warranty_months  integer,
    return_policy    text,
    rating_average   numeric(3,2),
    rating_count     integer,
    raw_payload      jsonb,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint products_sku_key unique (sku),
    constraint products_product_kind_check check (product_kind in ('finished_good', 'component')),
    constraint products_lifecycle_stage_check
        check (lifecycle_stage in ('launch', 'growth', 'mature', 'decline', 'discontinue', 'active')),
    constraint products_status_check check (status in ('active', 'draft', 'inactive', 'archived')),
    constraint products_base_price_check check (base_price >= 0),
    constraint products_warranty_months_check check (warranty_months >= 0)
);

create index products_category_idx on catalog.products (category);
create index products_brand_idx on catalog.products (brand);
create index products_status_idx on catalog.products (status);
create index products_custom_category_idx on catalog.products (custom_category);
create index products_tags_idx on catalog.products using gin (tags);
create index products_name_search_idx on catalog.products using gin (to_tsvector('simple', name));

create table catalog.product_variants (
    id                  uuid primary key default gen_random_uuid(),
    product_id          uuid not null,
    internal_sku        text not null,
    name                text,
    attributes          jsonb not null default '{}',
    list_price          numeric(14,2),
    currency            ops.currency_code not null default 'CAD',
    unit_of_measure     text not null default 'each',
    weight_grams        integer,
    default_supplier_id uuid,
    is_active           boolean not null default true,
    raw_payload         jsonb,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint product_variants_internal_sku_key unique (internal_sku),
    constraint product_variants_product_id_fkey foreign key (product_id)
        references catalog.products (id),
    constraint product_variants_default_supplier_id_fkey foreign key (default_supplier_id)
        references inventory.suppliers (id) on delete set null,
    constraint product_variants_list_price_check check (list_price >= 0),
    constraint product_variants_weight_grams_check check (weight_grams > 0)
);

create index product_variants_product_id_idx on catalog.product_variants (product_id);

-- Bill of materials: a sellable variant is assembled from component variants.
create table catalog.variant_components (
    id                   uuid primary key default gen_random_uuid(),
    variant_id           uuid not null,
    component_variant_id uuid not null,
    -- numeric, not integer: components can be metres of cable or kilograms.
    quantity             numeric(10,4) not null default 1,
    -- A negotiated cost for this assembly only; wins over the supplier price.
    cost_override        numeric(14,4),
    currency             ops.currency_code not null default 'CAD',
    notes                text,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    constraint variant_components_variant_id_component_variant_id_key
        unique (variant_id, component_variant_id),
    constraint variant_components_variant_id_fkey foreign key (variant_id)
        references catalog.product_variants (id) on delete cascade,
    constraint variant_components_component_variant_id_fkey foreign key (component_variant_id)
        references catalog.product_variants (id),
    constraint variant_components_quantity_check check (quantity > 0),
    constraint variant_components_cost_override_check check (cost_override >= 0),
    constraint variant_components_not_self_check check (variant_id <> component_variant_id)
);

create index variant_components_component_variant_id_idx
    on catalog.variant_components (component_variant_id);

-- A variant as listed on one channel under the seller's shop/offer SKU. This
-- is the "listing": channel identifiers, channel copy and listing state live
-- here, and every listing_id in the schema points at this table.
create table catalog.shop_sku_map (
    id                   uuid primary key default gen_random_uuid(),
    channel              sales.channel not null,
    shop_sku             text not null,
    variant_id           uuid not null,
    -- The channel's catalogue id (ASIN, Mirakl product SKU, Shopify product id).
    channel_product_id   text,
    -- The channel's id of this offer (Mirakl offer_id, Shopify variant id).
    channel_offer_id     text,
    parent_channel_product_id text,
    marketplace_id       text,
    fnsku                text,
    title                text,
    bullet_points        text[],
    description          text,
    search_terms         text[],
    aplus_enabled        boolean not null default false,
    aplus_content_id     text,
    brand_story_enabled  boolean not null default false,
    listing_status       text not null default 'active',
    fulfillment_channel  text not null default 'merchant',
    condition_type       text not null default 'new',
    variation_type       text,
    variation_theme      text,
    variation_attributes jsonb,
    current_score        numeric(5,2),
    score_updated_at     timestamptz,
    last_synced_at       timestamptz,
    -- Hash of the last synced payload, to skip unchanged listings.
    payload_hash         text,
    raw_payload          jsonb,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    constraint shop_sku_map_channel_shop_sku_key unique (channel, shop_sku),
    constraint shop_sku_map_channel_offer_id_key unique (channel, channel_offer_id),
    constraint shop_sku_map_variant_id_fkey foreign key (variant_id)
        references catalog.product_variants (id),
    constraint shop_sku_map_listing_status_check
        check (listing_status in ('active', 'inactive', 'suppressed', 'incomplete')),
    constraint shop_sku_map_variation_type_check
        check (variation_type in ('parent', 'child', 'standalone'))
);

create index shop_sku_map_variant_id_idx on catalog.shop_sku_map (variant_id);
create index shop_sku_map_channel_product_id_idx on catalog.shop_sku_map (channel, channel_product_id);
create index shop_sku_map_parent_idx on catalog.shop_sku_map (parent_channel_product_id);
create index shop_sku_map_listing_status_idx on catalog.shop_sku_map (listing_status, updated_at desc);
create index shop_sku_map_current_score_idx on catalog.shop_sku_map (current_score desc);
create index shop_sku_map_active_product_idx on catalog.shop_sku_map (channel_product_id)
    where listing_status = 'active';

-- Every content change of a listing, so any version can be restored.
create table catalog.listing_versions (
    id              uuid primary key default gen_random_uuid(),
    listing_id      uuid not null,
    version_number  integer not null,
    title           text,
    bullet_points   text[],
    description     text,
    search_terms    text[],
    change_type     text not null,
    change_source   text,
    change_reason   text,
    score_at_change numeric(5,2),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint listing_versions_listing_id_version_number_key unique (listing_id, version_number),
    constraint listing_versions_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade,
    constraint listing_versions_version_number_check check (version_number > 0),
    constraint listing_versions_change_type_check
        check (change_type in ('manual', 'auto', 'sync', 'rollback'))
);

create index listing_versions_created_at_idx on catalog.listing_versions (created_at desc);

create trigger listing_versions_append_only
    before update on catalog.listing_versions
    for each row execute function ops.reject_history_rewrite();

-- Images and videos of a product (master media) or of one listing.
create table catalog.media (
    id              uuid primary key default gen_random_uuid(),
    product_id      uuid,
    listing_id      uuid,
    media_kind      text not null default 'image',
    -- Channel slot: main, pt01..pt08, swatch.
    slot            text,
    url             text not null,
    thumbnail_url   text,
    alt_text        text,
    is_primary      boolean not null default false,
    width           integer,
    height          integer,
    quality_score   numeric(5,2),
    has_text        boolean,
    has_lifestyle   boolean,
    has_infographic boolean,
    background_type text,
    analysis_data   jsonb,
    analyzed_at     timestamptz,
    sort_order      integer not null default 0,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint media_product_id_fkey foreign key (product_id)
        references catalog.products (id) on delete cascade,
    constraint media_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade,
    constraint media_owner_check check (num_nonnulls(product_id, listing_id) = 1),
    constraint media_media_kind_check check (media_kind in ('image', 'video')),
    constraint media_background_type_check check (background_type in ('white', 'lifestyle', 'other'))
);

create index media_product_id_idx on catalog.media (product_id);
create index media_listing_id_idx on catalog.media (listing_id);

create table catalog.keywords (
    id                  uuid primary key default gen_random_uuid(),
    listing_id          uuid not null,
    keyword             text not null,
    keyword_normalized  text generated always as (lower(btrim(keyword))) stored,
    source              text not null,
    search_volume       integer,
    search_volume_trend numeric(7,2),
    organic_rank        integer,
    sponsored_rank      integer,
    relevance_score     numeric(5,2),
    conversion_rate     numeric(5,4),
    is_primary          boolean not null default false,
    is_tracked          boolean not null default true,
    metrics_updated_at  timestamptz,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint keywords_listing_id_keyword_source_key unique (listing_id, keyword_normalized, source),
    constraint keywords_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade,
    constraint keywords_source_check
        check (source in ('title', 'bullets', 'backend', 'competitor', 'suggested', 'manual'))
);

create index keywords_keyword_normalized_idx on catalog.keywords (keyword_normalized);
create index keywords_search_volume_idx on catalog.keywords (search_volume desc nulls last);
create index keywords_listing_id_is_primary_idx on catalog.keywords (listing_id, is_primary);

-- What a component costs from a supplier, with quantity breaks and validity.
create table inventory.component_prices (
    id                   uuid primary key default gen_random_uuid(),
    component_variant_id uuid not null,
    supplier_id          uuid not null,
    unit_cost            numeric(14,4) not null,
    currency             ops.currency_code not null default 'CAD',
    min_quantity         integer not null default 1,
    valid_from           date not null default current_date,
    valid_to             date,
    import_duty_pct      numeric(5,2) not null default 0,
    shipping_cost        numeric(14,2) not null default 0,
    is_current           boolean not null default true,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    constraint component_prices_component_supplier_quantity_valid_from_key
        unique (component_variant_id, supplier_id, min_quantity, valid_from),
    constraint component_prices_component_variant_id_fkey foreign key (component_variant_id)
        references catalog.product_variants (id),
    constraint component_prices_supplier_id_fkey foreign key (supplier_id)
        references inventory.suppliers (id),
    constraint component_prices_unit_cost_check check (unit_cost >= 0),
    constraint component_prices_min_quantity_check check (min_quantity >= 1),
    constraint component_prices_validity_check check (valid_to is null or valid_to >= valid_from),
    constraint component_prices_import_duty_pct_check check (import_duty_pct >= 0),
    constraint component_prices_shipping_cost_check check (shipping_cost >= 0)
);

create index component_prices_current_idx on inventory.component_prices (component_variant_id)
    where is_current;

-- Stock of one variant. reserved is maintained by the trigger on
-- inventory.stock_reservations (see 0004): write reservations, not this column.
create table inventory.stock_levels (
    id                 uuid primary key default gen_random_uuid(),
    variant_id         uuid not null,
    on_hand            integer not null default 0,
    reserved           integer not null default 0,
    available          integer generated always as (on_hand - reserved) stored,
    warehouse_location text,
    reorder_point      integer,
    reorder_quantity   integer,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint stock_levels_variant_id_key unique (variant_id),
    constraint stock_levels_variant_id_fkey foreign key (variant_id)
        references catalog.product_variants (id),
    constraint stock_levels_on_hand_check check (on_hand >= 0),
    constraint stock_levels_reserved_check check (reserved >= 0),
    constraint stock_levels_reserved_within_on_hand_check check (reserved <= on_hand),
    constraint stock_levels_reorder_point_check check (reorder_point >= 0),
    constraint stock_levels_reorder_quantity_check check (reorder_quantity > 0)
);

-- Landed cost per assembled variant: each component at its override or its
-- current supplier cost, times quantity, plus a flat 10% overhead. One price
-- per component (default supplier first, then cheapest) so several current
-- supplier prices are never added together; a BOM with an uncosted component
-- or mixed currencies gets no total rather than a too-low one.
create view inventory.variant_landed_costs as
with costed as (
    select
        vc.variant_id,
        vc.quantity,
        coalesce(vc.cost_override, price.unit_cost) as unit_cost,
        case when vc.cost_override is not null then vc.currency else price.currency end as currency
    from catalog.variant_components vc
    join catalog.product_variants component on component.id = vc.component_variant_id
    left join lateral (
        select cp.unit_cost, cp.currency
        from inventory.component_prices cp
        where cp.component_variant_id = vc.component_variant_id
          and cp.is_current
        order by (cp.supplier_id is not distinct from component.default_supplier_id) desc,
                 cp.min_quantity, cp.unit_cost, cp.id
        limit 1
    ) price on true
)
select
    v.id as variant_id,
    v.internal_sku,
    v.product_id,
    min(c.currency)::ops.currency_code as currency,
    count(*)::integer as component_count,
    count(c.unit_cost)::integer as costed_component_count,
    case when count(c.unit_cost) = count(*) and count(distinct c.currency) = 1
         then round(sum(c.unit_cost * c.quantity), 4) end as component_cost,
    0.10::numeric(4,2) as overhead_rate,
    case when count(c.unit_cost) = count(*) and count(distinct c.currency) = 1
         then round(sum(c.unit_cost * c.quantity) * 1.10, 4) end as estimated_landed_cost
from catalog.product_variants v
join costed c on c.variant_id = v.id
group by v.id, v.internal_sku, v.product_id;

call ops.install_touch_triggers();
