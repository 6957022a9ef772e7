from django.contrib import admin

from canyu.text.models import IntentRule, UserWord


@admin.register(UserWord)
class UserWordAdmin(admin.ModelAdmin):
    list_display = ["word", "weight", "tag", "organization", "updated_at"]
    list_filter = ["organization"]
    search_fields = ["word"]


@admin.register(IntentRule)
class IntentRuleAdmin(admin.ModelAdmin):
    # Saving runs IntentRule.clean(), i.e. intent.validate_rule: errors show per field.
    list_display = ["intent", "name", "pattern", "weight", "enabled", "is_default", "organization"]
    list_filter = ["organization", "intent", "enabled"]
