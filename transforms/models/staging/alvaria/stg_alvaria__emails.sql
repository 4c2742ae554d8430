-- materialized: view
-- source: alvaria.emails
-- feeds: contacts
-- columns: id text, email_type text, state text, received_time timestamptz, start_time timestamptz, queued_time timestamptz, last_modified_time timestamptz, work_handler_id text, work_type_id text, work_type_name text, is_active bool, left_queue_at timestamptz, _dlt_load_id text
-- each e-mail the queue ever showed, as last seen; its journey through the snapshots is in
-- stg_alvaria__email_snapshots (docs/metrics.md, "Across sources")
select
    'email' as channel,
    cast(id as text) as contact_id,
    email_type as contact_type,
    -- the state it was last seen in while in the queue; completed once it left
    case when is_active then state else 'completed' end as status,
    state as last_state,
    coalesce(received_time, start_time) as created_at,
    queued_time,
    left_queue_at as ended_at,
    last_modified_time as updated_at,
    work_handler_id as agent_id,
    cast(work_type_id as text) as queue_id,
    work_type_name as queue_name,
    _dlt_load_id as load_id
from alvaria.emails
