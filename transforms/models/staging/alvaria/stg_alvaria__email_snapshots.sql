-- materialized: view
-- source: alvaria.email_snapshots
-- columns: snapshot_at timestamptz, id text, state text, work_handler_id text, queued_time timestamptz, active_time timestamptz
-- every e-mail in every snapshot: what an agent was doing with it at that moment
select
    cast(id as bigint) as contact_id,
    snapshot_at,
    state,
    work_handler_id as agent_id,
    queued_time,
    active_time,
    -- a state in which an agent works the e-mail (the EmailQueue states "with Agent")
    state in ('Active', 'Wrap', 'DraftActive', 'TransferredActive', 'ReviewActive',
              'ReassignedActive') as worked
from alvaria.email_snapshots
