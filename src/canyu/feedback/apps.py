from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "canyu.feedback"
    label = "feedback"
    verbose_name = "Feedback"

    def ready(self) -> None:
        from canyu.feedback.events import connect

        connect()
