"""Read-only: a city changes through `cityloop city import` (checked, audited), never by editing rows here."""

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from cityloop.core.admin import ReadOnlyAdmin
from cityloop.org.models import Category, CityPack, Department, Jurisdiction, Responsibility


class EnglishName:
    """The English name column, marked as English: data in the other language, not a missed translation."""

    @admin.display(description=_("English name"), ordering="name_en")
    def english_name(self, obj):
        return format_html('<span lang="en">{}</span>', obj.name_en)


@admin.register(Jurisdiction)
class JurisdictionAdmin(EnglishName, ReadOnlyAdmin):
    list_display = ("code", "name", "english_name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name", "name_en")
    exclude = ("geometry",)


@admin.register(Department)
class DepartmentAdmin(EnglishName, ReadOnlyAdmin):
    list_display = ("code", "name", "english_name", "level", "district")
    search_fields = ("code", "name", "name_en")


@admin.register(Category)
class CategoryAdmin(EnglishName, ReadOnlyAdmin):
    list_display = ("code", "name", "english_name", "depth", "parent")
    search_fields = ("code", "name", "name_en")


@admin.register(Responsibility)
class ResponsibilityAdmin(ReadOnlyAdmin):
    list_display = ("category", "department", "route")
    list_filter = ("route",)


admin.site.register(CityPack, ReadOnlyAdmin)
