-- materialized: table
-- tests: unique(source, status_id)
-- each status's name as the newest status interval with that id gives it
with ranked as (
    select
        source,
        status_id,
        status_name,
        row_number() over (
            partition by source, status_id order by started_at desc, activity_id desc
        ) as newest
    from contact_center.int_status_pieces
    where status_id is not null
)

select source, status_id, status_name
from ranked
where newest = 1
