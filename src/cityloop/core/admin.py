from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from cityloop.core.models import ApiToken, AuditRecord, User


@admin.register(User)
class CityLoopUserAdmin(UserAdmin):
    list_display = ("username", "full_name", "role", "street", "department", "is_active")
    list_filter = ("role", "is_active")
    search_fields = ("username", "full_name", "phone")
    fieldsets = UserAdmin.fieldsets + (("CityLoop", {"fields": ("role", "full_name", "phone", "street", "department")}),)
    autocomplete_fields = ("street", "department")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "user", "scopes", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "digest", "created_at", "last_used_at")

    def has_add_permission(self, request):
        return False  # tokens are created with `cityloop token create`, which shows the secret once


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    list_display = ("seq", "at", "actor_label", "action", "object_type", "object_id")
    list_filter = ("action",)
    search_fields = ("object_id", "actor_label", "action")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
