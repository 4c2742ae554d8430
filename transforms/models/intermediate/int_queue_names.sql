-- materialized: table
-- tests: unique(source, queue_id)
-- each queue's name as the newest loaded queue entry gives it (ties: latest start, then name)
with ranked as (
    select
        source,
        queue_id,
        queue_name,
        row_number() over (
            partition by source, queue_id order by load_id desc, started_at desc, queue_name desc
        ) as newest
    from contact_center.int_queue_entries
    where queue_id is not null and queue_name is not null
)

select source, queue_id, queue_name
from ranked
where newest = 1
