-- materialized: view
-- each Alvaria e-mail as one queue entry at its first queued time, in the shape of the vendors'
-- queue entries (docs/metrics.md, "Across sources"): answered once an agent worked it; no
-- SLA data, so every entry is excluded from the service level
select
    contacts.source,
    contacts.channel,
    contacts.contact_id,
    cast(contacts.contact_id as text) as entry_row_id,
    case when contacts.replied then contacts.agent_id end as agent_id,
    contacts.queue_seconds,
    contacts.queue_id,
    contacts.queue_name,
    contacts.lang,
    'excluded' as service_level_event,
    coalesce(journeys.first_queued_at, contacts.created_at) as started_at,
    contacts.ended_at,
    contacts.replied as answered
from contact_center.int_alvaria__contacts as contacts
left join contact_center.int_alvaria__journeys as journeys
    on journeys.source = contacts.source and journeys.contact_id = contacts.contact_id
