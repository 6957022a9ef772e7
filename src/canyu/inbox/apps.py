from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "canyu.inbox"
    label = "inbox"
