from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "canyu.accounts"
    label = "accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from canyu.accounts.middleware import load_profile_language

        user_logged_in.connect(load_profile_language, dispatch_uid="canyu-profile-language")
