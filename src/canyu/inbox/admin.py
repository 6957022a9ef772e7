from django.contrib import admin

from canyu.inbox.models import CannedReply, Contact, Conversation, IntakeItem, Message


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "platform", "external_id", "followers", "organization"]
    list_filter = ["platform", "organization"]
    search_fields = ["name", "external_id"]
    show_full_result_count = False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "contact_name",
        "channel",
        "status",
        "assignee",
        "waiting_since",
        "last_message_at",
    ]
    list_filter = ["status", "organization"]
    search_fields = ["contact_name", "last_message_preview"]
    raw_id_fields = ["contact", "assignee", "channel"]
    show_full_result_count = False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "platform_id",
        "channel",
        "direction",
        "kind",
        "author_name",
        "created_at",
        "delivery_status",
    ]
    list_filter = ["direction", "kind", "delivery_status", "organization"]
    search_fields = ["platform_id", "author_name"]
    raw_id_fields = ["conversation", "parent", "author_contact", "author_agent", "channel"]
    show_full_result_count = False


@admin.register(IntakeItem)
class IntakeItemAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "channel",
        "platform_id",
        "source",
        "status",
        "received_at",
        "processed_at",
    ]
    list_filter = ["status", "source", "organization"]
    search_fields = ["platform_id"]
    raw_id_fields = ["channel"]
    show_full_result_count = False


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["shortcut", "title", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["shortcut", "title", "text"]
    ordering = ["organization", "shortcut"]
