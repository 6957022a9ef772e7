"""The generic signed webhook channel (``specs/channels.md`` section 4.3).

Inbound: a system of the brand's (a shop, a forum, a ticket form) posts normalised events
to ``/hooks/webhook/<key>``, signed with the channel's secret. Outbound: replies
written in Canyu are posted, signed the same way, to the channel's ``callback_url``.
"""
