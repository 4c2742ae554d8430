-- materialized: table
-- tests: unique(menu_path_id); not_null(menu_path_id)
-- one row per queue (menu path): its newest name on any queue entry or handle segment,
-- and when it was first and last seen
with seen as (
    select menu_path_id, menu_path, started_at, load_id from contact_center.int_queue_entries
    union all
    select menu_path_id, menu_path, started_at, load_id from contact_center.int_handle_segments
),

ranked as (
    select
        menu_path_id,
        menu_path,
        row_number() over (
            partition by menu_path_id order by load_id desc, started_at desc, menu_path desc
        ) as newest
    from seen
    where menu_path_id is not null and menu_path is not null
)

select
    seen.menu_path_id,
    ranked.menu_path,
    min(seen.started_at) as first_seen_at,
    max(seen.started_at) as last_seen_at
from seen
left join ranked on ranked.menu_path_id = seen.menu_path_id and ranked.newest = 1
where seen.menu_path_id is not null
group by seen.menu_path_id, ranked.menu_path
