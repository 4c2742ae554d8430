-- materialized: view
-- source: chatwoot.conversation_snapshots
-- feeds: snapshots, events
-- columns: snapshot_at timestamptz, conversation_id bigint, status text, inbox_id bigint, channel text, assignee_id bigint, created_at timestamptz, _dlt_load_id text
-- every unresolved conversation (open, pending, snoozed) as each run left it: the inbox is
-- the queue, as in stg_chatwoot__conversations
select
    snapshot_at,
    case
        when channel = 'Channel::Email' then 'email'
        when channel in ('Channel::WebWidget', 'Channel::Api') then 'chat'
        else 'messaging'
    end as channel,
    cast(conversation_id as text) as contact_id,
    status,
    cast(inbox_id as text) as queue_id,
    assignee_id,
    created_at,
    _dlt_load_id as load_id
from chatwoot.conversation_snapshots
