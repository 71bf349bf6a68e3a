"""The Django admin is a read-only window on the data: every change goes through the actions, which check
who may make it and write the audit trail (`cityloop user add`, `cityloop token create|revoke`, the
pages, `cityloop city import`). An edit in the admin would bypass both, so there is none."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from cityloop.core.models import ApiToken, AuditRecord, User


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and detail pages only: no add, change or delete for anyone, superusers included."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.site_header = admin.site.site_title = _("CityLoop administration")

# CityLoop's roles decide what a person may do; Django's groups and permissions are not used, and an
# editable group would be a way around the roles.
admin.site.unregister(Group)


@admin.register(User)
class CityLoopUserAdmin(ReadOnlyAdmin, UserAdmin):
    list_display = ("username", "full_name", "role", "street", "department", "is_active")
    list_filter = ("role", "is_active")
    search_fields = ("username", "full_name", "phone")
    fieldsets = (
        (None, {"fields": ("username",)}),
        ("CityLoop", {"fields": ("role", "full_name", "phone", "street", "department")}),
        (_("Status"), {"fields": ("is_active", "is_superuser", "last_login", "date_joined")}),
    )
    exclude = ("password",)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "name", "user", "scopes", "created_at", "last_used_at", "revoked_at")
    exclude = ("digest",)


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "actor_label", "action", "object_type", "object_id")
    list_filter = ("action",)
    search_fields = ("object_id", "actor_label", "action")
