-- The demo's costs, prices, rules and competitor offers, for the catalogue of
-- catalog.sql. Loaded by demo.sh before the price evaluation; loading it again
-- changes nothing (fixed ids, `on conflict do nothing`).
--
--   SKU-001  ThinkPad T480   assembled: a refurbished base unit (itself a chassis
--                            and a battery), 2 x 8 GB RAM and an SSD; the SSD's
--                            older, cheaper price has expired
--   SKU-002  USB-C dock      bought whole, imported (duty and shipping); a rival
--                            holds the buy box at 84.99
--   SKU-003  65 W charger    bought whole; no competitor
--   SKU-005  keyboard        no cost known: flagged, never priced blindly
--
-- The dock is also listed on Amazon (ASIN B0DEMODOCK). Amazon's offer-change
-- notifications for it (sqs-offer-changed-1.json, then -2.json: a rival takes the
-- buy box) are recorded by the competitor flow; an automation rule turns a lost
-- buy box into a task.
begin;

insert into inventory.suppliers (id, name, code, country_code, is_domestic) values
    ('d2000000-0000-4000-8000-000000000001', 'Refurb Parts Canada', 'DEMO-RPC', 'CA', true),
    ('d2000000-0000-4000-8000-000000000002', 'Shenzhen Accessories', 'DEMO-SZA', 'CN', false)
on conflict do nothing;

insert into catalog.products (id, sku, name, product_kind, category) values
    ('d0000000-0000-4000-8000-000000000011', 'DEMO-T480-BASE', 'T480 base unit (refurbished)', 'component', 'parts'),
    ('d0000000-0000-4000-8000-000000000012', 'DEMO-T480-CHASSIS', 'T480 chassis and board', 'component', 'parts'),
    ('d0000000-0000-4000-8000-000000000013', 'DEMO-T480-BATTERY', 'T480 battery', 'component', 'parts'),
    ('d0000000-0000-4000-8000-000000000014', 'DEMO-RAM-8', '8 GB DDR4 SO-DIMM', 'component', 'parts'),
    ('d0000000-0000-4000-8000-000000000015', 'DEMO-SSD-256', '256 GB NVMe SSD', 'component', 'parts')
on conflict do nothing;

insert into catalog.product_variants (id, product_id, internal_sku, name) values
    ('d1000000-0000-4000-8000-000000000011', 'd0000000-0000-4000-8000-000000000011', 'DEMO-T480-BASE', 'T480 base unit'),
    ('d1000000-0000-4000-8000-000000000012', 'd0000000-0000-4000-8000-000000000012', 'DEMO-T480-CHASSIS', 'T480 chassis and board'),
    ('d1000000-0000-4000-8000-000000000013', 'd0000000-0000-4000-8000-000000000013', 'DEMO-T480-BATTERY', 'T480 battery'),
    ('d1000000-0000-4000-8000-000000000014', 'd0000000-0000-4000-8000-000000000014', 'DEMO-RAM-8', '8 GB DDR4'),
    ('d1000000-0000-4000-8000-000000000015', 'd0000000-0000-4000-8000-000000000015', 'DEMO-SSD-256', '256 GB SSD')
on conflict do nothing;

-- The laptop: a base unit (itself chassis + battery), two RAM sticks, an SSD.
insert into catalog.variant_components (variant_id, component_variant_id, quantity) values
    ('d1000000-0000-4000-8000-000000000001', 'd1000000-0000-4000-8000-000000000011', 1),
    ('d1000000-0000-4000-8000-000000000001', 'd1000000-0000-4000-8000-000000000014', 2),
    ('d1000000-0000-4000-8000-000000000001', 'd1000000-0000-4000-8000-000000000015', 1),
    ('d1000000-0000-4000-8000-000000000011', 'd1000000-0000-4000-8000-000000000012', 1),
    ('d1000000-0000-4000-8000-000000000011', 'd1000000-0000-4000-8000-000000000013', 1)
on conflict do nothing;

insert into inventory.component_prices
    (id, component_variant_id, supplier_id, unit_cost, valid_from, valid_to, import_duty_pct, shipping_cost)
