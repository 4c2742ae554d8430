-- materialized: incremental
-- unique_key: source, snapshot_at
-- changes: snapshots
-- tests: unique(source, snapshot_at, channel, queue_id, queue_name, state); not_null(source, snapshot_at, channel, state, waiting, in_progress); non_negative(waiting, in_progress, oldest_age_seconds)
-- one row per source, snapshot time, channel, queue and state: the backlog over time. Only
-- new snapshots are added by an incremental build; history is never rebuilt
select
    source,
    snapshot_at,
    channel,
    queue_id,
    queue_name,
    state,
    cast(sum(case when waiting then contacts else 0 end) as bigint) as waiting,
    cast(sum(case when waiting then 0 else contacts end) as bigint) as in_progress,
    case
        when min(oldest_arrival_at) <= snapshot_at
            then ccelt_milliseconds(min(oldest_arrival_at), snapshot_at) / 1000.0
    end as oldest_age_seconds
from contact_center.int_backlog_snapshots
group by source, snapshot_at, channel, queue_id, queue_name, state
