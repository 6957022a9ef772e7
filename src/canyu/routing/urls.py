from django.urls import path

from canyu.routing import views

app_name = "routing"

urlpatterns = [
    path("", views.pool, name="pool"),
    path("<int:conversation_id>/claim/", views.claim_view, name="claim"),
]
