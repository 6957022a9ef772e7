from django.contrib import admin

from canyu.sla.models import (
    EDITS_APPLY_TO_NEW_CLOCKS,
    BusinessCalendar,
    SlaClock,
    SlaEvent,
    SlaPolicy,
)


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "chinese_holidays", "organization", "updated_at"]
    list_filter = ["organization", "chinese_holidays"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["organization", "name", "time_zone"]}),
        (
            "Working time",
            {
                "fields": ["hours", "chinese_holidays", "extra_holidays", "extra_workdays"],
                "description": "Running clocks keep the due times they were given; a changed "
                "calendar applies to clocks that start from now on.",
            },
        ),
    ]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "position",
        "is_active",
        "first_response_seconds",
        "next_response_seconds",
        "resolution_seconds",
        "hours",
        "organization",
    ]
    list_editable = ["position", "is_active"]
    list_filter = ["organization", "is_active", "hours"]
    search_fields = ["name"]
    ordering = ["organization", "position", "id"]
    fieldsets = [
        (None, {"fields": ["organization", "name", "position", "is_active"]}),
        (
            "Conditions (empty means any; the first matching policy applies)",
            {"fields": ["channels", "platforms", "kinds", "tags", "priorities"]},
        ),
        (
            "Targets",
            {
                "fields": [
                    "first_response_seconds",
                    "next_response_seconds",
                    "resolution_seconds",
                    "warn_percent",
                    "warn_before_seconds",
                    "hours",
                    "calendar",
                ],
                "description": EDITS_APPLY_TO_NEW_CLOCKS,
            },
        ),
        (
            "Escalation",
            {
                "fields": ["warning_actions", "breach_actions"],
                "description": "Actions: notify_assignee, notify_lead, reassign, pool.",
            },
        ),
    ]


@admin.register(SlaClock)
class SlaClockAdmin(admin.ModelAdmin):
    """Read-only: clocks are facts kept by the listeners and the sweeper."""

    list_display = [
        "conversation",
        "target",
        "cycle",
        "state",
        "started_at",
        "due_at",
        "stopped_at",
    ]
    list_filter = ["state", "target", "organization"]
    search_fields = ["conversation__contact_name"]
    raw_id_fields = ["conversation", "channel", "policy", "calendar", "agent"]
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(SlaEvent)
class SlaEventAdmin(admin.ModelAdmin):
    list_display = [
        "kind",
        "target",
        "conversation",
        "cycle",
        "due_at",
        "created_at",
        "escalated_at",
    ]
    list_filter = ["kind", "target", "organization"]
    raw_id_fields = ["clock", "conversation"]
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
