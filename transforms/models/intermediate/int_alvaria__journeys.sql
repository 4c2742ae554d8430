-- materialized: view
-- each Alvaria e-mail's journey as the snapshots saw it: when it was first seen queued and
-- first seen active with an agent (the vendor's own times, as the earliest snapshot that
-- carried them), and whether an agent ever worked it
select
    source,
    contact_id,
    min(queued_time) as first_queued_at,
    min(active_time) as first_active_at,
    max(case when worked then 1 else 0 end) = 1 as worked
from contact_center.stg_alvaria__email_snapshots
group by source, contact_id
