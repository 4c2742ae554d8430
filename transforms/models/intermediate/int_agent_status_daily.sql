-- materialized: incremental
-- partition_by: local_date
-- seconds per agent, local date and status; fct_agent_status_daily adds the status name
select
    agent_id,
    local_date,
    status_id,
    cast(sum(seconds) as double) as seconds,
    cast(count(*) as bigint) as intervals
from contact_center.int_status_pieces
group by agent_id, local_date, status_id
