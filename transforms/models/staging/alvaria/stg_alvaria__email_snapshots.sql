-- materialized: view
-- source: alvaria.email_snapshots
-- feeds: snapshots
-- columns: snapshot_at timestamptz, id text, state text, work_handler_id text, work_type_id text, received_time timestamptz, queued_time timestamptz, active_time timestamptz, _dlt_load_id text
-- every e-mail in every snapshot: what an agent was doing with it at that moment
select
    cast(id as text) as contact_id,
    snapshot_at,
    state,
    work_handler_id as agent_id,
    cast(work_type_id as text) as queue_id,
    received_time,
    queued_time,
    active_time,
    -- a state in which an agent works the e-mail (the EmailQueue states "with Agent")
    state in ('Active', 'Wrap', 'DraftActive', 'TransferredActive', 'ReviewActive',
              'ReassignedActive') as worked,
    _dlt_load_id as load_id
from alvaria.email_snapshots
