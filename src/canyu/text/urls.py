"""``/insights/``: trending terms (included by ``canyu/urls.py``)."""

app_name = "insights"

urlpatterns: list = []
