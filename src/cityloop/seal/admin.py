"""Read-only views for administrators: every change goes through ``actions`` (and is audited)."""

from django.contrib import admin

from cityloop.seal.models import Certificate, SigningKey


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Certificate)
class CertificateAdmin(ReadOnly):
    list_display = ["serial", "title", "holder_name", "issuer_name", "issued_at", "kid", "revoked_at"]
    search_fields = ["serial", "holder_name", "source_ref"]
    list_filter = ["issuer_department"]


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnly):
    list_display = ["kid", "authority", "authority_name", "created_at", "retired_at"]
