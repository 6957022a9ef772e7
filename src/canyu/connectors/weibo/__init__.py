"""Sina Weibo (``specs/channels.md`` section 2).

Public items are pulled: mentions and comments to the brand's account come from
``statuses/mentions``, ``comments/to_me`` and ``comments/mentions`` on a schedule
(:mod:`.pull`, :mod:`.tasks`). Private messages are pushed by the fan-service platform
(粉丝服务平台) to ``/hooks/weibo/<key>`` (:mod:`.inbound`, :mod:`.views`).
Replies leave through :class:`.outbound.WeiboConnector`: comments via
``comments/reply`` / ``comments/create``, private messages via ``messages/reply``.

Channel settings: ``config`` holds ``uid`` (the account's id), optional ``api_base``,
``dm_api_base`` (a test or private deployment points these at another server) and
``poll_interval`` (seconds); ``credentials`` holds ``access_token`` and ``app_secret``
(the fan-service push signature key).
"""
