-- materialized: view
-- source: chatwoot.messages
-- columns: id bigint, conversation_id bigint, message_type bigint, private bool, deleted bool, sender_type text, sender_id bigint, created_at timestamptz, _dlt_load_id text
-- every message of every conversation; an agent's public reply is an outgoing message a User
-- sent that is neither a private note nor deleted. A new message moves its conversation's
-- updated_at, so the conversation's own row names it in the contacts feed
select
    id as message_id,
    cast(conversation_id as text) as contact_id,
    cast(sender_id as text) as agent_id,
    created_at,
    message_type = 1 and sender_type = 'User' and not coalesce(private, false)
        and not coalesce(deleted, false) as public_reply,
    _dlt_load_id as load_id
from chatwoot.messages
