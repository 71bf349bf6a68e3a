"""The city: jurisdictions with their shapes, departments, categories and who is responsible."""

from __future__ import annotations

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    CITY = "city", _("City")
    DISTRICT = "district", _("District")
    STREET = "street", _("Street")
    COMMUNITY = "community", _("Community")


LEVEL_ORDER = [Level.CITY, Level.DISTRICT, Level.STREET, Level.COMMUNITY]


class Named(models.Model):
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)

    class Meta:
        abstract = True

    @property
    def label(self) -> str:
        """The name in the active language (English falls back to the local name)."""
        if (get_language() or "").startswith("en") and self.name_en:
            return self.name_en
        return self.name

    def __str__(self) -> str:
        return self.label


class Jurisdiction(Named):
    """A node of city → district → street (街乡) → community (社区/村)."""

    city = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("city")
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent"),
    )
    code = models.CharField(_("code"), max_length=40)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    # GeoJSON geometry (lon/lat); the locator reads it into shapely once per process.
    geometry = models.TextField(blank=True, verbose_name=_("boundary"))
    min_lon = models.FloatField(null=True, blank=True, verbose_name=_("min longitude"))
    min_lat = models.FloatField(null=True, blank=True, verbose_name=_("min latitude"))
    max_lon = models.FloatField(null=True, blank=True, verbose_name=_("max longitude"))
    max_lat = models.FloatField(null=True, blank=True, verbose_name=_("max latitude"))
    # residents (streets, from the pack's population.csv); null = not known, never guessed
    population = models.PositiveIntegerField(_("population"), null=True, blank=True)

    class Meta:
        verbose_name = _("jurisdiction")
        verbose_name_plural = _("jurisdictions")
        db_table = "org_jurisdiction"
        constraints = [models.UniqueConstraint(fields=["city", "code"], name="org_jurisdiction_city_code")]
        indexes = [models.Index(fields=["level", "code"])]
        ordering = ["code"]


class CityPack(models.Model):
    """The pack a city was imported from: its settings and provenance."""

    city = models.OneToOneField(
        Jurisdiction, on_delete=models.CASCADE, related_name="pack", verbose_name=_("city")
    )
    code = models.CharField(max_length=40, unique=True, verbose_name=_("code"))
    country = models.CharField(max_length=2, verbose_name=_("country"))
    timezone = models.CharField(max_length=64, verbose_name=_("time zone"))
    calendar = models.CharField(max_length=16, verbose_name=_("calendar"))
    default_language = models.CharField(max_length=10, verbose_name=_("default language"))
    synthetic_shapes = models.BooleanField(default=False, verbose_name=_("synthetic shapes"))
    notes = models.TextField(blank=True, verbose_name=_("notes"))
    sources = models.JSONField(default=list, verbose_name=_("sources"))
    # where the streets' population comes from; illustrative = made up (a demo), said beside every figure
    population_note = models.TextField(blank=True, verbose_name=_("population note"))
    population_illustrative = models.BooleanField(default=False, verbose_name=_("population illustrative"))
    # the city's target for each rate, in percent ({"response": 95.0, ...}; packs.DEFAULT_TARGETS)
    targets = models.JSONField(default=dict, blank=True, verbose_name=_("targets"))
    # the pack.yaml sections other apps own, as checked (packs.SECTIONS): {"detectors": {...}}
    sections = models.JSONField(default=dict, blank=True, verbose_name=_("sections"))
    imported_at = models.DateTimeField(auto_now=True, verbose_name=_("imported at"))

    def __str__(self) -> str:
        return self.code

    class Meta:
        verbose_name = _("city pack")
        verbose_name_plural = _("city packs")
        db_table = "org_city_pack"


class Department(Named):
    city = models.ForeignKey(
        Jurisdiction, on_delete=models.CASCADE, related_name="departments", verbose_name=_("city")
    )
    code = models.CharField(_("code"), max_length=40)
    level = models.CharField(
        _("level"), max_length=10, choices=[(Level.CITY, _("City")), (Level.DISTRICT, _("District"))]
    )
    district = models.ForeignKey(
        Jurisdiction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("district"),
    )

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        db_table = "org_department"
        constraints = [models.UniqueConstraint(fields=["city", "code"], name="org_department_city_code")]
        ordering = ["code"]


class Category(Named):
    """A node of the 3-level category tree."""

    city = models.ForeignKey(
        Jurisdiction, on_delete=models.CASCADE, related_name="categories", verbose_name=_("city")
    )
    code = models.CharField(_("code"), max_length=40)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent"),
    )
    depth = models.PositiveSmallIntegerField(default=1, verbose_name=_("depth"))

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        db_table = "org_category"
        constraints = [models.UniqueConstraint(fields=["city", "code"], name="org_category_city_code")]
        ordering = ["code"]


class Route(models.TextChoices):
    DIRECT = "direct", _("Direct to the department (直派)")
    STREET = "street", _("To the street of the location")


class Responsibility(models.Model):
    """Who answers for a category (and its descendants unless they have their own row)."""

    category = models.OneToOneField(
        Category, on_delete=models.CASCADE, related_name="responsibility", verbose_name=_("category")
    )
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="responsibilities", verbose_name=_("department")
    )
    route = models.CharField(max_length=10, choices=Route.choices, verbose_name=_("route"))

    class Meta:
        verbose_name = _("responsibility")
        verbose_name_plural = _("responsibilities")
        db_table = "org_responsibility"


class DeviceCaseRule(models.Model):
    """The category (and, when set, the department) of a case the city brain opens, per device kind and
    alarm type; ``*`` matches any. From the pack's ``device_cases.csv``: sensor cases are never guessed."""

    city = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)
    alarm = models.CharField(max_length=16)
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        db_table = "org_device_case_rule"
        constraints = [
            models.UniqueConstraint(fields=["city", "kind", "alarm"], name="one_rule_per_kind_alarm")
        ]

    def __str__(self) -> str:
        return f"{self.kind} × {self.alarm} → {self.category.code}"


class PlaceName(models.Model):
    """A gazetteer entry: an alias, landmark or postcode that locates address text."""

    city = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="place_names")

    class Meta:
        db_table = "org_place_name"
        indexes = [models.Index(fields=["city", "name"])]
