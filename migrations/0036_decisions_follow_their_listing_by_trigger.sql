-- A decision is written only for a listing whose pricing.current_prices row the
-- same transaction has just updated, and so locked (shared/src/flows/pricing/write.rs):
-- that row's own foreign key already holds the listing, and a listing deleted
-- meanwhile waits for the decision's transaction. The decisions' foreign key to the
-- listing checked it again, row by row, locking the listing's row for each decision:
-- a WAL record and a dirtied page per decision, about a third of the time a full
-- evaluation spends inserting its decisions.
--
-- What the key also did stays: deleting a listing deletes its decisions, now once per
-- deleting statement, from the deleted rows.

alter table pricing.price_decisions drop constraint price_decisions_listing_id_fkey;

create function pricing.delete_decisions_of_deleted_listings() returns trigger
language plpgsql as $$
begin
    delete from pricing.price_decisions d
    using deleted_listings l
    where d.listing_id = l.id;
    return null;
end
$$;

create trigger delete_decisions_of_deleted_listings
    after delete on catalog.shop_sku_map
    referencing old table as deleted_listings
    for each statement execute function pricing.delete_decisions_of_deleted_listings();
