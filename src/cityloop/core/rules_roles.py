"""Which scope each role needs (pure)."""

from __future__ import annotations

STREET_SCOPED = {"street"}
DEPARTMENT_SCOPED = {"department"}


def scope_errors(role: str, *, street_level: str | None, has_department: bool) -> dict[str, str]:
    """Field errors for a role/scope combination; empty when it is consistent."""
    errors: dict[str, str] = {}
    if role in STREET_SCOPED:
        if street_level is None:
            errors["street"] = "a street official must be assigned to a street"
        elif street_level != "street":
            errors["street"] = f"a street official's unit must be a street, not a {street_level}"
    elif street_level is not None:
        errors["street"] = f"role {role!r} is not scoped to a street; leave it empty"
    if role in DEPARTMENT_SCOPED:
        if not has_department:
            errors["department"] = "department staff must be assigned to a department"
    elif has_department:
        errors["department"] = f"role {role!r} is not scoped to a department; leave it empty"
    return errors
