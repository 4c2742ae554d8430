-- materialized: view
-- each Genesys e-mail interaction as a contact, in the contact shape of int_contacts
-- (docs/metrics.md, "Across sources"): its arrival is the vendor's receivedAt, accepted and
-- completed are the first notifications of those states, its first response the first reply
-- (a new interaction whose parent it is) by the reply's own receivedAt. Handled once the
-- user accepted it (carried in `replied`, which the contact facts read as "an agent handled
-- it" for the vendors without segments), credited to the user signed in at that moment
with own as (
    select
        source, channel, contact_id, state, interaction_sub_type, current_queue, received_at,
        observed_at, spool_seq,
        row_number() over (partition by source, contact_id order by spool_seq) as nth,
        row_number() over (partition by source, contact_id order by spool_seq desc) as nth_last
    from contact_center.stg_genesys__interaction_events
    where interaction_id = contact_id
),

queues as (
    select
        source, contact_id, current_queue,
        row_number() over (partition by source, contact_id order by spool_seq) as nth
    from own
    where current_queue is not null
),

timeline as (
    select
        source,
        contact_id,
        min(case when state = 'Processing' then observed_at end) as accepted_at,
        min(case when state = 'Processing' then spool_seq end) as accepted_seq,
        min(case when state = 'Completed' then observed_at end) as completed_at,
        max(observed_at) as last_event_at
    from own
    group by source, contact_id
),

replies as (
    select source, contact_id, min(received_at) as first_reply_at
    from contact_center.stg_genesys__interaction_events
    where interaction_id <> contact_id
    group by source, contact_id
),

loads as (
    select source, contact_id, max(load_id) as load_id
    from contact_center.stg_genesys__interaction_events
    group by source, contact_id
),

acceptors as (
    select
        timeline.source,
        timeline.contact_id,
        sign_ins.user_name,
        row_number() over (
            partition by timeline.source, timeline.contact_id order by sign_ins.spool_seq desc
        ) as newest
    from timeline
    inner join contact_center.stg_genesys__sign_ins as sign_ins
        on sign_ins.source = timeline.source and sign_ins.spool_seq < timeline.accepted_seq
),

contacts as (
    select
        first_event.source,
        first_event.channel,
        first_event.contact_id,
        first_event.interaction_sub_type as contact_type,
        last_event.state as status,
        coalesce(first_event.received_at, first_event.observed_at) as created_at,
        timeline.accepted_at as assigned_at,
        timeline.completed_at as ended_at,
        timeline.last_event_at as updated_at,
        acceptors.user_name as agent_id,
        queues.current_queue as queue_id,
        replies.first_reply_at,
        loads.load_id
    from own as first_event
    inner join own as last_event
        on last_event.source = first_event.source and last_event.contact_id = first_event.contact_id
        and last_event.nth_last = 1
    inner join timeline
        on timeline.source = first_event.source and timeline.contact_id = first_event.contact_id
    inner join loads
        on loads.source = first_event.source and loads.contact_id = first_event.contact_id
    left join queues
        on queues.source = first_event.source and queues.contact_id = first_event.contact_id
        and queues.nth = 1
    left join replies
        on replies.source = first_event.source and replies.contact_id = first_event.contact_id
    left join acceptors
        on acceptors.source = first_event.source and acceptors.contact_id = first_event.contact_id
        and acceptors.newest = 1
    where first_event.nth = 1
)

select
    source,
    channel,
    contact_id,
    contact_type,
    status,
    created_at,
    assigned_at,
    ended_at,
    updated_at,
    agent_id,
    cast(null as bigint) as end_user_id,
    queue_id,
    -- Genesys names its queues: the name is the id
    queue_id as queue_name,
    cast(null as text) as lang,
    -- the vendor's arrival to ccelt's receipt of the acceptance: two clocks, so a skew that
    -- would make it negative leaves it unknown rather than wrong
    case
        when assigned_at >= created_at then ccelt_milliseconds(created_at, assigned_at) / 1000.0
    end as queue_seconds,
    cast(null as double) as duration_seconds,
    cast(null as bigint) as rating,
    cast(null as text) as fail_reason,
    load_id,
    case
        when first_reply_at >= created_at
            then ccelt_milliseconds(created_at, first_reply_at) / 1000.0
    end as first_response_seconds,
    assigned_at is not null as replied
from contacts
