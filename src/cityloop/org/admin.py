from django.contrib import admin

from cityloop.org.models import Category, CityPack, Department, Jurisdiction, Responsibility


@admin.register(Jurisdiction)
class JurisdictionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name", "name_en")
    exclude = ("geometry",)
    readonly_fields = ("min_lon", "min_lat", "max_lon", "max_lat")


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "level", "district")
    search_fields = ("code", "name", "name_en")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "depth", "parent")
    search_fields = ("code", "name", "name_en")


@admin.register(Responsibility)
class ResponsibilityAdmin(admin.ModelAdmin):
    list_display = ("category", "department", "route")
    list_filter = ("route",)


admin.site.register(CityPack)
