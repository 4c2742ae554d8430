-- materialized: view
-- the lifecycle events of contacts whose vendors report events rather than durations, in
-- one vocabulary (docs/metrics.md, "fct_contact_events"): a vendor state with no word in it
-- (Alvaria's Wrap and Review, Genesys' Revoked) is left out, and a state notified again
-- (Genesys re-notifies on every userData change) is one event
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
)

select * from alvaria where event is not null
union all
select * from genesys where event is not null
