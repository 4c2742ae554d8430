-- materialized: view
-- tests: unique(source, interval_start, channel, queue_id, lang); not_null(source, interval_start, channel); assert(answered <= entries); assert(in_sla + not_in_sla + sla_excluded = entries); assert(answered + unanswered = entries); non_negative(queue_seconds, max_queue_seconds, answered_queue_seconds)
-- one row per local 15-minute interval, channel, queue and language
select
    counts.source,
    counts.interval_start,
    counts.channel,
    counts.queue_id,
    names.queue_name,
    counts.lang,
    counts.entries,
    counts.answered,
    counts.unanswered,
    counts.in_sla,
    counts.not_in_sla,
    counts.sla_excluded,
    case
        when counts.in_sla + counts.not_in_sla > 0
            then 100 * cast(counts.in_sla as double) / (counts.in_sla + counts.not_in_sla)
    end as service_level_pct,
    counts.queue_seconds,
    counts.max_queue_seconds,
    counts.answered_queue_seconds,
    case
        when counts.answered > 0 then counts.answered_queue_seconds / counts.answered
    end as asa_seconds
from contact_center.int_queue_interval as counts
left join contact_center.int_queue_names as names
    on names.source = counts.source and names.queue_id = counts.queue_id
