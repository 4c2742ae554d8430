-- materialized: view
-- source: genesys.interaction_events
-- feeds: events, contacts
-- columns: message_id text, interaction_id text, parent_interaction_id text, state text, interaction_sub_type text, current_queue text, received_at timestamptz, observed_at timestamptz, spool_seq bigint, _dlt_load_id text
-- every notification received about an e-mail interaction; a reply is an interaction of its
-- own whose parent is the e-mail it answers, so it is filed under that e-mail
select
    'email' as channel,
    coalesce(parent_interaction_id, interaction_id) as contact_id,
    interaction_id,
    message_id,
    state,
    interaction_sub_type,
    current_queue,
    received_at,
    observed_at,
    spool_seq,
    _dlt_load_id as load_id
from genesys.interaction_events
where interaction_id is not null
