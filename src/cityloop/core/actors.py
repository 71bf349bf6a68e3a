"""Who does a thing: a person, or the system acting on the city's behalf. Never ``None``.

Every action takes ``actor`` (keyword-only, required): the ``User`` behind a page or a token, an
``AnonymousUser`` for the public doors, or a ``SystemActor`` for a command, an import, the city brain
or a scheduled job. ``None`` used to mean "the system" in some places and "nobody" in others; a
system actor is now named, so a permission check can tell the two apart and the audit trail says
which part of the system acted (decision 0009).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeAlias, cast

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from cityloop.core.models import User


@dataclass(frozen=True)
class SystemActor:
    """The system acting on the city's behalf. Permission checks let it through; reads treat it as
    nobody in particular (it is not signed in, has no role, no street and no department)."""

    name: str

    is_authenticated: ClassVar[bool] = False
    is_anonymous: ClassVar[bool] = False
    is_superuser: ClassVar[bool] = False
    is_staff: ClassVar[bool] = False
    is_active: ClassVar[bool] = True
    pk: ClassVar[None] = None
    id: ClassVar[None] = None
    role: ClassVar[str] = ""
    street_id: ClassVar[None] = None
    department_id: ClassVar[None] = None

    def get_username(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        """How the audit trail names it: ``system``, ``command``, ``brain``, …"""
        return self.name

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def __str__(self) -> str:
        return self.name


SYSTEM = SystemActor("system")
"""The machine's owner at the command line, and anything else not worth a name of its own."""
COMMAND = SystemActor("command")
"""A ``cityloop`` management command run by whoever owns the machine."""
IMPORT = SystemActor("import")
"""A bulk import or replay of records from another system."""
DEMO = SystemActor("demo")
"""The demo and synthetic-history loaders."""
BRAIN = SystemActor("brain")
"""The city brain: alarms that open cases, readings that confirm or reopen them."""
SCHEDULE = SystemActor("schedule")
"""A scheduled job (escalations, recounts, reminders)."""

Actor: TypeAlias = "User | AnonymousUser | SystemActor"


def is_system(actor: object) -> bool:
    """Whether the system acts (it passes every permission check an action makes)."""
    return isinstance(actor, SystemActor)


def checked(actor: object) -> Actor:
    """``actor``, refusing ``None``: every write names who does it."""
    if actor is None:
        raise TypeError(
            "actor is required: pass the User, or a SystemActor such as cityloop.core.actors.SYSTEM"
        )
    return actor  # type: ignore[return-value]


def person(actor: object) -> User | None:
    """The signed-in person behind ``actor``; ``None`` for the system and for the anonymous public."""
    if isinstance(actor, SystemActor) or not getattr(checked(actor), "is_authenticated", False):
        return None
    return cast("User", actor)


def signed_in(actor: object) -> User:
    """The signed-in person behind ``actor``, for a step only a person can take."""
    found = person(actor)
    if found is None:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("only a signed-in person may do this")
    return found
