-- materialized: view
-- source: genesys.sessions
-- columns: occurred_at timestamptz, event text, detail text, spool_seq bigint, _dlt_load_id text
-- each sign-in of the listener: the user whose interactions the notifications that follow
-- are (a Genesys source listens as one user, the "agent" of its contacts)
select
    occurred_at as signed_in_at,
    detail as user_name,
    spool_seq,
    _dlt_load_id as load_id
from genesys.sessions
where event = 'signed in' and detail is not null and detail <> ''
