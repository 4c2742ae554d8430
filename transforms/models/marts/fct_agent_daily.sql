-- materialized: incremental
-- partition_by: local_date
-- tests: unique(source, agent_id, local_date, channel); not_null(source, agent_id, local_date, channel); non_negative(segments, handled, contacts_handled, duration_seconds, hold_seconds, acw_seconds, bcw_seconds, handle_seconds, transfers_out, transfers_in); assert(handled <= segments); assert(contacts_handled <= handled); references(agent_id, dim_agents.agent_id)
-- one row per agent, local date and channel: handle segments by the date they started,
-- transfers by the date they were created; hold time is already inside a segment's
-- duration on CCAI Platform's timeline, so handle time does not add it again
with segments as (
    select
        source,
        agent_id,
        local_date,
        channel,
        cast(count(*) as bigint) as segments,
        cast(sum(case when duration_seconds > 0 then 1 else 0 end) as bigint) as handled,
        -- a contact the agent took back after a transfer is two handled segments, one contact
        cast(count(distinct case when duration_seconds > 0 then contact_id end) as bigint)
            as contacts_handled,
        cast(sum(duration_seconds) as double) as duration_seconds,
        cast(sum(hold_seconds) as double) as hold_seconds,
        cast(sum(acw_seconds) as double) as acw_seconds,
        cast(sum(bcw_seconds) as double) as bcw_seconds
    from contact_center.int_handle_segments
    where agent_id is not null
    group by source, agent_id, local_date, channel
),

transfers_out as (
    select source, from_agent_id as agent_id, local_date, channel, cast(count(*) as bigint) as transfers_out
    from contact_center.int_transfers
    where from_agent_id is not null
    group by source, from_agent_id, local_date, channel
),

transfers_in as (
    select source, to_agent_id as agent_id, local_date, channel, cast(count(*) as bigint) as transfers_in
    from contact_center.int_transfers
    where to_agent_id is not null
    group by source, to_agent_id, local_date, channel
),

agent_days as (
    select source, agent_id, local_date, channel from segments
    union
    select source, agent_id, local_date, channel from transfers_out
    union
    select source, agent_id, local_date, channel from transfers_in
)

select
    agent_days.source,
    agent_days.agent_id,
    agent_days.local_date,
    agent_days.channel,
    coalesce(segments.segments, 0) as segments,
    coalesce(segments.handled, 0) as handled,
    coalesce(segments.contacts_handled, 0) as contacts_handled,
    coalesce(segments.duration_seconds, 0) as duration_seconds,
    coalesce(segments.hold_seconds, 0) as hold_seconds,
    coalesce(segments.acw_seconds, 0) as acw_seconds,
    coalesce(segments.bcw_seconds, 0) as bcw_seconds,
    coalesce(segments.duration_seconds, 0) + coalesce(segments.acw_seconds, 0)
        + coalesce(segments.bcw_seconds, 0) as handle_seconds,
    case
        when coalesce(segments.handled, 0) > 0
            then (segments.duration_seconds + segments.acw_seconds + segments.bcw_seconds)
                / segments.handled
    end as aht_seconds,
    coalesce(transfers_out.transfers_out, 0) as transfers_out,
    coalesce(transfers_in.transfers_in, 0) as transfers_in
from agent_days
left join segments
    on segments.source = agent_days.source
    and segments.agent_id = agent_days.agent_id
    and segments.local_date = agent_days.local_date
    and segments.channel = agent_days.channel
left join transfers_out
    on transfers_out.source = agent_days.source
    and transfers_out.agent_id = agent_days.agent_id
    and transfers_out.local_date = agent_days.local_date
    and transfers_out.channel = agent_days.channel
left join transfers_in
    on transfers_in.source = agent_days.source
    and transfers_in.agent_id = agent_days.agent_id
    and transfers_in.local_date = agent_days.local_date
    and transfers_in.channel = agent_days.channel
