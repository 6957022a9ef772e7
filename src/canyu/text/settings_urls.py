"""``/settings/intent-rules/``: the intent rules page (included by ``canyu/urls.py``)."""

app_name = "text_settings"

urlpatterns: list = []
