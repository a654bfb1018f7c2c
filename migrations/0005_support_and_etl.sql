-- Customer conversations from every channel in one thread/message model, the
-- ETL landing tables (integration credentials, sync watermarks, raw Shopify
-- and Freshdesk documents) and the support analytics over Freshdesk tickets.

create table support.conversations (
    id              uuid primary key default gen_random_uuid(),
    channel         sales.channel not null,
    -- Mirakl thread id, Freshdesk ticket id.
    external_id     text not null,
    customer_id     uuid,
    order_id        uuid,
    subject         text,
    topic           text,
    status          text not null default 'unread',
    last_message_at timestamptz,
    raw_payload     jsonb not null default '{}',
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint conversations_channel_external_id_key unique (channel, external_id),
    -- Target of the messages (conversation_id, channel) key.
    constraint conversations_id_channel_key unique (id, channel),
    constraint conversations_customer_id_fkey foreign key (customer_id)
        references sales.customers (id),
    constraint conversations_order_id_fkey foreign key (order_id)
        references sales.orders (id),
    constraint conversations_status_check check (status in ('unread', 'read', 'archived'))
);

create index conversations_customer_id_idx on support.conversations (customer_id);
create index conversations_order_id_idx on support.conversations (order_id);
create index conversations_status_idx on support.conversations (status, last_message_at desc);

create table support.messages (
    id                     uuid primary key default gen_random_uuid(),
    conversation_id        uuid not null,
    -- Always the conversation's channel (enforced by the composite key).
    channel                sales.channel not null,
    -- The outside message id; null for a reply not yet sent.
    external_id            text,
    sender_type            text not null,
    message_type           text not null default 'manual',
    sender_name            text,
    body                   text not null,
    sent_at                timestamptz not null,
    in_reply_to_message_id uuid,
    intent                 text,
    raw_payload            jsonb not null default '{}',
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now(),
    constraint messages_channel_external_id_key unique (channel, external_id),
    constraint messages_conversation_id_channel_fkey foreign key (conversation_id, channel)
        references support.conversations (id, channel) on delete cascade,
    constraint messages_in_reply_to_message_id_fkey foreign key (in_reply_to_message_id)
        references support.messages (id),
    constraint messages_sender_type_check
        check (sender_type in ('customer', 'technician', 'operator', 'assistant', 'system')),
    constraint messages_message_type_check check (message_type in ('manual', 'auto_reply'))
);

create index messages_conversation_id_sent_at_idx on support.messages (conversation_id, sent_at);
create index messages_intent_idx on support.messages (intent);
-- A customer message gets at most one automatic answer, however often the
-- reply job runs.
create unique index messages_one_auto_reply_key on support.messages (in_reply_to_message_id)
    where message_type = 'auto_reply';

-- Credentials and settings of each outside account. The API key is encrypted
-- in Rust before it gets here; the database only ever sees ciphertext.
create table etl.integrations (
    id                 uuid primary key default gen_random_uuid(),
    integration_type   text not null,
    -- Shop domain, Freshdesk domain, Mirakl shop id…
    account_ref        text not null,
    api_key_ciphertext bytea,
    -- Which key (KMS key id / version) encrypted api_key_ciphertext.
    encryption_key_id  text,
    config             jsonb not null default '{}',
    is_active          boolean not null default true,
    is_sandbox         boolean not null default false,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint integrations_integration_type_account_ref_key unique (integration_type, account_ref),
    constraint integrations_integration_type_check check (integration_type in (
        'mirakl', 'shopify', 'freshdesk', 'amazon_sp_api', 'keepa', 'canada_post')),
    constraint integrations_api_key_check check (
        (api_key_ciphertext is null) = (encryption_key_id is null)
        and octet_length(api_key_ciphertext) > 0)
);

-- Incremental sync position per source and entity (e.g. mirakl/orders).
create table etl.sync_metadata (
    id                 uuid primary key default gen_random_uuid(),
    source             text not null,
    entity             text not null,
    watermark_at       timestamptz,
    watermark_id       text,
    sync_status        text not null default 'idle',
    last_error         text,
    last_started_at    timestamptz,
    last_succeeded_at  timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint sync_metadata_source_entity_key unique (source, entity),
    constraint sync_metadata_sync_status_check
        check (sync_status in ('idle', 'in_progress', 'success', 'failed'))
);

-- Raw Shopify customer documents, keyed by shop and Shopify id. E-mail
-- fields are replaced by email_hash before the document is stored.
create table etl.shopify_customers (
    id                  uuid primary key default gen_random_uuid(),
    shop_domain         text not null,
    shopify_customer_id text not null,
    customer_id         uuid,
    email_hash          bytea,
    data                jsonb not null,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint shopify_customers_shop_domain_customer_id_key unique (shop_domain, shopify_customer_id),
    constraint shopify_customers_customer_id_fkey foreign key (customer_id)
        references sales.customers (id),
    constraint shopify_customers_email_hash_check check (octet_length(email_hash) = 32),
    constraint shopify_customers_data_has_no_email_check
        check (not ops.contains_email_address(data::text))
);

