from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "canyu.demo"
    label = "demo"
