-- materialized: view
-- source: chatwoot.conversations__sla_events
-- columns: conversation_id bigint, event_type text, created_at timestamptz
-- the SLA misses of conversations: frt (first response), nrt (next response), rt (resolution)
select
    cast(conversation_id as text) as contact_id,
    event_type,
    created_at
from chatwoot.conversations__sla_events
