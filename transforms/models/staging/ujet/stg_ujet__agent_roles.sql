-- materialized: view
-- source: ujet.agents__roles
-- columns: agent_id bigint, value text
select
    cast(agent_id as text) as agent_id,
    value as role
from ujet.agents__roles
