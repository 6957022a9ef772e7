from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "canyu.core"
    label = "core"