values
    ('d3000000-0000-4000-8000-000000000001', 'd1000000-0000-4000-8000-000000000012', 'd2000000-0000-4000-8000-000000000001', 180.00, '2024-01-01', null, 0, 0),
    ('d3000000-0000-4000-8000-000000000002', 'd1000000-0000-4000-8000-000000000013', 'd2000000-0000-4000-8000-000000000001', 35.00, '2024-01-01', null, 0, 0),
    ('d3000000-0000-4000-8000-000000000003', 'd1000000-0000-4000-8000-000000000014', 'd2000000-0000-4000-8000-000000000001', 18.00, '2024-01-01', null, 0, 0),
    -- The SSD's older price ran out; only today's counts.
    ('d3000000-0000-4000-8000-000000000004', 'd1000000-0000-4000-8000-000000000015', 'd2000000-0000-4000-8000-000000000001', 19.00, '2024-01-01', '2024-12-31', 0, 0),
    ('d3000000-0000-4000-8000-000000000005', 'd1000000-0000-4000-8000-000000000015', 'd2000000-0000-4000-8000-000000000001', 29.00, '2025-01-01', null, 0, 0),
    -- Bought whole: the dock imported (6.5% duty, 2.40 shipping a unit), the charger at home.
    ('d3000000-0000-4000-8000-000000000006', 'd1000000-0000-4000-8000-000000000002', 'd2000000-0000-4000-8000-000000000002', 38.00, '2024-01-01', null, 6.5, 2.40),
    ('d3000000-0000-4000-8000-000000000007', 'd1000000-0000-4000-8000-000000000003', 'd2000000-0000-4000-8000-000000000001', 14.00, '2024-01-01', null, 0, 0)
on conflict do nothing;

-- What each listing sells at now, and the seller's bounds.
insert into pricing.current_prices (listing_id, price, min_price, max_price)
select m.id, v.list_price,
       case m.shop_sku when 'SKU-001' then 399.00 end,
       case m.shop_sku when 'SKU-002' then 99.99 end
from catalog.shop_sku_map m
join catalog.product_variants v on v.id = m.variant_id
where m.channel = 'bestbuy_ca' and m.shop_sku in ('SKU-001', 'SKU-002', 'SKU-003', 'SKU-005')
on conflict do nothing;

-- The dock on Amazon, at the same price.
insert into catalog.shop_sku_map (id, channel, shop_sku, variant_id, channel_product_id, marketplace_id, title)
values ('d6000000-0000-4000-8000-000000000001', 'amazon', 'SKU-002',
        'd1000000-0000-4000-8000-000000000002', 'B0DEMODOCK', 'A2EUQ1WTGCTBG2', 'USB-C dock')
on conflict do nothing;

insert into pricing.current_prices (listing_id, price)
values ('d6000000-0000-4000-8000-000000000001', 89.99)
on conflict do nothing;

insert into workflow.automation_rules
    (id, name, trigger_type, trigger_config, action_type, action_config, cooldown_minutes)
values
    ('d7000000-0000-4000-8000-000000000001', 'Buy box lost', 'competitive',
     '{"event": "buy_box_lost"}', 'create_task',
     '{"task_type": "competitive", "title_template": "Buy box lost on {asin} ({sku})", "priority_score": 90}',
     60)
on conflict do nothing;

-- The seller's rules: a 20% floor everywhere, beat the buy box on accessories by 1%,
-- 5% more on laptops when fewer than 3 are left, 10% off accessories on weekday
-- evenings (18:00 Toronto time, for three hours).
insert into pricing.price_rules (id, name, applies_to, scope_value, rule_type, config, priority) values
    ('d4000000-0000-4000-8000-000000000001', 'Keep 20% everywhere', 'all', null, 'margin_floor',
     '{"min_margin_pct": 20}', 100),
    ('d4000000-0000-4000-8000-000000000002', 'Beat the buy box on accessories', 'category', 'accessories',
     'competitor_beat', '{"against": "buy_box", "beat_by_pct": 1}', 200),
    ('d4000000-0000-4000-8000-000000000003', 'Scarce laptops', 'category', 'laptops', 'inventory_based',
     '{"when_below": 3, "price_change_pct": 5}', 150),
    ('d4000000-0000-4000-8000-000000000004', 'Weekday evening accessories', 'category', 'accessories',
     'time_based', '{"schedule": "0 18 * * 1-5", "duration_minutes": 180, "price_change_pct": -10}', 120)
on conflict do nothing;

-- A rival's offer on the dock, as the competitor flow records it, holding the buy box.
insert into competitors.products
    (id, channel, external_id, title, seller_id, seller_name, current_price, buy_box_price, buy_box_seller)
values
    ('d5000000-0000-4000-8000-000000000001', 'bestbuy_ca', 'DEMO-DOCK-RIVAL', 'USB-C dock',
     'rival-2001', 'Gadget Hub', 84.99, 84.99, 'rival-2001')
on conflict do nothing;

insert into competitors.tracked_listings (competitor_id, listing_id)
select 'd5000000-0000-4000-8000-000000000001', m.id
from catalog.shop_sku_map m where m.channel = 'bestbuy_ca' and m.shop_sku = 'SKU-002'
on conflict do nothing;

commit;
