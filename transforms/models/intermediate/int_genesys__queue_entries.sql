-- materialized: view
-- each Genesys e-mail as one queue entry at its arrival, in the shape of the vendors' queue
-- entries (docs/metrics.md, "Across sources"): answered once the user accepted it; no SLA
-- data, so every entry is excluded from the service level
select
    source,
    channel,
    contact_id,
    contact_id as entry_row_id,
    case when replied then agent_id end as agent_id,
    queue_seconds,
    queue_id,
    queue_name,
    lang,
    'excluded' as service_level_event,
    created_at as started_at,
    ended_at,
    replied as answered
from contact_center.int_genesys__contacts
