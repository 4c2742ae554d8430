-- materialized: view
-- source: ujet.agent_activity_logs
-- feeds: activity
-- columns: id bigint, agent_id bigint, activity text, status__id bigint, status__name text, started_at timestamptz, ended_at timestamptz, duration double, call_id bigint, chat_id bigint, _dlt_load_id text
select
    id as activity_id,
    cast(agent_id as text) as agent_id,
    activity,
    status__id as status_id,
    status__name as status_name,
    started_at,
    ended_at,
    duration as duration_seconds,
    call_id,
    chat_id,
    _dlt_load_id as load_id
from ujet.agent_activity_logs
