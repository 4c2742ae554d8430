-- materialized: view
-- source: ujet.emails
-- feeds: contacts
-- columns: id bigint, email_status text, created_at timestamptz, assigned_at timestamptz, finished_at timestamptz, updated_at timestamptz, agent_info__id bigint, end_user__id bigint, menu_path__id bigint, menu_path__name text, lang text, queue_duration double, email_duration double, _dlt_load_id text
-- emails have no type, rating or fail reason in the API: typed nulls keep the union simple
select
    'email' as channel,
    cast(id as text) as contact_id,
    cast(null as text) as contact_type,
    email_status as status,
    created_at,
    assigned_at,
    finished_at as ended_at,
    updated_at,
    cast(agent_info__id as text) as agent_id,
    end_user__id as end_user_id,
    cast(menu_path__id as text) as queue_id,
    menu_path__name as queue_name,
    lang,
    queue_duration as queue_seconds,
    email_duration as duration_seconds,
    cast(null as bigint) as rating,
    cast(null as text) as fail_reason,
    _dlt_load_id as load_id,
    -- handled and answered are told by handle segments, not by a first reply (see fct_contacts)
    cast(null as double) as first_response_seconds,
    cast(null as boolean) as replied
from ujet.emails
