from django.contrib import admin

from canyu.routing.models import AgentState, PoolEntry, Team, TeamMember


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    extra = 0
    fields = ["user", "platforms", "languages", "tags", "last_assigned_at"]
    readonly_fields = ["last_assigned_at"]
    raw_id_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "position",
        "is_active",
        "strategy",
        "auto_assign",
        "overflow_after_seconds",
        "overflow_on_breach",
        "organization",
    ]
    list_editable = ["position", "is_active"]
    list_filter = ["organization", "is_active", "strategy"]
    search_fields = ["name", "members__user__username"]
    ordering = ["organization", "position", "id"]
    inlines = [TeamMemberInline]
    fieldsets = [
        (None, {"fields": ["organization", "name", "position", "is_active"]}),
        (
            "Routes here (empty means any; the first matching team by position routes)",
            {"fields": ["channels", "platforms", "tags"]},
        ),
        ("Assignment", {"fields": ["auto_assign", "strategy"]}),
        ("All-staff overflow", {"fields": ["overflow_after_seconds", "overflow_on_breach"]}),
    ]

    def save_formset(self, request, form, formset, change):  # type: ignore[no-untyped-def]
        # Members belong to the team's organisation.
        for member in formset.save(commit=False):
            member.organization_id = form.instance.organization_id
            member.save()
        for gone in formset.deleted_objects:
            gone.delete()


@admin.register(TeamMember)
class TeamMemberAdmin(admin.ModelAdmin):
    """Members across teams: find who has which skills."""

    list_display = ["user", "team", "platforms", "languages", "tags", "organization"]
    list_filter = ["organization", "team"]
    list_select_related = ["user", "team", "organization"]
    search_fields = ["user__username", "user__email", "team__name"]
    raw_id_fields = ["user"]
    exclude = ["organization"]
    readonly_fields = ["last_assigned_at"]

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        obj.organization_id = obj.team.organization_id  # a member belongs to the team's org
        super().save_model(request, obj, form, change)


@admin.register(AgentState)
class AgentStateAdmin(admin.ModelAdmin):
    list_display = ["user", "status", "capacity", "status_changed_at", "organization"]
    list_editable = ["status", "capacity"]
    list_filter = ["organization", "status"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]


@admin.register(PoolEntry)
class PoolEntryAdmin(admin.ModelAdmin):
    list_display = [
        "conversation",
        "team",
        "reason",
        "entered_at",
        "left_at",
        "left_reason",
        "claimed_by",
        "claimed_by_role",
        "organization",
    ]
    list_filter = ["organization", "reason", "left_reason", "claimed_by_role"]
    raw_id_fields = ["conversation", "claimed_by"]
    readonly_fields = ["entered_at", "left_at", "left_reason", "claimed_by", "claimed_by_role"]
