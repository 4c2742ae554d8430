-- materialized: incremental
-- unique_key: source, channel, contact_id
-- changes: events
-- tests: unique(source, channel, contact_id, event_number); not_null(source, channel, contact_id, event_at, event, event_number)
-- one row per observed lifecycle event of a contact (Alvaria state changes, Genesys
-- notifications, Chatwoot's conversation times and snapshot transitions), numbered by time,
-- then the order the vendor's own sequence gives
select
    source,
    channel,
    contact_id,
    cast(row_number() over (partition by source, channel, contact_id
                            order by event_at, seq) as bigint) as event_number,
    event_at,
    event,
    vendor_state,
    agent_id
from contact_center.int_contact_events
