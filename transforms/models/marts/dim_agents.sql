-- materialized: table
-- tests: unique(source, agent_id); not_null(source, agent_id, is_unknown)
-- one row per source and agent; agents that facts mention but the agents endpoint does not list
-- get a row too, with is_unknown, so every fact joins
with teams as (
    select source, agent_id, string_agg(cast(team_id as text), ',' order by team_id) as team_ids
    from contact_center.stg_ujet__agent_teams
    group by source, agent_id
),

roles as (
    select source, agent_id, string_agg(role, ',' order by role) as roles
    from contact_center.stg_ujet__agent_roles
    group by source, agent_id
),

listed as (
    select
        agents.source,
        agents.agent_id,
        agents.first_name,
        agents.last_name,
        agents.email,
        agents.agent_number,
        roles.roles,
        agents.location,
        agents.created_at,
        agents.last_login_time,
        agents.status_name,
        agents.online,
        teams.team_ids,
        false as is_unknown
    from contact_center.stg_ujet__agents as agents
    left join teams on teams.source = agents.source and teams.agent_id = agents.agent_id
    left join roles on roles.source = agents.source and roles.agent_id = agents.agent_id
),

mentioned as (
    select source, agent_id from contact_center.fct_contacts where agent_id is not null
    union
    select source, agent_id from contact_center.fct_agent_daily
    union
    select source, agent_id from contact_center.int_agent_status_daily where agent_id is not null
)

select * from listed
union all
select
    mentioned.source,
    mentioned.agent_id,
    cast(null as text),
    cast(null as text),
    cast(null as text),
    cast(null as text),
    cast(null as text),
    cast(null as text),
    cast(null as timestamptz),
    cast(null as timestamptz),
    cast(null as text),
    cast(null as boolean),
    cast(null as text),
    true
from mentioned
where not exists (
    select 1 from listed
    where listed.source = mentioned.source and listed.agent_id = mentioned.agent_id
)
