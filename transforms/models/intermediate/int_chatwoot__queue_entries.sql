-- materialized: view
-- each Chatwoot conversation as one queue entry at its creation, in the shape of the
-- vendors' queue entries (docs/metrics.md, "Across sources"): answered once an agent replied,
-- waiting until the first reply; in SLA when it has a policy, was answered and no
-- first-response miss was recorded, not in SLA with such a miss, excluded otherwise
with first_response_misses as (
    select distinct source, contact_id
    from contact_center.stg_chatwoot__sla_events
    where event_type = 'frt'
)

select
    conversations.source,
    conversations.channel,
    conversations.contact_id,
    cast(conversations.contact_id as text) as entry_row_id,
    case when conversations.replied then conversations.agent_id end as agent_id,
    conversations.first_response_seconds as queue_seconds,
    conversations.queue_id,
    conversations.queue_name,
    conversations.lang,
    case
        when misses.contact_id is not null then 'not_in_sla'
        when sla.sla_policy_id is not null and conversations.replied then 'in_sla'
        else 'excluded'
    end as service_level_event,
    conversations.created_at as started_at,
    conversations.ended_at,
    -- answered by a reply, whether or not the conversation was assigned
    conversations.replied as answered
from contact_center.stg_chatwoot__conversations as conversations
left join contact_center.stg_chatwoot__conversation_sla as sla
    on sla.source = conversations.source and sla.contact_id = conversations.contact_id
left join first_response_misses as misses
    on misses.source = conversations.source and misses.contact_id = conversations.contact_id
