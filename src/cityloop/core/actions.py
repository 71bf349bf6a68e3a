"""Every write to accounts and tokens: permission check, change, audit record."""

from __future__ import annotations

import re
from datetime import datetime

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cityloop.core import audit, tokens
from cityloop.core.actors import Actor
from cityloop.core.models import ApiToken, Role, User
from cityloop.core.queries import require_admin


def _require_admin(actor: Actor) -> None:
    require_admin(actor, to="manage accounts and tokens")


@transaction.atomic
def add_user(
    *,
    username: str,
    password: str,
    role: str,
    actor: Actor,
    full_name: str = "",
    phone: str = "",
    email: str = "",
    street=None,
    department=None,
    check_password: bool = True,
) -> User:
    """Create an account; the role decides which scope (street or department) it must have."""
    _require_admin(actor)
    if role not in Role.values:
        raise ValidationError({"role": f"unknown role {role!r}; choose one of {', '.join(Role.values)}"})
    if not username.strip():
        raise ValidationError({"username": "a username is required"})
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": f"the username {username!r} is taken"})
    user = User(
        username=username,
        role=role,
        full_name=full_name,
        phone=phone,
        email=email,
        street=street,
        department=department,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    if check_password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    audit.record(
        actor,
        "user.add",
        user,
        after={"role": role, "street": street and street.code, "department": department and department.code},
    )
    return user


# A gateway id is an MQTT topic level and a NATS subject token.
GATEWAY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@transaction.atomic
def create_token(
    *,
    user: User,
    name: str,
    scopes: list[str],
    actor: Actor,
    expires_at: datetime | None = None,
    gateway: str = "",
) -> tuple[ApiToken, str]:
    """A new token for ``user``; the returned secret is never stored and cannot be shown again."""
    _require_admin(actor)
    unknown = sorted(set(scopes) - set(tokens.SCOPES))
    if not scopes:
        raise ValidationError({"scopes": f"name at least one scope: {', '.join(sorted(tokens.SCOPES))}"})
    if unknown:
        raise ValidationError(
            {"scopes": f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(tokens.SCOPES))}"}
        )
    if not name.strip():
        raise ValidationError({"name": "a token needs a name saying who uses it"})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "the expiry must be in the future"})
    gateway = (gateway or "").strip()
    if gateway and "brain" not in scopes:
        raise ValidationError({"gateway": "only a token with the scope brain is bound to a gateway"})
    if gateway and gateway != "*" and not GATEWAY_ID.match(gateway):
        raise ValidationError({"gateway": "letters, digits, '-' and '_' (at most 64), or * for every device"})
    secret, prefix, digest = tokens.new_secret()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        digest=digest,
        scopes=",".join(sorted(set(scopes))),
        expires_at=expires_at,
        gateway=gateway,
    )
    after = {"user": user.username, "scopes": token.scopes, **({"gateway": gateway} if gateway else {})}
    audit.record(actor, "token.create", token, after=after)
    return token, secret


@transaction.atomic
def revoke_token(token: ApiToken, *, actor: Actor) -> ApiToken:
    _require_admin(actor)
    if token.revoked_at is not None:
        raise ValidationError(
            {"token": f"token {token.prefix} was already revoked at {token.revoked_at:%Y-%m-%d %H:%M}"}
        )
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    # This process refuses the token at once; every other process within tokens.EPOCH_SECONDS.
    tokens.forget_cached()
    transaction.on_commit(tokens.bump_epoch)
    audit.record(actor, "token.revoke", token, before="active", after="revoked")
    return token
