-- Marketplace recording (marketplace-webhook, sync-marketplace): outside
-- documents are kept as received, less any e-mail address.
--
-- The replacement works on the document's JSON text, so numbers keep their
-- exact digits (Mirakl sends money as JSON numbers). An address can only sit
-- inside a JSON string, and the pattern matches no quote or backslash, so the
-- result is still valid JSON. The look-behind keeps an escape such as \n
-- before an address intact: only the address after it is replaced.
create function ops.redact_email_addresses(content text) returns text
language sql immutable parallel safe
return regexp_replace(
    content,
    '(?<![\\])[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}',
    '[email redacted]',
    'gi');
