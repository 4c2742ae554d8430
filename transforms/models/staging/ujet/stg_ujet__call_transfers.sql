-- materialized: view
-- source: ujet.calls__transfers
-- columns: id bigint, call_id bigint, status text, created_at timestamptz, from_agent__id bigint, to_agent__id bigint, _dlt_id text
select
    'call' as channel,
    cast(call_id as text) as contact_id,
    -- a transfer counts once by its id within its contact; rows without an id count alone
    coalesce(cast(id as text), _dlt_id) as transfer_key,
    status,
    created_at,
    cast(from_agent__id as text) as from_agent_id,
    cast(to_agent__id as text) as to_agent_id
from ujet.calls__transfers
