-- materialized: view
-- source: ujet.chats__queue_durations
-- columns: chat_id bigint, agent_id bigint, queue_duration double, menu_path_id bigint, menu_path text, lang text, service_level_event text, started_at timestamptz, ended_at timestamptz, _dlt_id text
select
    'chat' as channel,
    cast(chat_id as text) as contact_id,
    _dlt_id as entry_row_id,
    cast(agent_id as text) as agent_id,
    queue_duration as queue_seconds,
    cast(menu_path_id as text) as queue_id,
    menu_path as queue_name,
    lang,
    service_level_event,
    started_at,
    ended_at,
    -- an agent took the contact from this queue entry
    agent_id is not null as answered
from ujet.chats__queue_durations
