-- Work items for people (a kanban board) and the automation rules that
-- create them.

create table workflow.kanban_stages (
    id          uuid primary key default gen_random_uuid(),
    name        text not null,
    description text,
    color       text,
    sort_order  integer not null,
    -- New tasks start in the default stage; a terminal stage means done.
    is_default  boolean not null default false,
    is_terminal boolean not null default false,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint kanban_stages_name_key unique (name),
    constraint kanban_stages_color_check check (color ~ '^#[0-9A-Fa-f]{6}$')
);

create unique index kanban_stages_one_default_key on workflow.kanban_stages (is_default)
    where is_default;

insert into workflow.kanban_stages (name, sort_order, is_default, is_terminal, color) values
    ('Backlog', 1, true, false, '#6B7280'),
    ('To Analyze', 2, false, false, '#3B82F6'),
    ('In Progress', 3, false, false, '#F59E0B'),
    ('Review', 4, false, false, '#8B5CF6'),
    ('Ready to Deploy', 5, false, false, '#10B981'),
    ('Monitoring', 6, false, false, '#06B6D4'),
    ('Done', 7, false, true, '#22C55E')
on conflict (name) do nothing;

create function workflow.default_stage_id() returns uuid
language sql stable
return (select id from workflow.kanban_stages where is_default);

create table workflow.automation_rules (
    id                 uuid primary key default gen_random_uuid(),
    name               text not null,
    description        text,
    trigger_type       text not null,
    trigger_config     jsonb not null,
    -- All must hold (AND).
    conditions         jsonb not null default '[]',
    action_type        text not null,
    action_config      jsonb not null,
    -- Minimum gap between two firings for the same entity.
    cooldown_minutes   integer not null default 60,
    -- null means unlimited.
    max_daily_triggers integer,
    is_active          boolean not null default true,
    last_triggered_at  timestamptz,
    trigger_count      integer not null default 0,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint automation_rules_trigger_type_check
        check (trigger_type in ('threshold', 'competitive', 'time_based', 'event')),
    constraint automation_rules_action_type_check check (action_type in (
        'create_task', 'update_price', 'send_alert', 'apply_template', 'tag_listing')),
    constraint automation_rules_limits_check
        check (cooldown_minutes >= 0 and max_daily_triggers > 0 and trigger_count >= 0)
);

create index automation_rules_active_idx on workflow.automation_rules (is_active, trigger_type);

create table workflow.tasks (
    id                 uuid primary key default gen_random_uuid(),
    title              text not null,
    description        text,
    task_type          text not null,
    stage_id           uuid not null default workflow.default_stage_id(),
    priority_score     numeric(5,2),
    priority_breakdown jsonb,
    created_by         text not null default 'system',
    source_rule_id     uuid,
    due_date           date,
    scheduled_for      timestamptz,
    completed_at       timestamptz,
    outcome            text,
    tags               text[] not null default '{}',
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint tasks_stage_id_fkey foreign key (stage_id)
        references workflow.kanban_stages (id),
    constraint tasks_source_rule_id_fkey foreign key (source_rule_id)
        references workflow.automation_rules (id) on delete set null,
    constraint tasks_task_type_check check (task_type in (
        'optimization', 'pricing', 'competitive', 'compliance', 'launch', 'other')),
    constraint tasks_created_by_check check (created_by in ('system', 'user', 'rule'))
);

create index tasks_stage_id_idx on workflow.tasks (stage_id);
create index tasks_priority_score_idx on workflow.tasks (priority_score desc);
create index tasks_due_date_idx on workflow.tasks (due_date);
-- Open work by due date (an index predicate cannot look up terminal stages,
-- so completion is read from completed_at).
create index tasks_open_due_date_idx on workflow.tasks (due_date) where completed_at is null;

-- The listings a task is about (one for most tasks, many for bulk work).
create table workflow.task_listings (
    task_id    uuid not null,
    listing_id uuid not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint task_listings_pkey primary key (task_id, listing_id),
    constraint task_listings_task_id_fkey foreign key (task_id)
        references workflow.tasks (id) on delete cascade,
    constraint task_listings_listing_id_fkey foreign key (listing_id)
        references catalog.shop_sku_map (id) on delete cascade
);

create index task_listings_listing_id_idx on workflow.task_listings (listing_id);

call ops.install_touch_triggers();
