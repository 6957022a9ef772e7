from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "canyu.routing"
    label = "routing"
