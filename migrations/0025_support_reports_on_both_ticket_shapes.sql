-- The support reports answer on the tickets actually stored. Freshdesk sends a
-- ticket in two shapes: its REST API's (status and priority as numbers, `type`,
-- `tags` as a list, dates) and an automation rule's webhook (`ticket_status` and
-- `ticket_priority` as labels, `ticket_type`, the tags as one comma-separated
-- string, no dates). The reports read both. A status the helpdesk defines itself
-- (ids 6 and up, or its label in a webhook) counts under the category the seller
-- gives it in support.ticket_status_categories. A date that is not a date is read
-- as absent (a ticket without a creation date counts from when it was first
-- stored) and is recorded as a data problem of its ticket by the recording path,
-- so one bad ticket no longer fails every report.

-- A date in a ticket that is not one: the field, the value as sent, and what the
-- reports did without it.
alter table ops.data_problems drop constraint data_problems_kind_check;
alter table ops.data_problems add constraint data_problems_kind_check
    check (kind in ('total_mismatch', 'unknown_state', 'invalid_date'));

-- The category each helpdesk-defined status counts under in the reports and the
-- queue. Freshdesk's own four (open, pending, resolved, closed) need no row.
create table support.ticket_status_categories (
    id         uuid primary key default gen_random_uuid(),
    -- The status as Freshdesk's API sends it (its id, '6') or as a webhook renders
    -- it (its label, 'waiting on customer'), lower-case: a status the seller wants
    -- counted from both shapes has a row for each.
    status     text not null,
    category   text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint ticket_status_categories_status_key unique (status),
    constraint ticket_status_categories_status_check
        check (status = lower(btrim(status)) and status <> ''),
    constraint ticket_status_categories_category_check
        check (category in ('open', 'pending', 'resolved', 'closed'))
);

-- The custom statuses a new Freshdesk account starts with, by label. Their ids
-- differ between accounts, so a seller whose tickets arrive through the API adds
-- a row for each id (e.g. ('6', 'pending')).
insert into support.ticket_status_categories (status, category) values
    ('waiting on customer', 'pending'),
    ('waiting on third party', 'pending');

-- A ticket's date, or null when the text is not a date (ISO 8601, as Freshdesk
-- writes them); never an error.
create function support.try_timestamptz(value text) returns timestamptz
language plpgsql stable parallel safe
as $$
begin
    if value is null or value !~ '^\s*\d{4}-\d{2}-\d{2}' then
        return null;
    end if;
    return value::timestamptz;
exception when data_exception then
    return null;
end;
$$;

-- The date fields of a ticket (top level, and the stats block returned with
-- ?include=stats) that hold something other than a date: what the recording path
-- raises as data problems.
create function support.ticket_invalid_dates(data jsonb)
returns table (field text, sent_value text)
language sql stable parallel safe
begin atomic
    select d.field, d.sent_value
    from (
        select f.key, f.value #>> '{}'
        from jsonb_each(data) f
        where f.key in ('created_at', 'updated_at', 'due_by', 'fr_due_by',
                        'first_responded_at', 'resolved_at', 'closed_at')
        union all
        select 'stats.' || s.key, s.value #>> '{}'
        from jsonb_each(case when jsonb_typeof(data -> 'stats') = 'object'
                             then data -> 'stats' else '{}'::jsonb end) s
        where s.key like '%\_at' or s.key like '%\_since'
    ) d(field, sent_value)
    where d.sent_value is not null
      and support.try_timestamptz(d.sent_value) is null
    order by d.field;
end;

-- When the ticket was opened in Freshdesk; falls back to when we first stored it
-- (webhook documents carry no creation time, and a creation time that is not a
-- date is no time).
create or replace function support.ticket_opened_at(data jsonb, stored_at timestamptz)
returns timestamptz
language sql stable parallel safe
return coalesce(support.try_timestamptz(data ->> 'created_at'), stored_at);

