from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "canyu.accounts"
    label = "accounts"
