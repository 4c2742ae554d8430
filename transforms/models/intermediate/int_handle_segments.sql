-- materialized: incremental
-- unique_key: source, channel, contact_id
-- changes: contacts
-- tests: not_null(source, channel, contact_id, segment_row_id, local_date); non_negative(duration_seconds, hold_seconds, acw_seconds, bcw_seconds)
-- one row per agent segment of any contact, dated by the local date it started;
-- a missing hold, wrap-up or before-call duration counts as 0
with segments as (
    select * from contact_center.stg_ujet__call_handle_durations
    union all
    select * from contact_center.stg_ujet__chat_handle_durations
    union all
    select * from contact_center.stg_ujet__email_handle_durations
)

select
    segments.source,
    segments.channel,
    segments.contact_id,
    segments.segment_row_id,
    segments.agent_id,
    coalesce(segments.duration_seconds, 0) as duration_seconds,
    coalesce(segments.hold_seconds, 0) as hold_seconds,
    coalesce(segments.acw_seconds, 0) as acw_seconds,
    coalesce(segments.bcw_seconds, 0) as bcw_seconds,
    segments.queue_id,
    segments.queue_name,
    segments.started_at,
    cast(ccelt_local(segments.started_at) as date) as local_date,
    contacts.load_id
from segments
inner join contact_center.int_contacts as contacts
    on contacts.source = segments.source
    and contacts.channel = segments.channel
    and contacts.contact_id = segments.contact_id
