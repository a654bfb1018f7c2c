-- The demo's catalogue and stock, for the offer SKUs of the simulator's demo orders
-- (infra/local/demo/mirakl-orders.json). Loaded by demo.sh before any order arrives;
-- loading it again changes nothing (fixed ids, `on conflict do nothing`), so stock a
-- previous run shipped is not put back.
--
--   SKU-001  ThinkPad T480     5 in stock    BB-DEMO-1001-A is accepted and shipped
--   SKU-002  USB-C dock       10 in stock    BB-DEMO-1002-A (with SKU-003) is accepted
--   SKU-003  65 W charger     10 in stock      and shipped, as are 245918307-A (SKU-002),
--                                             245920461-A and 245923118-A (SKU-003), the
--                                             orders the demo's customers then write about
--   SKU-005  keyboard          0 in stock    BB-DEMO-1004-A is refused (OR21, no stock)
--   SKU-404  (not in the catalogue)          BB-DEMO-1003-A stops for a person
begin;

insert into catalog.products (id, sku, name, brand, category) values
    ('d0000000-0000-4000-8000-000000000001', 'DEMO-T480', 'Refurbished ThinkPad T480', 'Lenovo', 'laptops'),
    ('d0000000-0000-4000-8000-000000000002', 'DEMO-DOCK', 'USB-C dock', 'Anker', 'accessories'),
    ('d0000000-0000-4000-8000-000000000003', 'DEMO-CHARGER', '65 W charger', 'Anker', 'accessories'),
    ('d0000000-0000-4000-8000-000000000005', 'DEMO-KEYBOARD', 'Mechanical keyboard', 'Keychron', 'accessories')
on conflict do nothing;

insert into catalog.product_variants
    (id, product_id, internal_sku, name, list_price, weight_grams, length_cm, width_cm, height_cm)
values
    ('d1000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000001',
     'DEMO-T480-I5-16', 'ThinkPad T480, i5, 16 GB', 499.00, 2100, 40, 30, 8),
    ('d1000000-0000-4000-8000-000000000002', 'd0000000-0000-4000-8000-000000000002',
     'DEMO-DOCK-USBC', 'USB-C dock', 89.99, 350, null, null, null),
    ('d1000000-0000-4000-8000-000000000003', 'd0000000-0000-4000-8000-000000000003',
     'DEMO-CHARGER-65W', '65 W charger', 39.50, 250, null, null, null),
    ('d1000000-0000-4000-8000-000000000005', 'd0000000-0000-4000-8000-000000000005',
     'DEMO-KEYBOARD-US', 'Mechanical keyboard, US layout', 129.00, 900, 45, 15, 5)
on conflict do nothing;

insert into catalog.shop_sku_map (channel, shop_sku, variant_id, title) values
    ('bestbuy_ca', 'SKU-001', 'd1000000-0000-4000-8000-000000000001', 'Refurbished ThinkPad T480'),
    ('bestbuy_ca', 'SKU-002', 'd1000000-0000-4000-8000-000000000002', 'USB-C dock'),
    ('bestbuy_ca', 'SKU-003', 'd1000000-0000-4000-8000-000000000003', '65 W charger'),
    ('bestbuy_ca', 'SKU-005', 'd1000000-0000-4000-8000-000000000005', 'Mechanical keyboard')
on conflict do nothing;

insert into inventory.stock_levels (variant_id, on_hand, warehouse_location) values
    ('d1000000-0000-4000-8000-000000000001', 5, 'A-01'),
    ('d1000000-0000-4000-8000-000000000002', 10, 'A-02'),
    ('d1000000-0000-4000-8000-000000000003', 10, 'A-03'),
    ('d1000000-0000-4000-8000-000000000005', 0, 'A-05')
on conflict do nothing;

commit;
