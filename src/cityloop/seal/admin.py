"""Read-only views for administrators: every change goes through ``actions`` (and is audited)."""

from django.contrib import admin

from cityloop.core.admin import ReadOnlyAdmin as ReadOnly
from cityloop.seal.models import Certificate, SigningKey


@admin.register(Certificate)
class CertificateAdmin(ReadOnly):
    list_display = ["serial", "title", "holder_name", "issuer_name", "issued_at", "kid", "revoked_at"]
    search_fields = ["serial", "holder_name", "source_ref"]
    list_filter = ["issuer_department"]


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnly):
    list_display = ["kid", "authority", "authority_name", "created_at", "retired_at"]
