-- materialized: incremental
-- unique_key: source, channel, contact_id
-- changes: contacts
-- tests: unique(source, channel, contact_id); not_null(source, channel, contact_id, is_handled, is_abandoned, local_date, interval_start); non_negative(queue_seconds, duration_seconds, transfer_count, handle_segments, first_response_seconds); references(agent_id, dim_agents.agent_id)
-- one row per call, chat and email
with transfers as (
    select source, channel, contact_id, cast(count(*) as bigint) as transfer_count
    from contact_center.int_transfers
    group by source, channel, contact_id
),

segments as (
    select source, channel, contact_id, cast(count(*) as bigint) as handle_segments
    from contact_center.int_handle_segments
    group by source, channel, contact_id
)

select
    contacts.source,
    contacts.contact_id,
    contacts.channel,
    contacts.contact_type,
    contacts.status,
    contacts.created_at,
    -- the contact's arrival in the reporting zone: group by these, not by created_at's UTC date
    cast(ccelt_local(contacts.created_at) as date) as local_date,
    ccelt_floor15(ccelt_local(contacts.created_at)) as interval_start,
    contacts.assigned_at,
    contacts.ended_at,
    contacts.updated_at,
    contacts.agent_id,
    contacts.end_user_id,
    contacts.queue_id,
    contacts.queue_name,
    contacts.lang,
    contacts.queue_seconds,
    contacts.duration_seconds,
    contacts.rating,
    contacts.fail_reason,
    coalesce(transfers.transfer_count, 0) as transfer_count,
    coalesce(segments.handle_segments, 0) as handle_segments,
    contacts.first_response_seconds,
    -- handled: an agent worked it (UJET: a handle segment; Chatwoot: an agent replied)
    coalesce(contacts.replied, coalesce(segments.handle_segments, 0) > 0) as is_handled,
    -- abandoned: nobody handled it and the customer gave up waiting in queue; in-menu
    -- abandons, failures, deflections and voicemails are not abandons, emails never are;
    -- a Chatwoot chat or messaging conversation resolved without a reply is one
    case
        when contacts.replied is not null
            then not contacts.replied and contacts.status = 'resolved'
                and contacts.channel in ('chat', 'messaging')
        when coalesce(segments.handle_segments, 0) > 0 then false
        when contacts.channel = 'call' and contacts.fail_reason = 'eu_abandoned' then true
        when contacts.channel = 'chat' and contacts.status = 'canceled' then true
        else false
    end as is_abandoned
from contact_center.int_contacts as contacts
left join transfers
    on transfers.source = contacts.source
    and transfers.channel = contacts.channel
    and transfers.contact_id = contacts.contact_id
left join segments
    on segments.source = contacts.source
    and segments.channel = contacts.channel
    and segments.contact_id = contacts.contact_id
