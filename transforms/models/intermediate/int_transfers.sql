-- materialized: incremental
-- unique_key: source, channel, contact_id
-- changes: contacts
-- tests: unique(source, channel, contact_id, transfer_key); not_null(local_date)
-- one row per transfer, counted once by its id within its contact, dated by the local
-- date it was created
with transfers as (
    select * from contact_center.stg_ujet__call_transfers
    union all
    select * from contact_center.stg_ujet__chat_transfers
    union all
    select * from contact_center.stg_ujet__email_transfers
)

select
    source,
    channel,
    contact_id,
    transfer_key,
    min(created_at) as created_at,
    cast(ccelt_local(min(created_at)) as date) as local_date,
    min(from_agent_id) as from_agent_id,
    min(to_agent_id) as to_agent_id
from transfers
group by source, channel, contact_id, transfer_key
