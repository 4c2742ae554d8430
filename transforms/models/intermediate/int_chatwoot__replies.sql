-- materialized: incremental
-- unique_key: source, channel, contact_id
-- changes: contacts
-- tests: not_null(source, channel, contact_id, agent_id, local_date, messages)
-- per Chatwoot conversation, agent and local date: the public replies the agent sent there
-- (docs/metrics.md, "Chatwoot in the same facts"); the agent days count these conversations
select
    conversations.source,
    conversations.channel,
    conversations.contact_id,
    messages.agent_id,
    cast(ccelt_local(messages.created_at) as date) as local_date,
    cast(count(*) as bigint) as messages
from contact_center.stg_chatwoot__messages as messages
join contact_center.stg_chatwoot__conversations as conversations
    on conversations.source = messages.source and conversations.contact_id = messages.contact_id
where messages.public_reply and messages.agent_id is not null
group by conversations.source, conversations.channel, conversations.contact_id,
    messages.agent_id, cast(ccelt_local(messages.created_at) as date)
