-- materialized: view
-- source: ujet.calls__handle_durations
-- columns: call_id bigint, agent_id bigint, call_duration double, hold_duration double, acw_duration double, bcw_duration double, menu_path_id bigint, menu_path text, lang text, started_at timestamptz, ended_at timestamptz, _dlt_id text
select
    'call' as channel,
    cast(call_id as text) as contact_id,
    _dlt_id as segment_row_id,
    cast(agent_id as text) as agent_id,
    call_duration as duration_seconds,
    hold_duration as hold_seconds,
    acw_duration as acw_seconds,
    bcw_duration as bcw_seconds,
    cast(menu_path_id as text) as queue_id,
    menu_path as queue_name,
    lang,
    started_at,
    ended_at
from ujet.calls__handle_durations
