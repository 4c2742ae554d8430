-- materialized: view
-- source: ujet.agents__teams
-- columns: agent_id bigint, id bigint, name text
select
    cast(agent_id as text) as agent_id,
    id as team_id,
    name as team_name
from ujet.agents__teams
