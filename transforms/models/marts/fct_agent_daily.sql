-- materialized: incremental
-- partition_by: local_date
-- tests: unique(source, agent_id, local_date, channel); not_null(source, agent_id, local_date, channel); non_negative(segments, handled, contacts_handled, messages_sent, duration_seconds, hold_seconds, acw_seconds, bcw_seconds, handle_seconds, transfers_out, transfers_in); assert(handled <= segments); assert(contacts_handled <= handled); references(agent_id, dim_agents.agent_id)
-- one row per agent, local date and channel: handle segments by the date they started,
-- transfers by the date they were created, contacts completed where a vendor records no
-- segments (Alvaria) by the date they left the queue, conversations replied in (Chatwoot) by
-- the date of the replies; hold time is already inside a segment's
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

-- vendors without segments (Alvaria): each completed contact is one piece of handled work,
-- and durations and transfers are unknown, so they stay null on those rows
completions as (
    select source, agent_id, local_date, channel, cast(count(*) as bigint) as completed
    from contact_center.int_completions
    group by source, agent_id, local_date, channel
),

-- Chatwoot: the conversations an agent publicly replied in that day, and those replies
replies as (
    select source, agent_id, local_date, channel,
           cast(count(distinct contact_id) as bigint) as conversations,
           cast(sum(messages) as bigint) as messages
    from contact_center.int_chatwoot__replies
    group by source, agent_id, local_date, channel
),

agent_days as (
    select source, agent_id, local_date, channel from segments
    union
    select source, agent_id, local_date, channel from completions
    union
    select source, agent_id, local_date, channel from replies
    union
    select source, agent_id, local_date, channel from transfers_out
    union
    select source, agent_id, local_date, channel from transfers_in
),

-- every piece above has one row per agent day, so each joins on the whole key
joined as (
    select
        agent_days.source,
        agent_days.agent_id,
        agent_days.local_date,
        agent_days.channel,
        segments.segments,
        segments.handled,
        segments.contacts_handled,
        segments.duration_seconds,
        segments.hold_seconds,
        segments.acw_seconds,
        segments.bcw_seconds,
        coalesce(completions.completed, 0) + coalesce(replies.conversations, 0) as completed,
        replies.messages as messages_sent,
        -- a row of a vendor that records durations and transfers (not Alvaria's or Chatwoot's)
        segments.segments is not null
            or (completions.completed is null and replies.conversations is null) as timed,
        transfers_out.transfers_out,
        transfers_in.transfers_in
    from agent_days
    left join segments using (source, agent_id, local_date, channel)
    left join completions using (source, agent_id, local_date, channel)
    left join replies using (source, agent_id, local_date, channel)
    left join transfers_out using (source, agent_id, local_date, channel)
    left join transfers_in using (source, agent_id, local_date, channel)
)

select
    source,
    agent_id,
    local_date,
    channel,
    coalesce(segments, 0) + completed as segments,
    coalesce(handled, 0) + completed as handled,
    coalesce(contacts_handled, 0) + completed as contacts_handled,
    case when timed then coalesce(duration_seconds, 0) end as duration_seconds,
    case when timed then coalesce(hold_seconds, 0) end as hold_seconds,
    case when timed then coalesce(acw_seconds, 0) end as acw_seconds,
    case when timed then coalesce(bcw_seconds, 0) end as bcw_seconds,
    case
        when timed
            then coalesce(duration_seconds, 0) + coalesce(acw_seconds, 0) + coalesce(bcw_seconds, 0)
    end as handle_seconds,
    case
        when coalesce(handled, 0) > 0
            then (duration_seconds + acw_seconds + bcw_seconds) / handled
    end as aht_seconds,
    case when timed then coalesce(transfers_out, 0) end as transfers_out,
    case when timed then coalesce(transfers_in, 0) end as transfers_in,
    messages_sent
from joined
