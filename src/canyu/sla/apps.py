from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "canyu.sla"
    label = "sla"
