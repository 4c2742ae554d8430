-- materialized: incremental
-- unique_key: source, channel, contact_id
-- changes: contacts
-- tests: not_null(source, channel, contact_id, agent_id, local_date)
-- contacts an agent completed, for the vendors that record no handle segments (docs/metrics.md,
-- "Across sources"): an Alvaria e-mail that left the queue from a state an agent works in,
-- credited to the agent who held it, dated by the snapshot that saw it gone; a Genesys e-mail
-- the user accepted and completed, dated by the completion's notification
select
    emails.source,
    emails.channel,
    emails.contact_id,
    emails.agent_id,
    cast(ccelt_local(emails.ended_at) as date) as local_date,
    emails.load_id
from contact_center.stg_alvaria__emails as emails
where emails.ended_at is not null
    and emails.agent_id is not null
    and emails.last_state in ('Active', 'Wrap', 'DraftActive', 'TransferredActive',
                              'ReviewActive', 'ReassignedActive')
union all
select
    contacts.source,
    contacts.channel,
    contacts.contact_id,
    contacts.agent_id,
    cast(ccelt_local(contacts.ended_at) as date) as local_date,
    contacts.load_id
from contact_center.int_genesys__contacts as contacts
where contacts.ended_at is not null and contacts.agent_id is not null
