-- materialized: view
-- tests: unique(source, agent_id, local_date, status_id); not_null(source, agent_id, local_date, status_id); non_negative(seconds, intervals); references(agent_id, dim_agents.agent_id)
-- one row per agent, local date and status: closed status intervals split at local
-- midnights; open intervals wait until they close
select
    daily.source,
    daily.agent_id,
    daily.local_date,
    daily.status_id,
    names.status_name,
    cast(daily.milliseconds as double) / 1000 as seconds,
    daily.intervals
from contact_center.int_agent_status_daily as daily
left join contact_center.int_status_names as names
    on names.source = daily.source and names.status_id = daily.status_id
