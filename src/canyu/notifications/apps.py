from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "canyu.notifications"
    label = "notifications"
    verbose_name = "Notifications"
