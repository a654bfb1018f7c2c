-- The helpdesk sync: a ticket arrives by webhook and by poll, in either order and
-- more than once. source_updated_at is the version of the ticket stored (its
-- updated_at, or when a webhook whose template carries none was recorded), so an
-- older copy arriving later only fills gaps; conversations_synced_at is the version
-- up to which its conversations were mirrored into support.messages, so a ticket
-- read again in the poll's overlap is not read twice.
alter table etl.freshdesk_tickets
    add column source_updated_at timestamptz,
    add column conversations_synced_at timestamptz;
