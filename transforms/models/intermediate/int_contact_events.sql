-- materialized: view
-- the lifecycle events of contacts whose vendors report events rather than durations, in
-- one vocabulary (docs/metrics.md, "fct_contact_events"): a vendor state with no word in it
-- (Alvaria's Wrap and Review, Genesys' Revoked, Chatwoot's snoozing) is left out, and a
-- state notified again (Genesys re-notifies on every userData change) is one event
with alvaria as (
    select
        source, channel, contact_id, observed_at as event_at, event_sequence_number as seq,
        coalesce(to_state, 'left the queue') as vendor_state, agent_id,
        case
            when from_state is null then 'arrived'
            when to_state is null then 'completed'
            when to_state in ('Queued', 'Queued2') then 'queued'
            when to_state = 'Active' then 'accepted'
            when to_state in ('Draft', 'DraftActive') then 'replied'
            when to_state in ('Transferred', 'TransferredActive', 'Reassigned', 'ReassignedActive',
                              'ReassignedDraft') then 'transferred'
        end as event
    from contact_center.stg_alvaria__email_state_changes
),

genesys_runs as (
    select
        *,
        lag(state) over (partition by source, interaction_id order by spool_seq) as previous_state
    from contact_center.stg_genesys__interaction_events
),

genesys as (
    select
        source, channel, contact_id, observed_at as event_at, spool_seq as seq,
        state as vendor_state, cast(null as text) as agent_id,
        case
            when state = 'Invited' then 'offered'
            when state = 'Processing' then 'accepted'
            when state = 'ReplyCreated' then 'replied'
            when state = 'Transferred' then 'transferred'
            when state = 'PlacedInQueue' then 'queued'
            when state = 'Completed' then 'completed'
        end as event
    from genesys_runs
    where previous_state is null or previous_state <> state
),

-- Chatwoot: the conversation's own times (created, each public agent reply, resolved), and
-- what consecutive run snapshots show changed (handed from the bot to the agents, assigned,
-- reassigned), at the snapshot that saw it. `seq` orders events of one moment: the sighting
-- first, the replies by message id, the resolution last
chatwoot_snapshots as (
    select
        source, channel, contact_id, snapshot_at, status, assignee_id,
        lag(status) over (partition by source, contact_id order by snapshot_at)
            as previous_status,
        lag(assignee_id) over (partition by source, contact_id order by snapshot_at)
            as previous_assignee
    from contact_center.stg_chatwoot__conversation_snapshots
),

chatwoot as (
    select
        source, channel, contact_id, created_at as event_at, cast(-4 as bigint) as seq,
        'created' as vendor_state, cast(null as text) as agent_id, 'arrived' as event
    from contact_center.stg_chatwoot__conversations
    union all
    select
        conversations.source, conversations.channel, conversations.contact_id,
        messages.created_at as event_at, messages.message_id as seq,
        'outgoing message' as vendor_state, messages.agent_id, 'replied' as event
    from contact_center.stg_chatwoot__messages as messages
    inner join contact_center.stg_chatwoot__conversations as conversations
        on conversations.source = messages.source and conversations.contact_id = messages.contact_id
    where messages.public_reply
    union all
    select
        source, channel, contact_id, snapshot_at as event_at,
        cast(case when assignee_id is null then -3 else -2 end as bigint) as seq,
        status as vendor_state, cast(assignee_id as text) as agent_id,
        case
            when previous_status = 'pending' and status = 'open' and assignee_id is null
                then 'queued'
            when previous_assignee is null then 'accepted'
            else 'transferred'
        end as event
    from chatwoot_snapshots
    where (previous_status = 'pending' and status = 'open' and assignee_id is null)
        or (assignee_id is not null
            and (previous_assignee is null or previous_assignee <> assignee_id))
    union all
    select
        source, channel, contact_id, ended_at as event_at,
        cast(9000000000000000000 as bigint) as seq, status as vendor_state, agent_id,
        -- a chat or messaging conversation resolved with no reply was given up on
        case when replied or channel = 'email' then 'completed' else 'abandoned' end as event
    from contact_center.stg_chatwoot__conversations
    where status = 'resolved' and ended_at is not null
)

select * from alvaria where event is not null
union all
select * from genesys where event is not null
union all
select * from chatwoot
