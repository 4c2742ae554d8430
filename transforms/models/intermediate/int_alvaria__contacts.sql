-- materialized: view
-- each Alvaria e-mail in the contact shape of int_contacts (docs/metrics.md, "Across
-- sources"): assigned when it was first seen active with an agent, its wait from queued to
-- that moment (unknown when the e-mail was re-queued before any snapshot saw its first
-- queuing), handled once any snapshot saw an agent work it (carried in `replied`, which
-- the contact facts read as "an agent handled it" for the vendors without segments)
select
    emails.source,
    emails.channel,
    emails.contact_id,
    emails.contact_type,
    emails.status,
    emails.created_at,
    journeys.first_active_at as assigned_at,
    emails.ended_at,
    emails.updated_at,
    emails.agent_id,
    cast(null as bigint) as end_user_id,
    emails.queue_id,
    emails.queue_name,
    cast(null as text) as lang,
    case
        when journeys.first_active_at >= journeys.first_queued_at
            then ccelt_milliseconds(journeys.first_queued_at, journeys.first_active_at) / 1000.0
    end as queue_seconds,
    cast(null as double) as duration_seconds,
    cast(null as bigint) as rating,
    cast(null as text) as fail_reason,
    emails.load_id,
    cast(null as double) as first_response_seconds,
    coalesce(journeys.worked, false) as replied
from contact_center.stg_alvaria__emails as emails
left join contact_center.int_alvaria__journeys as journeys
    on journeys.source = emails.source and journeys.contact_id = emails.contact_id
