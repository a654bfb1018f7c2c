-- The offers each tracked listing competes with, written once. A full price evaluation
-- reads them for every listing; a re-evaluation for a page of listings, whose filter
-- the planner pushes into each branch. Whether an offer is the seller's own is
-- `own`, or `own_key` naming one of the seller's ids (a setting, applied by the
-- reader).
--
-- A product whose offers the channel reported one by one (SP-API ANY_OFFER_CHANGED,
-- competitors.offers) gives every in-stock offer in the listing's condition at its
-- landed price; any other tracked product gives its current offer, and its buy-box
-- offer when another seller holds the buy box. Only offers in the listing's currency.
create view pricing.listing_offers as
select t.listing_id, o.seller_id as seller, o.landed_price as price, o.is_buy_box,
       o.is_own as own, o.seller_id as own_key
from competitors.tracked_listings t
join catalog.shop_sku_map l on l.id = t.listing_id
join competitors.offers o on o.competitor_id = t.competitor_id
     and o.item_condition = lower(l.condition_type) and o.in_stock
join pricing.current_prices cp on cp.listing_id = t.listing_id
where o.currency = cp.currency
union all
select t.listing_id, coalesce(p.seller_name, p.seller_id, p.external_id), p.current_price,
       coalesce(p.buy_box_seller in (p.seller_id, p.seller_name), false), false, p.seller_id
from competitors.tracked_listings t
join competitors.products p on p.id = t.competitor_id
join pricing.current_prices cp on cp.listing_id = t.listing_id
where p.current_price is not null
  and p.currency = cp.currency
  and not exists (select 1 from competitors.offers o where o.competitor_id = p.id)
union all
select t.listing_id, p.buy_box_seller, p.buy_box_price, true, false, p.buy_box_seller
from competitors.tracked_listings t
join competitors.products p on p.id = t.competitor_id
join pricing.current_prices cp on cp.listing_id = t.listing_id
where p.buy_box_price is not null
  and p.buy_box_seller is not null
  and p.buy_box_seller not in (coalesce(p.seller_id, ''), coalesce(p.seller_name, ''))
  and p.currency = cp.currency
  and not exists (select 1 from competitors.offers o where o.competitor_id = p.id);
