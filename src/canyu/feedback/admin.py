from django.contrib import admin

from canyu.feedback.models import CsatResponse, CsatSetting, CsatSurvey


@admin.register(CsatSetting)
class CsatSettingAdmin(admin.ModelAdmin):
    list_display = ["organization", "channel", "enabled", "answer_window_hours", "updated_at"]
    list_filter = ["organization", "enabled"]
    fields = ["organization", "channel", "enabled", "question", "answer_window_hours"]


@admin.register(CsatSurvey)
class CsatSurveyAdmin(admin.ModelAdmin):
    list_display = [
        "conversation_id",
        "cycle",
        "channel",
        "status",
        "agent",
        "sent_at",
        "expires_at",
        "organization",
    ]
    list_filter = ["organization", "status", "channel"]
    date_hierarchy = "created_at"
    raw_id_fields = ["conversation", "contact", "message"]
    readonly_fields = ["created_at"]


@admin.register(CsatResponse)
class CsatResponseAdmin(admin.ModelAdmin):
    list_display = [
        "conversation_id",
        "cycle",
        "score",
        "comment",
        "agent",
        "source",
        "answered_at",
        "organization",
    ]
    list_filter = ["organization", "score", "source", "channel"]
    search_fields = ["comment"]
    date_hierarchy = "answered_at"
    raw_id_fields = ["conversation", "survey", "message", "answer_conversation"]
    readonly_fields = ["created_at"]
