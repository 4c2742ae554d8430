-- materialized: view
-- source: genesys.interaction_snapshots
-- feeds: snapshots
-- columns: listed_at timestamptz, interaction_id text, state text, interaction_sub_type text, current_queue text, received_at timestamptz, _dlt_load_id text
-- every interaction in each list of the user's current interactions (at the start of a
-- listen, after every reconnect, at the end): the user's e-mail backlog at those moments
select
    listed_at as snapshot_at,
    interaction_id,
    state,
    interaction_sub_type,
    current_queue as queue_name,
    received_at,
    _dlt_load_id as load_id
from genesys.interaction_snapshots
