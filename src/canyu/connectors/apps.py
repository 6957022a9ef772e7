from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "canyu.connectors"
    label = "connectors"
