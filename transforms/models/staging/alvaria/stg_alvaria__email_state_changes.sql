-- materialized: view
-- source: alvaria.email_state_changes
-- feeds: events
-- columns: id text, observed_at timestamptz, from_state text, to_state text, to_handler text, to_work_type_id text, event_sequence_number bigint, _dlt_load_id text
-- each change of an e-mail's state observed between two snapshots, arrivals (no state
-- before) and departures (no state after) included
select
    'email' as channel,
    cast(id as text) as contact_id,
    observed_at,
    from_state,
    to_state,
    to_handler as agent_id,
    event_sequence_number,
    _dlt_load_id as load_id
from alvaria.email_state_changes