create index shopify_customers_customer_id_idx on etl.shopify_customers (customer_id);
create index shopify_customers_created_at_idx on etl.shopify_customers (created_at);
create index shopify_customers_data_idx on etl.shopify_customers using gin (data);

-- Raw Freshdesk ticket documents (with their conversations), keyed by
-- Freshdesk domain and ticket id; requester e-mail kept only as a hash.
create table etl.freshdesk_tickets (
    id                   uuid primary key default gen_random_uuid(),
    domain               text not null,
    freshdesk_ticket_id  text not null,
    conversation_id      uuid,
    customer_id          uuid,
    requester_email_hash bytea,
    data                 jsonb not null,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    constraint freshdesk_tickets_domain_ticket_id_key unique (domain, freshdesk_ticket_id),
    constraint freshdesk_tickets_conversation_id_fkey foreign key (conversation_id)
        references support.conversations (id),
    constraint freshdesk_tickets_customer_id_fkey foreign key (customer_id)
        references sales.customers (id),
    constraint freshdesk_tickets_requester_email_hash_check
        check (octet_length(requester_email_hash) = 32),
    constraint freshdesk_tickets_data_has_no_email_check
        check (not ops.contains_email_address(data::text))
);

create index freshdesk_tickets_created_at_idx on etl.freshdesk_tickets (created_at);
create index freshdesk_tickets_data_idx on etl.freshdesk_tickets using gin (data);

-- Freshdesk sends status as a number (2 open, 3 pending, 4 resolved,
-- 5 closed; 6+ are account-defined) in the API and as a label in webhooks.
-- Both become one lower-case label: an unrecognised value is 'other', a
-- missing one 'unknown'.
create function support.extract_ticket_status(data jsonb) returns text
language sql immutable parallel safe
return (
    select case
        when s is null then 'unknown'
        when s = '2' then 'open'
        when s = '3' then 'pending'
        when s = '4' then 'resolved'
        when s = '5' then 'closed'
        when lower(s) in ('open', 'pending', 'resolved', 'closed') then lower(s)
        else 'other'
    end
    from (select nullif(btrim(coalesce(data ->> 'status', data ->> 'ticket_status')), '') as s) raw
);

-- Priority: 1 low, 2 medium, 3 high, 4 urgent, or the same words as labels.
create function support.extract_ticket_priority(data jsonb) returns text
language sql immutable parallel safe
return (
    select case
        when p is null then 'unknown'
        when p = '1' then 'low'
        when p = '2' then 'medium'
        when p = '3' then 'high'
        when p = '4' then 'urgent'
        when lower(p) in ('low', 'medium', 'high', 'urgent') then lower(p)
        else 'other'
    end
    from (select nullif(btrim(coalesce(data ->> 'priority', data ->> 'ticket_priority')), '') as p) raw
);

create index freshdesk_tickets_status_priority_idx
    on etl.freshdesk_tickets (support.extract_ticket_status(data), support.extract_ticket_priority(data));

-- When the ticket was opened in Freshdesk; falls back to when we first stored
-- it (webhook documents carry no creation time).
create function support.ticket_opened_at(data jsonb, stored_at timestamptz) returns timestamptz
language sql stable parallel safe
return case
    when data ->> 'created_at' ~ '^\d{4}-\d{2}-\d{2}' then (data ->> 'created_at')::timestamptz
    else stored_at
end;

-- Hours between opening and a timestamp in the document (top level or the
-- stats block returned with ?include=stats); null when absent.
create function support.ticket_hours_until(data jsonb, stored_at timestamptz, field text)
returns numeric
language sql stable parallel safe
return (
    select extract(epoch from (t::timestamptz - support.ticket_opened_at(data, stored_at))) / 3600
    from (select coalesce(data ->> field, data -> 'stats' ->> field) as t) raw
    where t ~ '^\d{4}-\d{2}-\d{2}'
);

-- Tickets a person would count: not spam, not deleted.
create view support.live_freshdesk_tickets as
select
    t.id,
    t.domain,
    t.freshdesk_ticket_id,
    t.data,
    support.ticket_opened_at(t.data, t.created_at) as opened_at,
    support.extract_ticket_status(t.data) as status,
    support.extract_ticket_priority(t.data) as priority,
    support.ticket_hours_until(t.data, t.created_at, 'first_responded_at') as first_response_hours,
    support.ticket_hours_until(t.data, t.created_at, 'resolved_at') as resolution_hours
from etl.freshdesk_tickets t
where t.data -> 'spam' is distinct from 'true'::jsonb
  and t.data -> 'deleted' is distinct from 'true'::jsonb;

