-- materialized: view
-- every vendor's snapshots in one shape: per source, snapshot time, channel, queue and state,
-- how many contacts, whether that state waits for an agent, and the oldest one's arrival
-- (docs/metrics.md, "fct_queue_backlog")
select
    source, snapshot_at, channel, queue_id, queue_name, state, waiting, contacts,
    oldest_arrival_at, load_id
from contact_center.stg_ujet__menus_current_status
union all
select
    source, snapshot_at, 'email' as channel, queue_id, cast(null as text) as queue_name, state,
    not worked as waiting, cast(1 as bigint) as contacts,
    coalesce(queued_time, received_time) as oldest_arrival_at, load_id
from contact_center.stg_alvaria__email_snapshots
union all
select
    source, snapshot_at, channel, queue_id, cast(null as text) as queue_name, status as state,
    -- nobody has it yet; an assigned conversation, or one an agent snoozed, is being worked
    assignee_id is null and status <> 'snoozed' as waiting, cast(1 as bigint) as contacts,
    created_at as oldest_arrival_at, load_id
from contact_center.stg_chatwoot__conversation_snapshots
union all
select
    source, snapshot_at, 'email' as channel, queue_name as queue_id, queue_name, state,
    -- an invitation waits for the user to accept it; every other listed state is being worked
    state = 'Invited' as waiting, cast(1 as bigint) as contacts,
    received_at as oldest_arrival_at, load_id
from contact_center.stg_genesys__interaction_snapshots
