-- materialized: incremental
-- unique_key: source, channel, contact_id
-- changes: contacts
-- tests: not_null(source, channel, contact_id, entry_row_id, interval_start)
-- one row per queue entry of any contact, placed in its local 15-minute interval
with entries as (
    select * from contact_center.stg_ujet__call_queue_durations
    union all
    select * from contact_center.stg_ujet__chat_queue_durations
    union all
    select * from contact_center.stg_ujet__email_queue_durations
    union all
    select * from contact_center.int_chatwoot__queue_entries
    union all
    select * from contact_center.int_alvaria__queue_entries
    union all
    select * from contact_center.int_genesys__queue_entries
)

select
    entries.source,
    entries.channel,
    entries.contact_id,
    entries.entry_row_id,
    entries.agent_id,
    entries.queue_id,
    entries.queue_name,
    entries.lang,
    entries.queue_seconds,
    entries.service_level_event,
    entries.started_at,
    entries.answered,
    ccelt_floor15(ccelt_local(entries.started_at)) as interval_start,
    contacts.load_id
from entries
inner join contact_center.int_contacts as contacts
    on contacts.source = entries.source
    and contacts.channel = entries.channel
    and contacts.contact_id = entries.contact_id