-- Counts by status and averages for tickets opened in [p_from, p_to),
-- optionally for one Freshdesk domain.
create function support.get_support_summary(
    p_from timestamptz,
    p_to timestamptz,
    p_domain text default null
) returns table (
    total_tickets bigint,
    open_tickets bigint,
    pending_tickets bigint,
    resolved_tickets bigint,
    closed_tickets bigint,
    other_tickets bigint,
    high_priority_tickets bigint,
    avg_first_response_hours numeric,
    avg_resolution_hours numeric
)
language sql stable
begin atomic
    select
        count(*),
        count(*) filter (where status = 'open'),
        count(*) filter (where status = 'pending'),
        count(*) filter (where status = 'resolved'),
        count(*) filter (where status = 'closed'),
        count(*) filter (where status not in ('open', 'pending', 'resolved', 'closed')),
        count(*) filter (where priority in ('high', 'urgent')),
        round(avg(first_response_hours), 2),
        round(avg(resolution_hours), 2)
    from support.live_freshdesk_tickets
    where opened_at >= p_from and opened_at < p_to
      and (p_domain is null or domain = p_domain);
end;

-- Top ticket categories opened in [p_from, p_to) with the count in the
-- window of the same length just before, to show what is rising. A ticket's
-- categories are its tags, or its type when it has no tags.
create function support.get_trending_categories(
    p_from timestamptz,
    p_to timestamptz,
    p_limit integer default 10,
    p_domain text default null
) returns table (
    category text,
    ticket_count bigint,
    previous_count bigint,
    change_pct numeric
)
language sql stable
begin atomic
    with categorised as (
        select distinct t.id, t.opened_at, c.category
        from support.live_freshdesk_tickets t
        cross join lateral (
            select case when jsonb_typeof(t.data -> 'tags') = 'array'
                        then t.data -> 'tags' else '[]'::jsonb end as tags
        ) tg
        cross join lateral (
            select lower(btrim(tag)) from jsonb_array_elements_text(tg.tags) tag
            union all
            select lower(btrim(t.data ->> 'type')) where jsonb_array_length(tg.tags) = 0
        ) c(category)
        where c.category <> ''
          and t.opened_at >= p_from - (p_to - p_from) and t.opened_at < p_to
          and (p_domain is null or t.domain = p_domain)
    ),
    counted as (
        select
            category,
            count(*) filter (where opened_at >= p_from) as ticket_count,
            count(*) filter (where opened_at < p_from) as previous_count
        from categorised
        group by category
    )
    select
        category,
        ticket_count,
        previous_count,
        case when previous_count > 0
             then round(100.0 * (ticket_count - previous_count) / previous_count, 2) end
    from counted
    where ticket_count > 0
    order by ticket_count desc, category
    limit p_limit;
end;

-- The summary metrics of two periods side by side, one row per metric.
create function support.compare_support_periods(
    p_current_from timestamptz,
    p_current_to timestamptz,
    p_previous_from timestamptz,
    p_previous_to timestamptz,
    p_domain text default null
) returns table (
    metric text,
    current_value numeric,
    previous_value numeric,
    change numeric,
    change_pct numeric
)
language sql stable
begin atomic
    select
        m.metric,
        m.current_value,
        m.previous_value,
        m.current_value - m.previous_value,
        case when m.previous_value <> 0
             then round(100.0 * (m.current_value - m.previous_value) / m.previous_value, 2) end
    from support.get_support_summary(p_current_from, p_current_to, p_domain) cur
    cross join support.get_support_summary(p_previous_from, p_previous_to, p_domain) prev
    cross join lateral unnest(
        array['total_tickets', 'open_tickets', 'pending_tickets', 'resolved_tickets',
              'closed_tickets', 'high_priority_tickets', 'avg_first_response_hours',
              'avg_resolution_hours'],
        array[cur.total_tickets, cur.open_tickets, cur.pending_tickets, cur.resolved_tickets,
              cur.closed_tickets, cur.high_priority_tickets, cur.avg_first_response_hours,
              cur.avg_resolution_hours]::numeric[],
        array[prev.total_tickets, prev.open_tickets, prev.pending_tickets, prev.resolved_tickets,
              prev.closed_tickets, prev.high_priority_tickets, prev.avg_first_response_hours,
              prev.avg_resolution_hours]::numeric[]
    ) with ordinality as m(metric, current_value, previous_value, position)
    order by m.position;
end;

-- The live queue: open and pending tickets by domain, status and priority.
create view support.current_queue_status as
select
    domain,
    status,
    priority,
    case priority when 'urgent' then 4 when 'high' then 3 when 'medium' then 2 when 'low' then 1 else 0 end
        as priority_rank,
    count(*) as ticket_count,
    min(opened_at) as oldest_opened_at,
    round(extract(epoch from (now() - min(opened_at))) / 3600, 1) as oldest_age_hours
from support.live_freshdesk_tickets
where status in ('open', 'pending')
group by domain, status, priority;

call ops.install_touch_triggers();
