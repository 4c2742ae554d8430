-- materialized: view
-- calls, chats and emails in one shape
select * from contact_center.stg_ujet__calls
union all
select * from contact_center.stg_ujet__chats
union all
select * from contact_center.stg_ujet__emails
