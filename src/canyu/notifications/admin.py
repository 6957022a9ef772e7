from django.contrib import admin

from canyu.notifications.models import EmailPreference, Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "recipient", "created_at", "read_at", "email_status"]
    list_filter = ["kind", "email_status", "organization"]
    search_fields = ["title"]
    raw_id_fields = ["recipient", "conversation"]
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(EmailPreference)
class EmailPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "email", "organization"]
    list_filter = ["kind", "email", "organization"]
    raw_id_fields = ["user"]
