from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "canyu.sla"
    label = "sla"
    verbose_name = "SLA"

    def ready(self) -> None:
        from canyu.sla.events import connect

        connect()
