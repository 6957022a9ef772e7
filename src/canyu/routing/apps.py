from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "canyu.routing"
    label = "routing"

    def ready(self) -> None:
        from canyu.routing.events import connect

        connect()
