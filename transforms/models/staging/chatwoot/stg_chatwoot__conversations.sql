-- materialized: view
-- source: chatwoot.conversations
-- feeds: contacts, events
-- columns: id bigint, channel text, status text, created_at timestamptz, updated_at timestamptz, last_activity_at timestamptz, first_reply_created_at timestamptz, assignee__id bigint, sender__id bigint, inbox_id bigint, _dlt_load_id text
-- each conversation as a contact (docs/metrics.md, "Across sources"): the inbox is its
-- queue, its kind the channel; a conversation is handled once an agent replied
select
    case
        when channel = 'Channel::Email' then 'email'
        when channel in ('Channel::WebWidget', 'Channel::Api') then 'chat'
        else 'messaging'
    end as channel,
    cast(id as text) as contact_id,
    channel as contact_type,
    status,
    created_at,
    cast(null as timestamptz) as assigned_at,
    case when status = 'resolved' then last_activity_at end as ended_at,
    updated_at,
    cast(assignee__id as text) as agent_id,
    sender__id as end_user_id,
    cast(inbox_id as text) as queue_id,
    cast(null as text) as queue_name,
    cast(null as text) as lang,
    cast(null as double) as queue_seconds,
    cast(null as double) as duration_seconds,
    cast(null as bigint) as rating,
    cast(null as text) as fail_reason,
    _dlt_load_id as load_id,
    ccelt_milliseconds(created_at, first_reply_created_at) / 1000.0 as first_response_seconds,
    first_reply_created_at is not null as replied
from chatwoot.conversations
