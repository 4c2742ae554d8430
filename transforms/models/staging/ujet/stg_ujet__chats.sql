-- materialized: view
-- source: ujet.chats
-- feeds: contacts
-- columns: id bigint, chat_type text, status text, created_at timestamptz, assigned_at timestamptz, ends_at timestamptz, updated_at timestamptz, agent_info__id bigint, end_user__id bigint, menu_path__id bigint, menu_path__name text, lang text, queue_duration double, chat_duration double, rating bigint, fail_reason text, _dlt_load_id text
select
    'chat' as channel,
    cast(id as text) as contact_id,
    chat_type as contact_type,
    status,
    created_at,
    assigned_at,
    ends_at as ended_at,
    updated_at,
    cast(agent_info__id as text) as agent_id,
    end_user__id as end_user_id,
    cast(menu_path__id as text) as queue_id,
    menu_path__name as queue_name,
    lang,
    queue_duration as queue_seconds,
    chat_duration as duration_seconds,
    rating,
    fail_reason,
    _dlt_load_id as load_id,
    -- handled and answered are told by handle segments, not by a first reply (see fct_contacts)
    cast(null as double) as first_response_seconds,
    cast(null as boolean) as replied
from ujet.chats
