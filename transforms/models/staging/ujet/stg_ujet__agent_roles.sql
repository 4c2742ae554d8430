-- materialized: view
-- source: ujet.agents__roles
-- columns: agent_id bigint, value text
select
    agent_id,
    value as role
from ujet.agents__roles
