"""The one table of periodic jobs that ``canyu worker`` runs (dotted task path, seconds).

The platforms' own jobs (a pull, a mailbox poll) are declared in their
``connectors/<platform>/config.py`` (``PERIODIC_TASKS``) and added from the registry, so
this table never names a platform.

Each job is idempotent and safe to run in two workers at once: it repairs what a crash
or a lost enqueue may have left behind.
"""

from __future__ import annotations

from canyu.connectors.registry import periodic_tasks

SCHEDULE: list[tuple[str, int]] = [
    # Pending intake left by a worker killed mid-batch or an enqueue lost after commit.
    ("canyu.inbox.tasks.recover_intake_task", 15),
    # Queued outbound messages whose worker died mid-send.
    ("canyu.connectors.tasks.recover_deliveries_task", 60),
    # Seen webhook delivery ids older than the replay horizon.
    ("canyu.connectors.tasks.prune_webhook_receipts_task", 3600),
    # SLA warnings and breaches that came due (each recorded once, whoever sweeps).
    ("canyu.sla.tasks.sweep_sla_task", 5),
    # SLA warnings and breaches whose escalation a crash interrupted (each escalated once).
    ("canyu.sla.tasks.escalate_sla_task", 30),
    # Notification e-mails whose task was lost, or due for a retry (never sent twice).
    ("canyu.notifications.tasks.recover_emails_task", 60),
    # Running SLA clocks a crash between a batch's commit and its listeners left wrong.
    ("canyu.sla.tasks.repair_clocks_task", 300),
    # Waiting conversations nobody could take yet (routing's listeners are the fast path).
    ("canyu.routing.tasks.drain_task", 10),
    # Conversations that waited past their team's threshold enter the all-staff pool.
    ("canyu.routing.tasks.overflow_task", 10),
    # Each platform's own jobs (``PERIODIC_TASKS`` in its config.py).
    *periodic_tasks(),
]
