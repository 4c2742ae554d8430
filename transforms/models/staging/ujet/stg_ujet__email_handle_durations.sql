-- materialized: view
-- source: ujet.emails__handle_durations
-- columns: email_id bigint, agent_id bigint, email_duration double, hold_duration double, acw_duration double, bcw_duration double, menu_path_id bigint, menu_path text, lang text, started_at timestamptz, ended_at timestamptz, _dlt_id text
select
    'email' as channel,
    cast(email_id as text) as contact_id,
    _dlt_id as segment_row_id,
    cast(agent_id as text) as agent_id,
    email_duration as duration_seconds,
    hold_duration as hold_seconds,
    acw_duration as acw_seconds,
    bcw_duration as bcw_seconds,
    cast(menu_path_id as text) as queue_id,
    menu_path as queue_name,
    lang,
    started_at,
    ended_at
from ujet.emails__handle_durations
