"""Which scope each role needs (pure)."""

from __future__ import annotations

STREET_SCOPED = {"street"}
DEPARTMENT_SCOPED = {"department"}
# A leader may lead one unit (a street, a district or a department: escalations reach them); one
# without a unit is a city leader.
UNIT_OPTIONAL = {"leader"}


def scope_errors(role: str, *, street_level: str | None, has_department: bool) -> dict[str, str]:
    """Field errors for a role/scope combination; empty when it is consistent."""
    errors: dict[str, str] = {}
    if role in STREET_SCOPED:
        if street_level is None:
            errors["street"] = "a street official must be assigned to a street"
        elif street_level != "street":
            errors["street"] = f"a street official's unit must be a street, not a {street_level}"
    elif street_level is not None and role not in UNIT_OPTIONAL:
        errors["street"] = f"role {role!r} is not scoped to a street; leave it empty"
    if role in DEPARTMENT_SCOPED:
        if not has_department:
            errors["department"] = "department staff must be assigned to a department"
    elif has_department and role not in UNIT_OPTIONAL:
        errors["department"] = f"role {role!r} is not scoped to a department; leave it empty"
    if role in UNIT_OPTIONAL and street_level is not None and has_department:
        errors["department"] = "a leader leads one unit: a street or district, or a department, not both"
    return errors
