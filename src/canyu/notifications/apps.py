from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "canyu.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from canyu.notifications.listeners import connect

        connect()
