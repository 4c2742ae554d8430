-- materialized: view
-- source: chatwoot.conversations
-- columns: id bigint, sla_policy_id bigint
-- each conversation's SLA policy, for its service-level event (int_chatwoot__queue_entries)
select
    cast(id as text) as contact_id,
    sla_policy_id
from chatwoot.conversations
