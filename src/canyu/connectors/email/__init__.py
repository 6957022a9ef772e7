"""The e-mail connector (``specs/channels.md`` section 3): IMAP in, SMTP out.

Inbound: :mod:`.imap` polls the channel's mailbox by UID and hands each new mail to
:mod:`.inbound`, which parses it (broken charsets and HTML-only mail included), stores its
attachments, skips automatic mail and our own, finds its conversation and submits it to
the durable intake. Outbound: :class:`.outbound.EmailConnector` sends replies over SMTP
with threading headers and a signed reply-to address (:mod:`.config`).

The package is ``canyu.connectors.email``; every module imports the standard library's
``email`` absolutely, so the name never shadows it.
"""
