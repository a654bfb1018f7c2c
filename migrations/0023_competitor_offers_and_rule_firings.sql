-- Competitor offers as Amazon reports them (one notification lists every
-- seller's offer on a product), the alerts they raise, and the log of
-- automation rule firings that makes cooldowns and daily limits hold when
-- two evaluations run at once.

-- Every seller's offer on a competed product, by item condition, the
-- seller's own included (is_own) so that the buy box's holder is known. An
-- offer that drops out of a notification is kept, marked out of stock, so
-- that its return is seen as one.
create table competitors.offers (
    competitor_id          uuid not null,
    -- The condition the notification was about (new, used…), lower-cased.
    item_condition         text not null,
    seller_id              text not null,
    is_own                 boolean not null default false,
    listing_price          numeric(14,2) not null,
    shipping               numeric(14,2) not null default 0,
    -- What the buyer pays: listing price plus shipping. Competitor rules and
    -- alerts compare this.
    landed_price           numeric(14,2) not null,
    currency               ops.currency_code not null default 'CAD',
    is_buy_box             boolean not null default false,
    is_fulfilled_by_amazon boolean not null default false,
    in_stock               boolean not null default true,
    -- The time of the offer change that last wrote the row; a notification
    -- older than this is stale (or a redelivery) and changes nothing.
    observed_at            timestamptz not null,
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now(),
    constraint offers_pkey primary key (competitor_id, item_condition, seller_id),
    constraint offers_competitor_id_fkey foreign key (competitor_id)
        references competitors.products (id) on delete cascade,
    constraint offers_prices_check
        check (listing_price >= 0 and shipping >= 0 and landed_price >= 0)
);

-- Buy box changes are alerts too; an alert names the competing seller it is
-- about and when the change was seen, which also keys it: the same change
-- seen twice is one alert.
alter table competitors.alerts
    add column seller_id text,
    add column observed_at timestamptz,
    drop constraint alerts_alert_type_check,
    add constraint alerts_alert_type_check check (alert_type in (
        'price_drop', 'price_increase', 'bsr_change', 'new_competitor', 'listing_change',
        'out_of_stock', 'back_in_stock', 'buy_box_won', 'buy_box_lost'));

create unique index alerts_change_key on competitors.alerts
    (competitor_id, alert_type, seller_id, observed_at) nulls not distinct;

insert into ops.settings (key, value, description) values
    ('competitors.price_alert_threshold_pct', '5',
     'A competitor price change of at least this many percent raises an alert')
on conflict (key) do nothing;

-- Alerts raised for the seller by automation rules (send_alert).
create table workflow.alerts (
    id          uuid primary key default gen_random_uuid(),
    rule_id     uuid,
    listing_id  uuid not null,
    severity    text not null,
    message     text not null,
    status      text not null default 'new',
    actioned_at timestamptz,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint alerts_rule_id_fkey foreign key (rule_id)
        references workflow.automation_rules (id) on delete set null,
    constraint alerts_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade,
    constraint alerts_severity_check check (severity in ('low', 'medium', 'high', 'critical')),
    constraint alerts_status_check check (status in ('new', 'viewed', 'actioned', 'dismissed'))
);

create index alerts_status_created_at_idx on workflow.alerts (status, created_at desc);

-- One row per firing of an automation rule for one listing. Cooldowns read
-- the rule's last firing for the listing, daily limits its firings of the
-- day; both are checked and the row written while the rule's row is locked.
create table workflow.automation_firings (
    id         uuid primary key default gen_random_uuid(),
    rule_id    uuid not null,
    listing_id uuid not null,
    fired_at   timestamptz not null,
    -- What the trigger saw ("net margin 8.50 % below 10").
    reason     text not null,
    task_id    uuid,
    alert_id   uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint automation_firings_rule_id_fkey foreign key (rule_id)
        references workflow.automation_rules (id) on delete cascade,
    constraint automation_firings_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade,
    constraint automation_firings_task_id_fkey foreign key (task_id)
        references workflow.tasks (id) on delete set null,
    constraint automation_firings_alert_id_fkey foreign key (alert_id)
        references workflow.alerts (id) on delete set null
);

create index automation_firings_rule_listing_idx
    on workflow.automation_firings (rule_id, listing_id, fired_at desc);
create index automation_firings_rule_fired_at_idx
    on workflow.automation_firings (rule_id, fired_at desc);

call ops.install_touch_triggers();
