-- materialized: table
-- tests: unique(menu_path_id)
-- each queue's name as the newest loaded queue entry gives it (ties: latest start, then name)
with ranked as (
    select
        menu_path_id,
        menu_path,
        row_number() over (
            partition by menu_path_id order by load_id desc, started_at desc, menu_path desc
        ) as newest
    from contact_center.int_queue_entries
    where menu_path_id is not null and menu_path is not null
)

select menu_path_id, menu_path
from ranked
where newest = 1
