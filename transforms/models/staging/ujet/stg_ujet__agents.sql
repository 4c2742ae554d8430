-- materialized: view
-- source: ujet.agents
-- columns: id bigint, first_name text, last_name text, email text, agent_number text, location text, created_at timestamptz, last_login_time timestamptz, status__name text, online boolean
select
    cast(id as text) as agent_id,
    first_name,
    last_name,
    email,
    agent_number,
    location,
    created_at,
    last_login_time,
    status__name as status_name,
    online
from ujet.agents
