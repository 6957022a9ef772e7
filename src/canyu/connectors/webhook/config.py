"""What the rest of Canyu knows about the generic webhook platform.

A webhook channel keeps nothing in ``Channel.config``/``credentials``: its HMAC secrets
and the address replies go to are fields of the channel itself (``Channel.secret``,
``previous_secret``, ``callback_url``; ``canyu channel add … --secret-stdin
--callback-url``). So this module declares no settings keys, and ``canyu channel … --set``
refuses every key for a webhook channel (``connectors/channel_settings.py``).
"""

from __future__ import annotations

CONFIG_KEYS: dict[str, object] = {}
SECRET_KEYS: dict[str, object] = {}
KEY_ALIASES: dict[str, str] = {}

# The console's reply box stops at this many characters (the partner's own limit, if
# any, is theirs to report as a permanent failure).
REPLY_LIMIT = (5000, "chars")
# Pushes arrive at /hooks/webhook/<key> (and /hooks/webhook/<org>/<channel>).
PUSH_VIEW = "canyu.connectors.webhook.views.receive"
