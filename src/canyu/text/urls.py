"""``/insights/``: trending terms (included by ``canyu/urls.py``)."""

from django.urls import path

from canyu.text import views

app_name = "insights"

urlpatterns = [
    path("trends/", views.trends_page, name="trends"),
]
