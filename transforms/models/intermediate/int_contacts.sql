-- materialized: view
-- every source's contacts in one shape: UJET calls, chats and emails; Chatwoot conversations;
-- Alvaria and Genesys e-mails
select * from contact_center.stg_ujet__calls
union all
select * from contact_center.stg_ujet__chats
union all
select * from contact_center.stg_ujet__emails
union all
select * from contact_center.stg_chatwoot__conversations
union all
select * from contact_center.int_alvaria__contacts
union all
select * from contact_center.int_genesys__contacts
