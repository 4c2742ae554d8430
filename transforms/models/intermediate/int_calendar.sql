-- materialized: table
-- tests: unique(local_date); not_null(local_date, next_date)
-- every date from 2000 to 2050, to split intervals at local midnights without
-- warehouse-specific series functions
with digits as (
    select 0 as d union all select 1 union all select 2 union all select 3 union all select 4
    union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
),

day_numbers as (
    select a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d as n
    from digits a, digits b, digits c, digits e, digits f
)

select
    ccelt_add_days(cast('2000-01-01' as date), n) as local_date,
    ccelt_add_days(cast('2000-01-01' as date), n + 1) as next_date
from day_numbers
where n < 18628
