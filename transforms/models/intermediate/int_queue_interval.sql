-- materialized: incremental
-- partition_by: interval_start
-- queue entries counted per local 15-minute interval, channel, queue and language;
-- fct_queue_interval adds the queue's current name and the ratios
select
    source,
    interval_start,
    channel,
    queue_id,
    lang,
    cast(count(*) as bigint) as entries,
    cast(sum(case when answered then 1 else 0 end) as bigint) as answered,
    cast(sum(case when answered then 0 else 1 end) as bigint) as unanswered,
    cast(sum(case when service_level_event = 'in_sla' then 1 else 0 end) as bigint) as in_sla,
    cast(sum(case when service_level_event = 'not_in_sla' then 1 else 0 end) as bigint) as not_in_sla,
    cast(sum(
        case when service_level_event = 'excluded' or service_level_event is null then 1 else 0 end
    ) as bigint) as sla_excluded,
    cast(sum(coalesce(queue_seconds, 0)) as double) as queue_seconds,
    cast(max(queue_seconds) as double) as max_queue_seconds,
    cast(sum(case when answered then coalesce(queue_seconds, 0) else 0 end) as double)
        as answered_queue_seconds
from contact_center.int_queue_entries
group by source, interval_start, channel, queue_id, lang
