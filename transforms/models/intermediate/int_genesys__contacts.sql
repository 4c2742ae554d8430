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
        row_number() over (partition by source, contact_id order by spool_seq desc) as nth_last,
        -- 1 on the first notification that named a queue
        row_number() over (
            partition by source, contact_id
            order by case when current_queue is null then 1 else 0 end, spool_seq
        ) as queue_rank
    from contact_center.stg_genesys__interaction_events
    where interaction_id = contact_id
),

-- one row per e-mail from its own notifications: the first and last, and the first of
-- each state that matters
timeline as (
    select
        source,
        channel,
        contact_id,
        max(case when nth = 1 then interaction_sub_type end) as contact_type,
        max(case when nth_last = 1 then state end) as status,
        max(case when nth = 1 then coalesce(received_at, observed_at) end) as created_at,
        min(case when state = 'Processing' then observed_at end) as assigned_at,
        min(case when state = 'Processing' then spool_seq end) as accepted_seq,
        min(case when state = 'Completed' then observed_at end) as ended_at,
        max(observed_at) as updated_at,
        max(case when queue_rank = 1 then current_queue end) as queue_id
    from own
    group by source, channel, contact_id
),

-- over every notification filed under the e-mail, its replies' included
filed as (
    select
        source,
        contact_id,
        min(case when interaction_id <> contact_id then received_at end) as first_reply_at,
        max(load_id) as load_id
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
        timeline.*,
        acceptors.user_name as agent_id,
        filed.first_reply_at,
        filed.load_id
    from timeline
    inner join filed
        on filed.source = timeline.source and filed.contact_id = timeline.contact_id
    left join acceptors
        on acceptors.source = timeline.source and acceptors.contact_id = timeline.contact_id
        and acceptors.newest = 1
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
