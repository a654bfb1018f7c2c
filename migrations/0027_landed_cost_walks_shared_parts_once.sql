-- The landed cost at a time, the same figures for less work (0022 defines
-- what they are; every column and case, loops and depth included, comes out as
-- it did).
--
-- - A sub-assembly is walked once per call instead of once under every root
--   that uses it: a root that is no component itself (so it cannot show up
--   under its own parts) takes the sub-assembly's sums times its quantity;
--   a root that is a component is walked in full as before.
-- - Whether a part is assembled is joined in as the walk goes, instead of a
--   lookup per walked line; one currency is min = max instead of a
--   count(distinct …) that needs a sort.
-- - Run without JIT and with room to hash in memory: on a full catalogue
--   (100,000 listings) JIT compilation alone cost more than the query, and
--   4 MB of work_mem sent the walk's sorts and hashes to disk.
create or replace function inventory.landed_costs_at(at timestamptz, variant_ids uuid[] default null)
returns table (
    variant_id             uuid,
    internal_sku           text,
    product_id             uuid,
    cost_source            text,
    currency               ops.currency_code,
    component_count        integer,
    costed_component_count integer,
    component_cost         numeric,
    duty_cost              numeric,
    shipping_cost          numeric,
    overhead_rate          numeric(4,2),
    estimated_landed_cost  numeric
)
language sql stable
set jit = off
set work_mem = '64MB'
as $$
with recursive
day as (
    select (at at time zone coalesce(
        (select s.value #>> '{}' from ops.settings s where s.key = 'pricing.time_zone'),
        'UTC'))::date as on_day
),
components as (
    select distinct c.component_variant_id as id from catalog.variant_components c
),
-- The lines of the variants that are components themselves: all the walk goes
-- down into below the first level.
sub_lines as (
    select vc.variant_id, vc.component_variant_id, vc.quantity, vc.cost_override, vc.currency
    from catalog.variant_components vc
    where vc.variant_id in (select id from components)
),
sub_assemblies as (
    select distinct s.variant_id as id from sub_lines s
),
-- The first level: every line of the roots asked for.
root_lines as (
    select vc.variant_id as root_id,
           vc.component_variant_id as part_id,
           vc.quantity::numeric as quantity,
           vc.cost_override,
           vc.currency as override_currency,
           a.id is not null as assembled,
           vc.variant_id in (select id from components) as root_is_component
    from catalog.variant_components vc
    left join sub_assemblies a on a.id = vc.component_variant_id
    where variant_ids is null
       or vc.variant_id in (select u.id from unnest(variant_ids) as u(id))
),
tree as (
    -- A root that is itself a component is walked whole, as in the bill.
    select r.root_id as anchor_id, false as shared,
           r.part_id, r.quantity, r.cost_override, r.override_currency,
           2 as depth, array[r.root_id, r.part_id] as path, false as loops, r.assembled
    from root_lines r
    where r.root_is_component
    union all
    -- A sub-assembly is walked once, as the second level under any root that
    -- is no component (so that never shows up under it); its roots take its
    -- totals times their quantity.
    select s.variant_id, true,
           s.component_variant_id, s.quantity::numeric, s.cost_override, s.currency,
           3, array[s.variant_id, s.component_variant_id],
           s.component_variant_id = s.variant_id, a.id is not null
    from sub_lines s
    left join sub_assemblies a on a.id = s.component_variant_id
    where s.variant_id in (select r.part_id from root_lines r
                           where r.assembled and r.cost_override is null
                             and not r.root_is_component)
    union all
    select t.anchor_id, t.shared,
           s.component_variant_id,
           t.quantity * s.quantity,
           s.cost_override,
           s.currency,
           t.depth + 1,
           t.path || s.component_variant_id,
           s.component_variant_id = any(t.path),
           a.id is not null
    from tree t
    join sub_lines s on s.variant_id = t.part_id
    left join sub_assemblies a on a.id = s.component_variant_id
    where t.assembled and t.cost_override is null and not t.loops and t.depth <= 9
),
-- The lines that end a walk: an override, a bought part, or a bill that cannot
-- be costed (a loop, or too deep).
tree_leaves as (
    select t.anchor_id, t.shared, t.part_id, t.quantity, t.cost_override, t.override_currency,
           t.loops or (t.depth > 9 and t.assembled) as uncostable
    from tree t
    where t.cost_override is not null or t.loops or not t.assembled or t.depth > 9
),
whole_roots as (
    select v.id
    from catalog.product_variants v
    where v.id in (select cp.component_variant_id from inventory.component_prices cp)
      and (variant_ids is null or v.id in (select u.id from unnest(variant_ids) as u(id)))
      and not exists (select 1 from catalog.variant_components c where c.variant_id = v.id)
),
bought_parts as (
    select l.part_id from tree_leaves l where l.cost_override is null and not l.uncostable
    union
    select r.part_id from root_lines r
    where not r.root_is_component and r.cost_override is null and not r.assembled
    union
    select w.id from whole_roots w
),
part_prices as (
    select b.part_id, price.unit_cost, price.unit_cost * price.import_duty_pct / 100 as duty,
           price.shipping_cost, price.currency
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
-- Each walk's leaves, costed, summed per anchor: the leaf count, the costed
-- count, the currencies (min and max: one currency when they agree) and the
-- sums of quantity times unit cost, duty and shipping.
walked as (
    select l.anchor_id, l.shared,
           count(*)::integer as leaves,
           count(c.unit_cost)::integer as costed,
           min(c.currency) as min_currency,
           max(c.currency) as max_currency,
           sum(l.quantity * c.unit_cost) as cost,
           sum(l.quantity * c.duty) as duty,
           sum(l.quantity * c.shipping) as shipping
    from tree_leaves l
    left join part_prices p on p.part_id = l.part_id
                           and l.cost_override is null and not l.uncostable
    cross join lateral (
        select case when l.uncostable then null
                    else coalesce(l.cost_override, p.unit_cost) end as unit_cost,
               case when l.cost_override is not null then 0 else p.duty end as duty,
               case when l.cost_override is not null then 0 else p.shipping_cost end as shipping,
               case when l.cost_override is not null then l.override_currency
                    else p.currency end as currency
    ) c
    group by l.anchor_id, l.shared
),
totals as (
    -- Roots that are no component: their lines, a sub-assembly's by its walk.
    select r.root_id,
           false as bought_whole,
           min(coalesce(w.min_currency, line.currency)) as currency,
           sum(coalesce(w.leaves, 1))::integer as component_count,
           sum(coalesce(w.costed, (line.unit_cost is not null)::integer))::integer as costed_count,
           min(coalesce(w.min_currency, line.currency)) as min_currency,
           max(coalesce(w.max_currency, line.currency)) as max_currency,
           sum(r.quantity * coalesce(w.cost, line.unit_cost)) as component_cost,
           sum(r.quantity * coalesce(w.duty, line.duty)) as duty_cost,
           sum(r.quantity * coalesce(w.shipping, line.shipping)) as shipping_cost
    from root_lines r
    left join walked w on w.anchor_id = r.part_id and w.shared
                      and r.assembled and r.cost_override is null
    left join part_prices p on p.part_id = r.part_id
                           and not r.assembled and r.cost_override is null
    cross join lateral (
        select coalesce(r.cost_override, p.unit_cost) as unit_cost,
               case when r.cost_override is not null then 0 else p.duty end as duty,
               case when r.cost_override is not null then 0 else p.shipping_cost end as shipping,
               case when r.cost_override is not null then r.override_currency
                    else p.currency end as currency
    ) line
    where not r.root_is_component
    group by r.root_id
    union all
    -- Roots that are components: their own walk.
    select w.anchor_id, false, w.min_currency, w.leaves, w.costed, w.min_currency,
           w.max_currency, w.cost, w.duty, w.shipping
    from walked w
    where not w.shared
    union all
    -- Variants bought whole: their own price.
    select w.id, true, p.currency, 1, (p.unit_cost is not null)::integer, p.currency,
           p.currency, p.unit_cost, p.duty, p.shipping_cost
    from whole_roots w
    left join part_prices p on p.part_id = w.id
)
select v.id,
       v.internal_sku,
       v.product_id,
       case when t.bought_whole then 'purchase_price' else 'bill_of_materials' end,
       t.currency::ops.currency_code,
       t.component_count,
       t.costed_count,
       case when t.complete then round(t.component_cost, 4) end,
       case when t.complete then round(t.duty_cost, 4) end,
       case when t.complete then round(t.shipping_cost, 4) end,
       (case when t.bought_whole then 0 else 0.10 end)::numeric(4,2),
       case when t.complete then
           round((t.component_cost + t.duty_cost + t.shipping_cost)
                 * (case when t.bought_whole then 1 else 1.10 end), 4)
       end
from (select totals.*,
             totals.costed_count = totals.component_count
             and totals.min_currency = totals.max_currency as complete
      from totals) t
join catalog.product_variants v on v.id = t.root_id
$$;
