-- materialized: incremental
-- unique_key: source, activity_id
-- changes: activity
-- tests: unique(source, activity_id, local_date); non_negative(milliseconds)
-- warnings: assert(ccelt_milliseconds(started_at, ended_at) <= {long_status_hours} * 3600000)
-- closed status intervals [started_at, ended_at) split at local midnights: one row per
-- interval and local date it covers, with the time it spent on that date (in whole
-- milliseconds, so sums do not depend on the order rows are added in)
with closed as (
    select *
    from contact_center.stg_ujet__agent_activity_logs
    where activity = 'user_status_changed'
        and ended_at is not null
        and ended_at > started_at
),

pieces as (
    select
        closed.source,
        closed.activity_id,
        closed.agent_id,
        closed.status_id,
        closed.status_name,
        closed.started_at,
        closed.ended_at,
        calendar.local_date,
        greatest(closed.started_at, ccelt_utc(cast(calendar.local_date as timestamp))) as piece_start,
        least(closed.ended_at, ccelt_utc(cast(calendar.next_date as timestamp))) as piece_end
    from closed
    inner join contact_center.int_calendar as calendar
        on calendar.local_date between cast(ccelt_local(closed.started_at) as date)
        and cast(ccelt_local(closed.ended_at) as date)
)

select
    source,
    activity_id,
    agent_id,
    status_id,
    status_name,
    started_at,
    ended_at,
    local_date,
    ccelt_milliseconds(piece_start, piece_end) as milliseconds
from pieces
where piece_end > piece_start
