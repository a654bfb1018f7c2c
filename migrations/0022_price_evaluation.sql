-- Evaluating prices: the landed cost at a given time, the decisions the
-- evaluation stores with their explanations, and the summary it keeps in
-- pricing.current_prices.

-- Landed cost per variant at time `at`, for every variant that has a bill of
-- materials or a supplier price (or only for `variant_ids`, when given).
--
-- - A supplier price counts only while it is valid on the day `at` falls on in
--   the seller's time zone (setting pricing.time_zone, UTC when unset):
--   is_current, valid_from on or before that day, valid_to (inclusive) not
--   before it. Among several, the default supplier's first, then the smallest
--   quantity break, then the cheapest: one price per part, never a sum of them.
-- - A bought part costs unit_cost, plus import_duty_pct of it, plus its
--   shipping_cost (per unit).
-- - An assembled variant's bill of materials is walked down to the parts that
--   are bought: a component that is itself assembled contributes its own
--   components times the quantities on the way, and a cost_override on a line
--   is the all-in cost of that component for this assembly (its own bill is
--   not walked). The assembled total carries the 10% overhead (assembly and
--   handling), once, on the whole.
-- - A variant without a bill of materials is bought whole: its own supplier
--   price, with duty and shipping, and no overhead.
-- - No total (estimated_landed_cost null) rather than a too-low one when a part
--   has no valid price, the parts' currencies differ, or the bill loops back on
--   itself or nests deeper than eight levels.
create function inventory.landed_costs_at(at timestamptz, variant_ids uuid[] default null)
returns table (
    variant_id             uuid,
    internal_sku           text,
    product_id             uuid,
    -- bill_of_materials or purchase_price
    cost_source            text,
    currency               ops.currency_code,
    -- Parts priced: the bought parts under the bill (a sub-assembly counts by
    -- its parts), 1 for a variant bought whole.
    component_count        integer,
    costed_component_count integer,
    component_cost         numeric,
    duty_cost              numeric,
    shipping_cost          numeric,
    overhead_rate          numeric(4,2),
    estimated_landed_cost  numeric
)
language sql stable
as $$
with recursive
day as (
    select (at at time zone coalesce(
        (select s.value #>> '{}' from ops.settings s where s.key = 'pricing.time_zone'),
        'UTC'))::date as on_day
),
roots as (
    -- A one-time filter each way: the whole catalogue, or the variants asked for.
    select v.id from catalog.product_variants v where variant_ids is null
    union
    select u.id from unnest(variant_ids) as u(id)
),
tree as (
    select r.id as root_id,
           vc.component_variant_id as part_id,
           vc.quantity::numeric as quantity,
           vc.cost_override,
           vc.currency as override_currency,
           array[r.id, vc.component_variant_id] as path,
           false as loops
    from roots r
    join catalog.variant_components vc on vc.variant_id = r.id
    union all
    select t.root_id,
           vc.component_variant_id,
           t.quantity * vc.quantity,
           vc.cost_override,
           vc.currency,
           t.path || vc.component_variant_id,
           vc.component_variant_id = any(t.path)
    from tree t
    join catalog.variant_components vc on vc.variant_id = t.part_id
    where t.cost_override is null and not t.loops and cardinality(t.path) <= 9
),
-- The lines that end a walk: an override, a bought part, or a bill that cannot
-- be costed (a loop, or too deep).
bom_leaves as (
    select t.root_id, t.part_id, t.quantity, t.cost_override, t.override_currency,
           t.loops or (cardinality(t.path) > 9 and assembled.yes) as uncostable,
           false as bought_whole
    from tree t
    cross join lateral (
        select exists (select 1 from catalog.variant_components c
                       where c.variant_id = t.part_id) as yes
    ) assembled
    where t.cost_override is not null or t.loops or not assembled.yes
       or cardinality(t.path) > 9
),
whole_leaves as (
    select r.id as root_id, r.id as part_id, 1::numeric as quantity,
           null::numeric as cost_override, null::text as override_currency,
           false as uncostable, true as bought_whole
    from roots r
    where not exists (select 1 from catalog.variant_components c where c.variant_id = r.id)
      and exists (select 1 from inventory.component_prices cp where cp.component_variant_id = r.id)
),
leaves as (
    select * from bom_leaves
    union all
    select * from whole_leaves
),
bought_parts as (
    select distinct l.part_id from leaves l
    where l.cost_override is null and not l.uncostable
),
part_prices as (
    select b.part_id, price.unit_cost, price.import_duty_pct, price.shipping_cost, price.currency
    from bought_parts b
    join catalog.product_variants part on part.id = b.part_id
    cross join day
    join lateral (
        select cp.unit_cost, cp.import_duty_pct, cp.shipping_cost, cp.currency
        from inventory.component_prices cp
        where cp.component_variant_id = b.part_id
          and cp.is_current
          and cp.valid_from <= day.on_day
          and (cp.valid_to is null or cp.valid_to >= day.on_day)
        order by (cp.supplier_id is not distinct from part.default_supplier_id) desc,
                 cp.min_quantity, cp.unit_cost, cp.id
        limit 1
    ) price on true
),
costed as (
    select l.root_id,
           l.bought_whole,
           l.quantity,
           case when l.uncostable then null
                else coalesce(l.cost_override, p.unit_cost) end as unit_cost,
           case when l.cost_override is not null then 0
                else p.unit_cost * p.import_duty_pct / 100 end as duty,
           case when l.cost_override is not null then 0 else p.shipping_cost end as shipping,
           case when l.cost_override is not null then l.override_currency
                else p.currency end as currency
    from leaves l
    left join part_prices p on p.part_id = l.part_id
                           and l.cost_override is null and not l.uncostable
),
totals as (
    select c.root_id,
           bool_or(c.bought_whole) as bought_whole,
           min(c.currency) as currency,
           count(*)::integer as component_count,
           count(c.unit_cost)::integer as costed_component_count,
           count(c.unit_cost) = count(*) and count(distinct c.currency) = 1 as complete,
           sum(c.quantity * c.unit_cost) as component_cost,
           sum(c.quantity * c.duty) as duty_cost,
           sum(c.quantity * c.shipping) as shipping_cost
    from costed c
    group by c.root_id
)
select v.id,
       v.internal_sku,
       v.product_id,
       case when t.bought_whole then 'purchase_price' else 'bill_of_materials' end,
       t.currency::ops.currency_code,
       t.component_count,
       t.costed_component_count,
       case when t.complete then round(t.component_cost, 4) end,
       case when t.complete then round(t.duty_cost, 4) end,
       case when t.complete then round(t.shipping_cost, 4) end,
       (case when t.bought_whole then 0 else 0.10 end)::numeric(4,2),
       case when t.complete then
           round((t.component_cost + t.duty_cost + t.shipping_cost)
                 * (case when t.bought_whole then 1 else 1.10 end), 4)
       end
from totals t
join catalog.product_variants v on v.id = t.root_id
$$;

comment on function inventory.landed_costs_at(timestamptz, uuid[]) is
    'Landed cost per variant at a time: supplier prices valid that day, nested bills of materials, duty and shipping; see migrations/0022.';

-- The view keeps its name and reads as of now.
drop view inventory.variant_landed_costs;
create view inventory.variant_landed_costs as
select * from inventory.landed_costs_at(now());

-- Switches for applying prices, and the regular price percent rules start from.
alter table pricing.price_rules
    -- A price this rule sets goes out to the channel (through the outbox)
    -- instead of waiting as a suggestion.
    add column apply_enabled boolean not null default false,
    -- Why the evaluation leaves this rule out (a stored config that cannot be
    -- read, naming the rule type and the field), for a person to fix; null
    -- while the rule reads. A data problem, never a failed evaluation.
    add column config_problem text,
    add column config_problem_seen_at timestamptz;

alter table pricing.current_prices
    -- Where time- and stock-based rules start from; the current price when null.
    add column regular_price numeric(14,2),
    -- Every price decided for this listing goes out to the channel.
    add column apply_enabled boolean not null default false,
    -- The evaluation's summary: optimal_price is the suggested price,
    -- price_confidence how far it rests on complete facts (0-100, see
    -- shared/src/flows/pricing/write.rs), last_optimized_at when it was decided.
    add column suggested_rule_id uuid,
    add column price_bound text,
    add column price_flag text,
    add column decision_id uuid,
    -- What the stored decision was reached from and came to: an evaluation
    -- whose digest is the same writes nothing.
    add column decision_digest bytea,
    add constraint current_prices_regular_price_check check (regular_price >= 0),
    add constraint current_prices_price_bound_check
        check (price_bound in ('min_price', 'max_price', 'margin_floor')),
    add constraint current_prices_price_flag_check
        check (price_flag in ('bounds_conflict', 'no_landed_cost'));

-- One row per decision that changed something, with its explanation: the
-- rules considered, applied and skipped with why, the margin floor and the
-- bound that won, old and new price and the margins. Append-only; the listing's
-- latest is pricing.current_prices.decision_id.
create table pricing.price_decisions (
    id               uuid primary key,
    listing_id       uuid not null,
    evaluated_at     timestamptz not null,
    currency         ops.currency_code not null,
    old_price        numeric(14,2) not null,
    suggested_price  numeric(14,2) not null,
    -- The rule whose proposal was kept; null when none applied or the listing
    -- was flagged.
    rule_id          uuid,
    bound            text,
    flag             text,
    landed_cost      numeric(14,4),
    margin_floor_pct numeric(7,4),
    gross_margin     numeric(14,2),
    gross_margin_pct numeric(7,2),
    net_margin       numeric(14,2),
    net_margin_pct   numeric(7,2),
    confidence       numeric(5,2) not null,
    -- suggest: waits for the seller; apply: sent to the channel through the outbox.
    mode             text not null,
    explanation      text compression lz4 not null,
    digest           bytea not null,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint price_decisions_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade,
    constraint price_decisions_rule_id_fkey foreign key (rule_id)
        references pricing.price_rules (id) on delete set null,
    constraint price_decisions_bound_check
        check (bound in ('min_price', 'max_price', 'margin_floor')),
    constraint price_decisions_flag_check check (flag in ('bounds_conflict', 'no_landed_cost')),
    constraint price_decisions_mode_check check (mode in ('suggest', 'apply')),
    constraint price_decisions_confidence_check check (confidence between 0 and 100),
    constraint price_decisions_prices_check check (old_price >= 0 and suggested_price >= 0)
)
-- Explanations run to a kilobyte or two of repetitive text: compressed in the
-- row (lz4) from 256 bytes, they cost a third of the space and write.
with (toast_tuple_target = 256);

create index price_decisions_listing_id_evaluated_at_idx
    on pricing.price_decisions (listing_id, evaluated_at desc);
create index price_decisions_rule_id_idx on pricing.price_decisions (rule_id);

create trigger price_decisions_append_only
    before update on pricing.price_decisions
    for each row execute function ops.reject_history_rewrite();

-- The decision a history row comes from (source pricing_rule).
alter table pricing.price_history add column decision_id uuid;

-- What the evaluation reads besides rules and listings; the seller edits them.
insert into ops.settings (key, value, description) values
    ('pricing.time_zone', '"America/Toronto"',
     'IANA time zone time-based price rules and supplier price dates are read in'),
    ('pricing.channel_fees',
     '{"amazon": {"referral_pct": "15", "fixed": "0"},
       "bestbuy_ca": {"referral_pct": "12", "fixed": "0"},
       "shopify": {"referral_pct": "2.9", "fixed": "0.30"},
       "file_import": {"referral_pct": "0", "fixed": "0"}}',
     'Per channel: the referral fee as a percentage of the price, and the fixed fee per unit sold'),
    ('pricing.own_seller_ids', '[]',
     'The seller''s own ids on the marketplaces: offers from them are never competing offers')
on conflict (key) do nothing;

call ops.install_touch_triggers();
