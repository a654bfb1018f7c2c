-- The machinery every function shares: call and failure logs, delivery
-- dedup (idempotency keys, webhook inbox), the transactional outbox,
-- settings, audit log and scheduled job runs.

-- Every outbound API call. Secrets are redacted before the row is written.
create table ops.api_calls (
    id              uuid primary key default gen_random_uuid(),
    service         text not null,
    operation       text not null,
    method          text not null,
    url             text not null,
    request_headers jsonb,
    request_body    text,
    status_code     integer,
    response_body   text,
    duration_ms     integer,
    error           text,
    order_id        uuid,
    -- Lambda request id, to find the call from the function's logs.
    request_id      text,
    started_at      timestamptz not null default now(),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint api_calls_order_id_fkey foreign key (order_id)
        references sales.orders (id) on delete set null,
    constraint api_calls_method_check
        check (method in ('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD')),
    constraint api_calls_status_code_check check (status_code between 100 and 599),
    constraint api_calls_duration_ms_check check (duration_ms >= 0)
);

create index api_calls_service_started_at_idx on ops.api_calls (service, started_at desc);
create index api_calls_order_id_idx on ops.api_calls (order_id) where order_id is not null;
create index api_calls_started_at_idx on ops.api_calls using brin (started_at);

-- Permanent failures that need a person; open until resolved_at is set.
create table ops.process_failures (
    id              uuid primary key default gen_random_uuid(),
    process_name    text not null,
    entity_type     text,
    entity_ref      text,
    reason          text not null,
    payload         jsonb,
    resolved_at     timestamptz,
    resolution_note text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint process_failures_reason_check check (btrim(reason) <> '')
);

create index process_failures_open_idx on ops.process_failures (process_name, created_at)
    where resolved_at is null;
create index process_failures_entity_idx on ops.process_failures (entity_type, entity_ref);

-- One row per delivery key (S3 object version, webhook id, SQS message…).
-- in_progress rows are leased until locked_until so a crashed attempt can be
-- retried; completed rows keep the result until expires_at.
create table ops.idempotency_keys (
    key          text primary key,
    scope        text not null,
    state        text not null default 'in_progress',
    locked_until timestamptz,
    expires_at   timestamptz not null,
    result       jsonb,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    constraint idempotency_keys_state_check check (state in ('in_progress', 'completed')),
    constraint idempotency_keys_lease_check check (state <> 'in_progress' or locked_until is not null)
);

create index idempotency_keys_expires_at_idx on ops.idempotency_keys (expires_at);

-- Follow-up messages written in the same transaction as the data that caused
-- them and published to SQS after commit. dedup_id makes the write idempotent
-- and doubles as the SQS deduplication id.
create table ops.outbox (
    id               uuid primary key default gen_random_uuid(),
    queue_name       text not null,
    message_body     jsonb not null,
    dedup_id         text not null,
    message_group_id text,
    published_at     timestamptz,
    attempts         integer not null default 0,
    last_error       text,
    next_attempt_at  timestamptz not null default now(),
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint outbox_dedup_id_key unique (dedup_id),
    constraint outbox_attempts_check check (attempts >= 0)
);

create index outbox_unpublished_idx on ops.outbox (next_attempt_at, created_at)
    where published_at is null;

-- Webhook deliveries as received, deduplicated per source.
create table ops.inbox (
    id           uuid primary key default gen_random_uuid(),
    source       text not null,
    delivery_id  text not null,
    received_at  timestamptz not null default now(),
    headers      jsonb,
    body         jsonb not null,
    processed_at timestamptz,
    error        text,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    constraint inbox_source_delivery_id_key unique (source, delivery_id)
);

create index inbox_unprocessed_idx on ops.inbox (received_at) where processed_at is null;

create table ops.settings (
    key         text primary key,
    value       jsonb not null,
    description text,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

insert into ops.settings (key, value, description) values
    ('scoring.weights',
     '{"seo": 0.25, "content": 0.25, "images": 0.20, "competitive": 0.15, "compliance": 0.15}',
     'Share of each part in a listing''s total score'),
    ('sync.sp_api.interval_minutes', '60', 'Minutes between Amazon SP-API listing syncs'),
    ('sync.keepa.tokens_per_minute', '21', 'Keepa request budget per minute'),
    ('pricing.default_margin_floor', '0.20', 'Lowest margin a price rule may accept, as a fraction'),
    ('seasonality.uk_calendar',
     '{"diy_peak_months": [3, 4, 5, 6, 7, 8], "holiday_weeks": ["2025-12-22", "2025-12-29"]}',
     'Peak months and holiday weeks used by demand rules')
on conflict (key) do nothing;

-- Who changed what. entity_id is text so any key (uuid, settings key) fits.
create table ops.audit_log (
    id          uuid primary key default gen_random_uuid(),
    entity_type text not null,
    entity_id   text not null,
    action      text not null,
    changes     jsonb,
    source      text,
    source_id   text,
    actor       text,
    ip_address  inet,
    user_agent  text,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint audit_log_action_check check (action in ('create', 'update', 'delete'))
);

create index audit_log_entity_idx on ops.audit_log (entity_type, entity_id);
create index audit_log_created_at_idx on ops.audit_log (created_at desc);

create trigger audit_log_append_only
    before update on ops.audit_log
    for each row execute function ops.reject_history_rewrite();

-- Runs of scheduled work (syncs, score calculations) and their outcome.
create table ops.jobs (
    id            uuid primary key default gen_random_uuid(),
    job_type      text not null,
    status        text not null default 'pending',
    scheduled_for timestamptz,
    started_at    timestamptz,
    completed_at  timestamptz,
    input_data    jsonb,
    result_data   jsonb,
    error_message text,
    attempt_count integer not null default 0,
    max_attempts  integer not null default 3,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint jobs_status_check
        check (status in ('pending', 'running', 'completed', 'failed', 'cancelled')),
    constraint jobs_attempts_check check (attempt_count >= 0 and max_attempts >= 1)
);

create index jobs_status_scheduled_for_idx on ops.jobs (status, scheduled_for);
create index jobs_job_type_status_idx on ops.jobs (job_type, status);

call ops.install_touch_triggers();
