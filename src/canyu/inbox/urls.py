from django.urls import path, register_converter

from canyu.inbox import queries, views


class InboxViewConverter:
    """One of the inbox's views (``queries.INBOX_VIEWS``) as a path segment."""

    regex = "|".join(queries.INBOX_VIEWS)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(InboxViewConverter, "inboxview")

app_name = "inbox"

urlpatterns = [
    path("", views.index, name="index"),
    path("<inboxview:view>/", views.inbox, name="view"),
    path("<inboxview:view>/rows/", views.rows, name="rows"),
    path("<inboxview:view>/<int:pk>/", views.inbox, name="conversation"),
    path("c/<int:pk>/reply/", views.reply, name="reply"),
    path("c/<int:pk>/note/", views.note, name="note"),
    path("c/<int:pk>/assign/", views.assign, name="assign"),
    path("c/<int:pk>/tags/", views.add_tags, name="add_tags"),
    path("c/<int:pk>/tags/remove/", views.remove_tag, name="remove_tag"),
    path("c/<int:pk>/status/", views.set_status, name="status"),
]
