-- materialized: view
-- source: ujet.menus_current_status
-- feeds: snapshots
-- columns: snapshot_at timestamptz, menu_path_id bigint, menu_path text, comm_type text, in_queue_count bigint, oldest_in_queue timestamptz, _dlt_load_id text
-- the contacts waiting in each queue (menu path) at each run's snapshot: UJET lists only the
-- queues someone waits in, and says nothing of contacts being worked
select
    snapshot_at,
    lower(comm_type) as channel,
    cast(menu_path_id as text) as queue_id,
    menu_path as queue_name,
    'queued' as state,
    true as waiting,
    in_queue_count as contacts,
    oldest_in_queue as oldest_arrival_at,
    _dlt_load_id as load_id
from ujet.menus_current_status
