"""Read-only: a city changes through `cityloop city import` (checked, audited), never by editing rows here."""

from django.contrib import admin

from cityloop.core.admin import ReadOnlyAdmin
from cityloop.org.models import Category, CityPack, Department, Jurisdiction, Responsibility


@admin.register(Jurisdiction)
class JurisdictionAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "name_en", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name", "name_en")
    exclude = ("geometry",)


@admin.register(Department)
class DepartmentAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "name_en", "level", "district")
    search_fields = ("code", "name", "name_en")


@admin.register(Category)
class CategoryAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "name_en", "depth", "parent")
    search_fields = ("code", "name", "name_en")


@admin.register(Responsibility)
class ResponsibilityAdmin(ReadOnlyAdmin):
    list_display = ("category", "department", "route")
    list_filter = ("route",)


admin.site.register(CityPack, ReadOnlyAdmin)
