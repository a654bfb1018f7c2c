-- Applying a price: where the seller lets a price go out to the channel, the
-- decision (pricing.price_decisions, mode apply) and its outbox message commit
-- together; the message's handler records the price change below, keyed by
-- the decision, before any request, and then pushes it to the channel (Mirakl OF24 for Best Buy, the
-- Listings Items patch for Amazon). Neither call has an idempotency key and a
-- Mirakl offer update rewrites the whole offer, so a change is stored before
-- any request and send_state says how far it got:
--   stored:     committed, no request made yet (or the last one provably
--               never left);
--   sending:    a request may have reached the channel; its outcome is
--               unknown until the offer is read back (Mirakl OF21 and the
--               recent imports OF04, Amazon getListingsItem): the price
--               already there is adopted, a pending import is waited for,
--               and only a price provably not there is sent again;
--   accepted:   the channel took the update and works on it asynchronously
--               (Mirakl's import id, Amazon's submission id in
--               channel_reference); the price is not confirmed yet;
--   applied:    the channel shows the new price (import complete without
--               errors, or the offer read back with it);
--   refused:    the channel refused the update (a 4xx, an import line in
--               error, an INVALID submission): refusal_reason says why, a
--               person's task names the change (workflow.tasks
--               .price_change_id), and it is never sent again;
--   superseded: a newer decision for the same listing was made before this
--               change was settled; only a listing's latest decision is sent.
create table pricing.price_changes (
    -- The decision whose price this is (pricing.price_decisions.id).
    id                uuid primary key,
    listing_id        uuid not null,
    channel           sales.channel not null,
    -- The seller's offer SKU on the channel, as stored when the change was
    -- decided: the channel identifies the offer by it.
    shop_sku          text not null,
    currency          ops.currency_code not null default 'CAD',
    old_price         numeric(14,2),
    new_price         numeric(14,2) not null,
    -- The rule whose proposal this is (null when a bound set the price).
    rule_id           uuid,
    -- When the decision was made: a listing's later decision supersedes it.
    decided_at        timestamptz not null,
    send_state        text not null default 'stored',
    -- Requests made to change the price (a read-back is not one).
    attempts          integer not null default 0,
    send_attempted_at timestamptz,
    -- Mirakl's offer import id, or Amazon's submission id.
    channel_reference text,
    -- When the channel was seen carrying the new price.
    applied_at        timestamptz,
    -- The price was found already there after an ambiguous request: adopted,
    -- not sent again.
    adopted           boolean not null default false,
    refusal_reason    text,
    superseded_by     uuid,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    constraint price_changes_id_fkey foreign key (id)
        references pricing.price_decisions (id) on delete cascade,
    constraint price_changes_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade,
    constraint price_changes_rule_id_fkey foreign key (rule_id)
        references pricing.price_rules (id) on delete set null,
    -- The decision that replaced it.
    constraint price_changes_superseded_by_fkey foreign key (superseded_by)
        references pricing.price_decisions (id) on delete set null,
    constraint price_changes_channel_check check (channel in ('bestbuy_ca', 'amazon')),
    constraint price_changes_send_state_check check (send_state in (
        'stored', 'sending', 'accepted', 'applied', 'refused', 'superseded')),
    constraint price_changes_prices_check check (new_price > 0 and old_price >= 0),
    constraint price_changes_attempts_check check (attempts >= 0),
    constraint price_changes_sending_attempted_check
        check (send_state <> 'sending' or send_attempted_at is not null),
    constraint price_changes_accepted_reference_check
        check (send_state <> 'accepted' or channel_reference is not null),
    constraint price_changes_applied_at_check check ((send_state = 'applied') = (applied_at is not null)),
    constraint price_changes_refused_reason_check
        check ((send_state = 'refused') = (refusal_reason is not null)),
    constraint price_changes_superseded_by_check
        check (send_state <> 'superseded' or superseded_by is not null)
);

-- A listing's changes, latest decision first.
create index price_changes_listing_id_idx on pricing.price_changes (listing_id, decided_at desc);
-- Changes still open (waiting, in doubt, or waiting for the channel to
-- confirm), for the scheduled confirmation and a person's query.
create index price_changes_open_idx on pricing.price_changes (send_state, updated_at)
    where send_state in ('stored', 'sending', 'accepted');

-- A price the channel refused is a person's task.
alter table workflow.tasks
    add column price_change_id uuid,
    add constraint tasks_price_change_id_fkey foreign key (price_change_id)
        references pricing.price_changes (id) on delete set null,
    add constraint tasks_price_change_id_key unique (price_change_id);

call ops.install_touch_triggers();