-- Hours between opening and a timestamp in the document (top level or the stats
-- block); null when absent or not a date.
create or replace function support.ticket_hours_until(data jsonb, stored_at timestamptz, field text)
returns numeric
language sql stable parallel safe
return extract(epoch from (
    coalesce(support.try_timestamptz(data ->> field),
             support.try_timestamptz(data -> 'stats' ->> field))
    - support.ticket_opened_at(data, stored_at))) / 3600;

-- The status as sent, in either shape: '6', 'Waiting on Customer', 'Pending'.
create function support.ticket_status_sent(data jsonb) returns text
language sql immutable parallel safe
return nullif(btrim(coalesce(data ->> 'status', data ->> 'ticket_status')), '');

-- The category a ticket counts under: Freshdesk's own status, else the category
-- support.ticket_status_categories gives a helpdesk-defined one, else 'other'
-- (or 'unknown' when the ticket names no status).
create function support.ticket_status_category(data jsonb) returns text
language sql stable parallel safe
return coalesce(
    (select m.category
     from support.ticket_status_categories m
     where support.extract_ticket_status(data) = 'other'
       and m.status = lower(support.ticket_status_sent(data))),
    support.extract_ticket_status(data));

-- A ticket's categories for the trend report: its tags (a list from the API, a
-- comma-separated string from a webhook, under `tags` or `ticket_tags`), else its
-- type (`type` or `ticket_type`); lower-case, each once.
create function support.ticket_categories(data jsonb) returns text[]
language sql immutable parallel safe
return (
    with sent(tags) as (values (data -> 'tags'), (data -> 'ticket_tags')),
    tags as (
        select distinct lower(btrim(tag)) as tag
        from sent
        cross join lateral (
            select jsonb_array_elements_text(
                case when jsonb_typeof(sent.tags) = 'array' then sent.tags else '[]'::jsonb end)
            union all
            select regexp_split_to_table(
                case when jsonb_typeof(sent.tags) = 'string' then sent.tags #>> '{}' end, ',')
        ) t(tag)
    )
    select case
        when exists (select 1 from tags where tag <> '')
            then array(select tag from tags where tag <> '' order by tag)
        else array(
            select lower(btrim(ty))
            from (select coalesce(data ->> 'type', data ->> 'ticket_type') as ty) x
            where btrim(ty) <> '')
    end
);

-- Tickets a person would count: not spam, not deleted. `status` is the category
-- the ticket counts under; `status_sent` the status as Freshdesk sent it.
create or replace view support.live_freshdesk_tickets as
select
    t.id,
    t.domain,
    t.freshdesk_ticket_id,
    t.data,
    support.ticket_opened_at(t.data, t.created_at) as opened_at,
    support.ticket_status_category(t.data) as status,
    support.extract_ticket_priority(t.data) as priority,
    support.ticket_hours_until(t.data, t.created_at, 'first_responded_at') as first_response_hours,
    support.ticket_hours_until(t.data, t.created_at, 'resolved_at') as resolution_hours,
    support.ticket_status_sent(t.data) as status_sent,
    support.ticket_categories(t.data) as categories
from etl.freshdesk_tickets t
where t.data -> 'spam' is distinct from 'true'::jsonb
  and t.data -> 'deleted' is distinct from 'true'::jsonb;

-- Top ticket categories opened in [p_from, p_to) with the count in the window of
-- the same length just before, to show what is rising.
create or replace function support.get_trending_categories(
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
        select t.id, t.opened_at, c.category
        from support.live_freshdesk_tickets t
        cross join lateral unnest(t.categories) c(category)
        where t.opened_at >= p_from - (p_to - p_from) and t.opened_at < p_to
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

-- Tickets in a status no category is given for: counted as 'other' by the summary
-- and left out of the queue until the seller maps them.
create view support.unmapped_ticket_statuses as
select domain, status_sent, count(*) as ticket_count
from support.live_freshdesk_tickets
where status = 'other'
group by domain, status_sent;

call ops.install_touch_triggers();
