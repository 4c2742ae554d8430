-- materialized: table
-- tests: unique(source, queue_id); not_null(source, queue_id)
-- one row per source and queue (for UJET, a menu path): its newest name on any queue entry or handle segment,
-- and when it was first and last seen
with seen as (
    select source, queue_id, queue_name, started_at, load_id from contact_center.int_queue_entries
    union all
    select source, queue_id, queue_name, started_at, load_id from contact_center.int_handle_segments
),

ranked as (
    select
        source,
        queue_id,
        queue_name,
        row_number() over (
            partition by source, queue_id order by load_id desc, started_at desc, queue_name desc
        ) as newest
    from seen
    where queue_id is not null and queue_name is not null
)

select
    seen.source,
    seen.queue_id,
    ranked.queue_name,
    min(seen.started_at) as first_seen_at,
    max(seen.started_at) as last_seen_at
from seen
left join ranked
    on ranked.source = seen.source and ranked.queue_id = seen.queue_id and ranked.newest = 1
where seen.queue_id is not null
group by seen.source, seen.queue_id, ranked.queue_name
