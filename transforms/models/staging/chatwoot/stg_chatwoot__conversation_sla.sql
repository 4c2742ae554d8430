-- materialized: view
-- source: chatwoot.conversations
-- columns: id bigint, channel text, sla_policy_id bigint
-- each conversation's SLA policy, for its service-level event (int_chatwoot__queue_entries)
select
    cast(id as text) as contact_id,
    case
        when channel = 'Channel::Email' then 'email'
        when channel in ('Channel::WebWidget', 'Channel::Api') then 'chat'
        else 'messaging'
    end as channel,
    sla_policy_id
from chatwoot.conversations
