-- Automatic answers to routine customer messages: the decision taken for each
-- inbound message, the send state of a reply stored before it is sent, and the
-- hand-over task a person picks up for everything not answered automatically.

-- An automatic reply is stored (a support.messages row of type auto_reply,
-- external_id null) and committed before Mirakl M12 is called, which has no
-- idempotency key. send_state says how far it got:
--   stored:  committed, no request made yet (or the last one provably never left);
--   sending: a request may have reached Mirakl; its outcome is unknown until the
--            thread is read back (M10) and a shop message with the same body,
--            dated after send_attempted_at, is adopted or found absent;
--   sent:    Mirakl's message id is in external_id.
-- Messages that sellerops does not send have no send state.
alter table support.messages
    add column send_state text,
    add column send_attempted_at timestamptz,
    add constraint messages_send_state_check
        check (send_state in ('stored', 'sending', 'sent')),
    add constraint messages_send_state_auto_reply_check
        check (send_state is null or message_type = 'auto_reply'),
    add constraint messages_send_state_sent_check
        check (send_state is null or (send_state = 'sent') = (external_id is not null)),
    add constraint messages_send_state_attempted_check
        check (send_state is distinct from 'sending' or send_attempted_at is not null);

-- Replies whose outcome is still open, for a person's query and the sweep of
-- stuck ones.
create index messages_unsent_auto_reply_idx on support.messages (send_state, send_attempted_at)
    where send_state in ('stored', 'sending');

-- One decision per inbound customer message, written once: what the text was
-- read as (seed 003's intent, entities and confidence), whether every guard
-- held, and if not the first guard that stopped it. In shadow mode a decision
-- that replied keeps the reply that would have been sent in reply_body and
-- sends nothing; in on mode the reply is the auto_reply message
-- reply_message_id. A decision that did not reply names its hand-over task.
create table support.reply_decisions (
    id               uuid primary key default gen_random_uuid(),
    message_id       uuid not null,
    conversation_id  uuid not null,
    mode             text not null,
    language         text not null,
    intent           text not null,
    entities         jsonb not null default '{}',
    confidence       numeric(4,3) not null,
    -- Every guard held: answered automatically (in shadow mode: would have been).
    replied          boolean not null,
    guard            text,
    -- One line a person can read: why this intent, and why replied or not.
    reason           text not null,
    reply_body       text,
    reply_message_id uuid,
    task_id          uuid,
    decided_at       timestamptz not null default now(),
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint reply_decisions_message_id_key unique (message_id),
    constraint reply_decisions_message_id_fkey foreign key (message_id)
        references support.messages (id) on delete cascade,
    constraint reply_decisions_conversation_id_fkey foreign key (conversation_id)
        references support.conversations (id) on delete cascade,
    constraint reply_decisions_reply_message_id_fkey foreign key (reply_message_id)
        references support.messages (id) on delete set null,
    constraint reply_decisions_task_id_fkey foreign key (task_id)
        references workflow.tasks (id) on delete set null,
    constraint reply_decisions_mode_check check (mode in ('shadow', 'on')),
    constraint reply_decisions_language_check check (language in ('en', 'fr')),
    constraint reply_decisions_intent_check check (intent in (
        'order_status', 'tracking_request', 'invoice_request', 'cancel_request',
        'return_request', 'address_change', 'product_question', 'other')),
    constraint reply_decisions_entities_check check (jsonb_typeof(entities) = 'object'),
    constraint reply_decisions_confidence_check check (confidence between 0 and 1),
    constraint reply_decisions_guard_check check (guard in (
        'not_routine_intent', 'low_confidence', 'hazard', 'no_template',
        'order_not_identified', 'facts_missing', 'customer_not_last', 'person_replied',
        'cooling_off', 'max_replies_reached')),
    constraint reply_decisions_replied_check check (replied = (guard is null)),
    constraint reply_decisions_reason_check check (btrim(reason) <> ''),
    constraint reply_decisions_reply_body_check
        check (reply_body is null or (replied and mode = 'shadow'))
);

create index reply_decisions_conversation_id_idx
    on support.reply_decisions (conversation_id, decided_at);
create index reply_decisions_guard_idx on support.reply_decisions (guard, decided_at);
create index reply_decisions_task_id_idx on support.reply_decisions (task_id);

-- A customer message a person must answer becomes a task on the board, linked
-- to the order and the conversation, once per message.
alter table workflow.tasks
    add column order_id uuid,
    add column conversation_id uuid,
    add column message_id uuid,
    add constraint tasks_order_id_fkey foreign key (order_id)
        references sales.orders (id) on delete set null,
    add constraint tasks_conversation_id_fkey foreign key (conversation_id)
        references support.conversations (id) on delete set null,
    add constraint tasks_message_id_fkey foreign key (message_id)
        references support.messages (id) on delete set null,
    add constraint tasks_message_id_key unique (message_id),
    drop constraint tasks_task_type_check,
    add constraint tasks_task_type_check check (task_type in (
        'optimization', 'pricing', 'competitive', 'compliance', 'launch', 'other',
        'customer_message'));

create index tasks_order_id_idx on workflow.tasks (order_id);
create index tasks_conversation_id_idx on workflow.tasks (conversation_id);

call ops.install_touch_triggers();
