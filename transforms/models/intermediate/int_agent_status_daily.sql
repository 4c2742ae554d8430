-- materialized: incremental
-- partition_by: local_date
-- time per agent, local date and status; fct_agent_status_daily adds the status name
select
    source,
    agent_id,
    local_date,
    status_id,
    cast(sum(milliseconds) as bigint) as milliseconds,
    cast(count(*) as bigint) as intervals
from contact_center.int_status_pieces
group by source, agent_id, local_date, status_id
