"""City packs: checking, importing all-or-nothing, the built-in packs, and reading the city back."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditRecord
from cityloop.org import queries
from cityloop.org.actions import import_pack
from cityloop.org.models import Category, CityPack, Department, Jurisdiction, PlaceName, Responsibility
from cityloop.org.packs import BUILTIN_DIR, PackInvalid, load_pack

ORG_TABLES = [Jurisdiction, CityPack, Department, Category, Responsibility, PlaceName, AuditRecord]


def _snapshot() -> dict[str, object]:
    """Row counts of every org table and the audit trail, plus the names (so an in-place edit shows)."""
    counts: dict[str, object] = {model.__name__: model.objects.count() for model in ORG_TABLES}
    counts["names"] = sorted(Jurisdiction.objects.values_list("code", "name"))
    counts["departments"] = sorted(Department.objects.values_list("code", "name"))
    counts["responsibilities"] = sorted(
        Responsibility.objects.values_list("category__code", "department__code", "route")
    )
    return counts


def _codes(level: str) -> set[str]:
    return set(Jurisdiction.objects.filter(level=level).values_list("code", flat=True))


# --- importing the tiny pack -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_importing_the_tiny_pack_builds_the_jurisdiction_tree(city):
    assert (city.code, city.level, city.parent, city.city) == ("TC", "city", None, city)
    assert _codes("district") == {"D1", "D2"}
    assert _codes("street") == {"D1S1", "D1S2", "D2S1", "D2S2"}
    assert _codes("community") == {"D1S1C1", "D1S1C2"}
    parents = dict(Jurisdiction.objects.exclude(level="city").values_list("code", "parent__code"))
    assert parents == {
        "D1": "TC",
        "D2": "TC",
        "D1S1": "D1",
        "D1S2": "D1",
        "D2S1": "D2",
        "D2S2": "D2",
        "D1S1C1": "D1S1",
        "D1S1C2": "D1S1",
    }
    assert set(Jurisdiction.objects.values_list("city", flat=True)) == {city.pk}
    d1s1 = Jurisdiction.objects.get(code="D1S1")
    assert (d1s1.name, d1s1.name_en) == ("金融街街道", "Finance Street Subdistrict")
    assert (d1s1.min_lon, d1s1.min_lat, d1s1.max_lon, d1s1.max_lat) == pytest.approx(
        (116.0, 39.9, 116.1, 40.0)
    )
    assert json.loads(d1s1.geometry)["type"] == "Polygon"


@pytest.mark.django_db
def test_importing_the_tiny_pack_stores_its_settings_departments_categories_and_responsibilities(city):
    pack = CityPack.objects.get(city=city)
    assert (pack.code, pack.country, pack.timezone, pack.calendar, pack.default_language) == (
        "tc",
        "CN",
        "Asia/Shanghai",
        "weekday",
        "zh-hans",
    )

    departments = {d.code: d for d in Department.objects.filter(city=city)}
    assert set(departments) == {"WATER", "CITYMGMT", "D1HOUSING"}
    assert (departments["WATER"].level, departments["WATER"].district) == ("city", None)
    assert (departments["D1HOUSING"].level, departments["D1HOUSING"].district.code) == ("district", "D1")

    depths = dict(Category.objects.filter(city=city).values_list("code", "depth"))
    assert depths == {
        "01": 1,
        "01.01": 2,
        "01.01.01": 3,
        "01.01.02": 3,
        "02": 1,
        "02.01": 2,
        "02.01.01": 3,
        "02.01.02": 3,
    }
    assert Category.objects.get(code="01.01.01").parent.code == "01.01"

    assert sorted(Responsibility.objects.values_list("category__code", "department__code", "route")) == [
        ("01", "CITYMGMT", "street"),
        ("01.01.02", "CITYMGMT", "direct"),
        ("02", "WATER", "direct"),
    ]
    assert sorted(PlaceName.objects.filter(city=city).values_list("name", "jurisdiction__code")) == [
        ("100032", "D1S1"),
        ("Finance Street Mall", "D1S1C1"),
        ("白塔寺", "D1S2"),
        ("金融街购物中心", "D1S1C1"),
    ]


@pytest.mark.django_db
def test_importing_a_city_is_audited_with_its_counts(city):
    entry = AuditRecord.objects.get(action="city.import")

    assert json.loads(entry.summary) == {
        "after": {
            "jurisdictions": 9,
            "departments": 3,
            "categories": 8,
            "responsibilities": 3,
            "place_names": 4,
            "device_case_rules": 2,
            "populations": 3,
        },
        "pack": "tc",
    }


@pytest.mark.django_db
def test_reimporting_the_same_pack_changes_nothing_but_the_audit_trail(city, tiny_pack):
    pks = {
        model.__name__: set(model.objects.values_list("pk", flat=True))
        for model in (Jurisdiction, Department, Category)
    }
    before = _snapshot()

    again = import_pack(load_pack(tiny_pack), actor=SYSTEM)

    assert again.pk == city.pk
    after = _snapshot()
    assert after.pop("AuditRecord") == before.pop("AuditRecord") + 1
    assert after == before
    assert pks == {
        model.__name__: set(model.objects.values_list("pk", flat=True))
        for model in (Jurisdiction, Department, Category)
    }


@pytest.mark.django_db
def test_reimporting_a_corrected_pack_updates_rows_in_place(city, broken_pack, street_chen):
    street_pk = street_chen.street_id
    corrected = broken_pack(
        "jurisdictions.geojson", edit=lambda text: text.replace("金融街街道", "金融街街道办事处")
    )

    import_pack(load_pack(corrected), actor=SYSTEM)

    street = Jurisdiction.objects.get(code="D1S1")
    assert (street.pk, street.name) == (street_pk, "金融街街道办事处")
    assert Jurisdiction.objects.count() == 9
    street_chen.refresh_from_db()
    assert street_chen.street == street


@pytest.mark.django_db
def test_a_pack_gives_streets_their_population_and_says_where_it_comes_from(city, broken_pack):
    streets = dict(Jurisdiction.objects.filter(city=city, level="street").values_list("code", "population"))
    assert streets == {"D1S1": 50000, "D1S2": 20000, "D2S1": 100000, "D2S2": None}
    pack = CityPack.objects.get(city=city)
    assert pack.population_illustrative and pack.population_note.startswith("Test figures")

    # a corrected pack that drops a street's figure leaves no stale population behind
    import_pack(
        load_pack(broken_pack("population.csv", edit=lambda t: t.replace("D1S2,20000\n", ""))), actor=SYSTEM
    )
    assert Jurisdiction.objects.get(city=city, code="D1S2").population is None
    # and a pack without population.csv is still a pack: every street is then "no population"
    import_pack(load_pack(broken_pack("population.csv", delete=True)), actor=SYSTEM)
    assert not Jurisdiction.objects.filter(city=city, population__isnull=False).exists()


@pytest.mark.django_db
def test_a_pack_sets_the_city_targets_and_the_rest_default(city, broken_pack):
    from cityloop.org import queries

    assert CityPack.objects.get(city=city).targets == {
        "response": 95.0,
        "resolution": 85.0,
        "satisfaction": 90.0,
    }
    assert queries.targets(city) == {"response": 95.0, "resolution": 85.0, "satisfaction": 90.0}
    without = broken_pack("pack.yaml", edit=lambda t: t[: t.index("# the leaders' brief")])
    import_pack(load_pack(without), actor=SYSTEM)
    assert queries.targets(city) == {"response": 95.0, "resolution": 90.0, "satisfaction": 90.0}


@pytest.mark.django_db
def test_only_an_administrator_may_import_a_city(tiny_pack, dispatcher_li, admin_zhang):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        import_pack(load_pack(tiny_pack), actor=dispatcher_li)
    assert not Jurisdiction.objects.exists()

    import_pack(load_pack(tiny_pack), actor=admin_zhang)
    assert AuditRecord.objects.get(action="city.import").actor_label == "admin_zhang"


# --- broken packs ----------------------------------------------------------------------------------------

BOW_TIE = (
    '{"type": "Polygon", "coordinates": [[[116.3, 39.8], [116.4, 39.9], [116.4, 39.8], [116.3, 39.9], '
    "[116.3, 39.8]]]}"
)
D2S2_SQUARE = (
    '{"type": "Polygon", "coordinates": [[[116.3, 39.8], [116.4, 39.8], [116.4, 39.9], [116.3, 39.9], '
    "[116.3, 39.8]]]}"
)

# (what is broken, file, how, the error's file prefix, where, field, words of the message)
BROKEN = {
    "an unknown parent": (
        "jurisdictions.geojson",
        lambda t: t.replace('"parent": "D2"}', '"parent": "D9"}', 1),
        "jurisdictions.geojson",
        "feature 6 (D2S1)",
        "parent",
        "unknown parent 'D9'",
    ),
    "a self-intersecting bow-tie polygon": (
        "jurisdictions.geojson",
        lambda t: t.replace(D2S2_SQUARE, BOW_TIE),
        "jurisdictions.geojson",
        "feature 7 (D2S2)",
        "geometry",
        "Self-intersection",
    ),
    "a duplicate jurisdiction code": (
        "jurisdictions.geojson",
        lambda t: t.replace('"code": "D2S2"', '"code": "D2S1"'),
        "jurisdictions.geojson",
        "feature 7 (D2S1)",
        "code",
        "duplicate code 'D2S1' (also feature 6)",
    ),
    "a street whose parent is the city": (
        "jurisdictions.geojson",
        lambda t: t.replace('"level": "street", "parent": "D1"', '"level": "street", "parent": "TC"', 1),
        "jurisdictions.geojson",
        "feature 4 (D1S1)",
        "parent",
        "a street's parent must be a district",
    ),
    "a duplicate department code": (
        "departments.csv",
        lambda t: t + "WATER,区水务局,District Water,city,\n",
        "departments",
        "line 5",
        "code",
        "duplicate code 'WATER'",
    ),
    "a duplicate category code": (
        "categories.csv",
        lambda t: t + "02.01,排水,Drainage,02\n",
        "categories",
        "line 10",
        "code",
        "duplicate code '02.01'",
    ),
    "a category with no responsible department": (
        "responsibilities.csv",
        lambda t: t.replace("02,WATER,direct\n", ""),
        "categories",
        "line 8",
        "responsibility",
        "'02.01.01'",
    ),
    "an unknown department in responsibilities": (
        "responsibilities.csv",
        lambda t: t.replace("02,WATER", "02,SEWER"),
        "responsibilities",
        "line 4",
        "department",
        "unknown department 'SEWER'",
    ),
    "a gazetteer entry for an unknown place": (
        "gazetteer.csv",
        lambda t: t + "天安门,D7\n",
        "gazetteer",
        "line 6",
        "jurisdiction",
        "unknown jurisdiction 'D7'",
    ),
    "a device case rule for an unknown device kind": (
        "device_cases.csv",
        lambda t: t + "toaster,*,02.01.01,\n",
        "device_cases",
        "line 4",
        "kind",
        "'toaster' is not a device kind",
    ),
    "a device case rule for an unknown alarm": (
        "device_cases.csv",
        lambda t: t + "gas,earthquake,02.01.01,\n",
        "device_cases",
        "line 4",
        "alarm",
        "'earthquake' is not an alarm type",
    ),
    "a device case rule naming an unknown category": (
        "device_cases.csv",
        lambda t: t.replace("water,*,02.01.01", "water,*,99.99"),
        "device_cases",
        "line 2",
        "category",
        "unknown category '99.99'",
    ),
    "a population that is not a number": (
        "population.csv",
        lambda t: t.replace("D1S2,20000", "D1S2,about 20k"),
        "population",
        "line 3",
        "population",
        "must be a whole number of residents above 0, not 'about 20k'",
    ),
    "a population of nobody": (
        "population.csv",
        lambda t: t.replace("D1S2,20000", "D1S2,0"),
        "population",
        "line 3",
        "population",
        "above 0, not '0'",
    ),
    "a population for an unknown place": (
        "population.csv",
        lambda t: t + "D9S9,1000\n",
        "population",
        "line 5",
        "jurisdiction",
        "unknown jurisdiction 'D9S9'",
    ),
    "a population for a district": (
        "population.csv",
        lambda t: t + "D1,70000\n",
        "population",
        "line 5",
        "jurisdiction",
        "population is given per street (街乡); 'D1' is a district",
    ),
    "a second population for one street": (
        "population.csv",
        lambda t: t + "D1S1,1000\n",
        "population",
        "line 5",
        "jurisdiction",
        "a second population for 'D1S1'",
    ),
    "population figures without saying where they come from": (
        "pack.yaml",
        lambda t: t.replace("population_note: 'Test figures", "population_nose: 'Test figures"),
        "pack.yaml",
        "-",
        "population_note",
        "is required with population.csv",
    ),
    "a target for a rate that has none": (
        "pack.yaml",
        lambda t: t.replace("  resolution: 85", "  resolution: 85\n  happiness: 99"),
        "pack.yaml",
        "-",
        "targets.happiness",
        "is not a rate with a target",
    ),
    "a target above 100%": (
        "pack.yaml",
        lambda t: t.replace("  resolution: 85", "  resolution: 185"),
        "pack.yaml",
        "-",
        "targets.resolution",
        "must be a percent above 0 and at most 100, not 185",
    ),
    "a target that is not a number": (
        "pack.yaml",
        lambda t: t.replace("  resolution: 85", "  resolution: high"),
        "pack.yaml",
        "-",
        "targets.resolution",
        "not 'high'",
    ),
    "a device case rule naming an unknown department": (
        "device_cases.csv",
        lambda t: t.replace("02.01.01,WATER", "02.01.01,SEWER"),
        "device_cases",
        "line 2",
        "department",
        "unknown department 'SEWER'",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("broken", list(BROKEN))
def test_a_broken_pack_is_refused_with_a_precise_error_and_nothing_changes(city, broken_pack, broken):
    filename, edit, file_prefix, where, field, words = BROKEN[broken]
    folder = broken_pack(filename, edit=edit)
    before = _snapshot()

    with pytest.raises(PackInvalid) as refused:
        load_pack(folder)

    matching = [e for e in refused.value.errors if e.field == field and e.where == where]
    assert len(matching) == 1, [str(e) for e in refused.value.errors]
    text = str(matching[0])
    assert text.startswith(file_prefix) and where in text and f": {field}: " in text and words in text

    errors = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("city", "import", str(folder), stderr=errors)
    assert text in errors.getvalue()
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_pack_without_pack_yaml_is_refused_and_nothing_changes(city, broken_pack):
    folder = broken_pack("pack.yaml", delete=True)
    before = _snapshot()

    with pytest.raises(PackInvalid) as refused:
        load_pack(folder)

    assert [str(e) for e in refused.value.errors] == [
        "pack.yaml:-: -: missing: every pack starts with pack.yaml"
    ]
    with pytest.raises(CommandError):
        call_command("city", "import", str(folder), stderr=StringIO())
    assert _snapshot() == before


def test_every_problem_of_a_pack_is_listed_at_once(broken_pack, tmp_path):
    folder = broken_pack("departments.csv", edit=lambda t: t + "WATER,重复,Dup,city,\n")
    (folder / "responsibilities.csv").write_text(
        (folder / "responsibilities.csv").read_text(encoding="utf-8").replace("02,WATER", "02,SEWER"),
        encoding="utf-8",
    )

    with pytest.raises(PackInvalid) as refused:
        load_pack(folder)

    assert {e.field for e in refused.value.errors} >= {"code", "department"}


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no city pack at .*nowhere"):
        load_pack(tmp_path / "nowhere")


@pytest.mark.django_db
def test_the_city_command_checks_and_imports_a_pack(tiny_pack):
    checked = StringIO()
    call_command("city", "import", str(tiny_pack), "--check", stdout=checked)
    assert "pack tc is valid" in checked.getvalue() and not Jurisdiction.objects.exists()

    imported = StringIO()
    call_command("city", "import", str(tiny_pack), stdout=imported)
    assert "imported tc" in imported.getvalue() and Jurisdiction.objects.count() == 9

    listed = StringIO()
    call_command("city", "list", stdout=listed)
    assert listed.getvalue().split("\n")[0] == "TC\t测试市\ttc"


# --- the built-in packs ----------------------------------------------------------------------------------


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_the_nyc_pack_is_valid_with_five_boroughs_and_59_community_districts():
    pack = load_pack("nyc")

    levels = [a.level for a in pack.areas]
    assert (levels.count("city"), levels.count("district"), levels.count("street")) == (1, 5, 59)
    assert pack.code == "nyc" and pack.meta["timezone"] == "America/New_York"
    assert _folder_size(BUILTIN_DIR / "nyc") < 1_000_000


def test_the_beijing_pack_has_16_districts_and_349_streets_with_synthetic_shapes():
    if not (BUILTIN_DIR / "beijing" / "pack.yaml").exists():
        pytest.skip("the beijing pack is not there yet")

    pack = load_pack("beijing")

    levels = [a.level for a in pack.areas]
    assert (levels.count("city"), levels.count("district"), levels.count("street")) == (1, 16, 349)
    assert {a.code: a.name for a in pack.areas}["110105016"] == "双井街道"
    assert pack.meta["synthetic_shapes"] is True
    # every street has a population, and the pack says plainly that the figures are made up
    streets = {a.code for a in pack.areas if a.level == "street"}
    assert set(pack.population) == streets and all(15_000 <= n <= 180_000 for n in pack.population.values())
    assert pack.meta["population_illustrative"] is True
    assert pack.meta["population_note"].startswith("ILLUSTRATIVE, NOT REAL")


# --- reading the city back -------------------------------------------------------------------------------


def _codes_of(placement) -> tuple[str | None, str | None, str | None]:
    return tuple(j.code if j else None for j in (placement.district, placement.street, placement.community))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "place, expected",
    [
        ("D1S1C1", ("D1", "D1S1", "D1S1C1")),
        ("D1S1C2", ("D1", "D1S1", "D1S1C2")),
        ("D1S2", ("D1", "D1S2", None)),
        ("D2S1", ("D2", "D2S1", None)),
        ("D2S2", ("D2", "D2S2", None)),
        ("D1_outside_streets", ("D1", None, None)),
        ("D2_outside_streets", ("D2", None, None)),
    ],
)
def test_a_point_is_located_to_its_district_street_and_community(city, tiny_places, place, expected):
    assert _codes_of(queries.locate(city, *tiny_places[place])) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("lon, lat", [(116.6, 39.9), (116.2, 40.3), (0.0, 0.0)])
def test_a_point_outside_the_city_is_located_nowhere(city, lon, lat):
    assert queries.locate(city, lon, lat) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text, expected",
    [
        ("西城区金融街街道武定侯街2号", ("D1", "D1S1", None)),
        ("太平桥社区门口有人占道经营", ("D1", "D1S1", "D1S1C2")),
        ("金融街购物中心北门垃圾没人清", ("D1", "D1S1", "D1S1C1")),
        ("outside the Finance Street Mall", ("D1", "D1S1", "D1S1C1")),
        ("白塔寺东边停水了", ("D1", "D1S2", None)),
        ("邮编100032", ("D1", "D1S1", None)),
        ("东城区某处", ("D2", None, None)),
    ],
)
def test_address_text_is_located_by_name_and_by_gazetteer_alias(city, text, expected):
    assert _codes_of(queries.locate_text(city, text)) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["", "   ", "火星上的某个地方"])
def test_text_naming_no_known_place_is_located_nowhere(city, text):
    assert queries.locate_text(city, text) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "category, department, route, from_category",
    [
        ("01.01.01", "CITYMGMT", "street", "01"),  # no row of its own or its parent's: the top level answers
        ("01.01.02", "CITYMGMT", "direct", "01.01.02"),  # its own row wins over the ancestors'
        ("01.01", "CITYMGMT", "street", "01"),
        ("02.01.02", "WATER", "direct", "02"),
        ("02", "WATER", "direct", "02"),
    ],
)
def test_responsibility_walks_up_to_the_nearest_row(city, category, department, route, from_category):
    found = queries.responsibility_for(Category.objects.get(city=city, code=category))

    assert (found.department.code, found.route, found.category.code) == (department, route, from_category)
