from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "canyu.inbox"
    label = "inbox"

    def ready(self) -> None:
        # The search index follows new messages (canyu.inbox.search).
        from django.db.models.signals import post_migrate

        from canyu.inbox.search import connect, ensure_triggers

        connect()
        post_migrate.connect(ensure_triggers, sender=self, dispatch_uid="inbox-search-triggers")
