"""Every write of the seal app: keys (create, rotate) and certificates (issue, revoke)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cityloop.core import actors, audit
from cityloop.core.actors import Actor
from cityloop.org import queries as org_queries
from cityloop.org.queries import default_city
from cityloop.seal import cose, keyring, queries, rules
from cityloop.seal.models import CITY_AUTHORITY, Certificate, Counter, SigningKey

LIMITS = {"holder_name": 200, "holder_id": 40, "title": 200, "source_ref": 200}


def _authority_name(authority: str) -> str:
    if authority == CITY_AUTHORITY:
        city = default_city()
        return city.name if city is not None else "CityLoop"
    code = authority.split(":", 1)[1]
    department = org_queries.department(code=code)
    return department.name if department is not None else code


def _require_key_admin(actor: Actor) -> None:
    if not queries.may_act_for(actor, None):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("only an administrator may create or rotate seal keys")


def create_signing_key(authority: str, *, actor: Actor) -> SigningKey:
    """A first key for ``authority`` (``city`` or ``dept:<code>``); the private half goes to a file."""
    _require_key_admin(actor)
    if authority != CITY_AUTHORITY and not authority.startswith("dept:"):
        raise ValidationError({"authority": "an authority is 'city' or 'dept:<department code>'"})
    kid, key = keyring.generate()
    with transaction.atomic():
        row = SigningKey.objects.create(
            kid=kid,
            authority=authority,
            authority_name=_authority_name(authority),
            public_key_pem=keyring.public_pem(key.public_key()),
            created_at=timezone.now(),
        )
        audit.record(actor, "seal.key_create", row, after={"kid": kid, "authority": authority})
    return row


def rotate_key(authority: str, *, actor: Actor) -> SigningKey:
    """Retire the authority's current key and start a new one; the old public key stays published."""
    _require_key_admin(actor)
    with transaction.atomic():
        old = (
            SigningKey.objects.select_for_update()
            .filter(authority=authority, retired_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        new = create_signing_key(authority, actor=actor)
        if old is not None:
            old.retired_at = new.created_at
            old.save(update_fields=["retired_at"])
            audit.record(actor, "seal.key_rotate", old, before=old.kid, after=new.kid, authority=authority)
            # only after the retirement is stored: a rollback must not leave the old key without its file
            transaction.on_commit(lambda kid=old.kid: keyring.discard(kid))
    return new


def signing_key(authority: str, *, actor: Actor) -> SigningKey:
    key = queries.current_key(authority)
    if key is None:
        if authority != CITY_AUTHORITY:
            raise ValidationError({"authority": f"{authority} has no seal key"})
        # the city seal is made on first use; creating it is audited like any other key
        key = create_signing_key(CITY_AUTHORITY, actor=actors.SYSTEM)
    return key


def _next(name: str) -> int:
    counter, _ = Counter.objects.select_for_update().get_or_create(name=name)
    counter.value += 1
    counter.save(update_fields=["value"])
    return counter.value


def _clean(holder_name: str, holder_id: str, title: str, fields: dict, source_ref: str) -> dict:
    errors: dict[str, str] = {}
    values = {"holder_name": holder_name, "holder_id": holder_id, "title": title, "source_ref": source_ref}
    for name, value in values.items():
        if not isinstance(value, str):
            errors[name] = "must be text"
        elif name != "source_ref" and not value.strip():
            errors[name] = "must not be empty"
        elif len(value.strip()) > LIMITS[name]:
            errors[name] = f"must be at most {LIMITS[name]} characters"
    if not isinstance(fields, dict):
        errors["fields"] = "must be a mapping of text labels to text values"
    else:
        bad = [
            str(k)
            for k, v in fields.items()
            if not isinstance(k, str) or not isinstance(v, str) or not k.strip()
        ]
        if bad:
            errors["fields"] = f"every label and value must be text, labels not empty (bad: {', '.join(bad)})"
    if errors:
        raise ValidationError(errors)
    return {name: value.strip() for name, value in values.items()}


def issue_certificate(
    *,
    issuer_department,
    holder_name: str,
    holder_id: str,
    title: str,
    fields: dict[str, str],
    source_ref: str,
    actor: Actor,
    holder_user=None,
) -> Certificate:
    """Sign and store a certificate with the issuing authority's current key (one seal by default)."""
    queries.require_may_act_for(actor, issuer_department)
    values = _clean(holder_name, holder_id, title, fields, source_ref)
    with transaction.atomic():
        key = signing_key(queries.authority_of(issuer_department), actor=actor)
        now = timezone.now().replace(microsecond=0)
        serial = rules.format_serial(
            timezone.localtime(now).year, _next(f"serial-{timezone.localtime(now).year}")
        )
        status_index = _next("status") - 1
        issuer = issuer_department.name if issuer_department is not None else key.authority_name
        claims = {
            "serial": serial,
            "issuer": issuer,
            "issuer_authority": key.authority,
            "holder_name": values["holder_name"],
            "holder_id": rules.mask_holder_id(values["holder_id"]),
            "title": values["title"],
            "fields": dict(fields),
            "issued_at": int(now.timestamp()),
            "kid": key.kid,
            "status_index": status_index,
        }
        signed = cose.sign(rules.to_claims_map(claims), kid=bytes.fromhex(key.kid), key=keyring.load(key.kid))
        cert = Certificate.objects.create(
            serial=serial,
            issuer_department=issuer_department,
            issuer_name=issuer,
            holder_name=values["holder_name"],
            holder_id=values["holder_id"],
            holder_user=holder_user,
            title=values["title"],
            fields=dict(fields),
            issued_at=now,
            kid=key.kid,
            payload=cose.encode_text(signed),
            status_index=status_index,
            source_ref=values["source_ref"],
        )
        audit.record(
            actor,
            "certificate.issue",
            cert,
            after={"serial": serial, "kid": key.kid},
            source_ref=values["source_ref"],
        )
    return cert


def revoke_certificate(cert: Certificate, *, reason: str, actor: Actor) -> Certificate:
    """Mark it revoked; the published status list carries the bit from now on."""
    queries.require_may_act_for(actor, cert.issuer_department)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "a revocation needs a reason the holder and verifiers can read"})
    if len(reason) > 500:
        raise ValidationError({"reason": "must be at most 500 characters"})
    with transaction.atomic():
        cert = Certificate.objects.select_for_update().get(pk=cert.pk)
        if cert.revoked_at is not None:
            raise ValidationError({"serial": f"certificate {cert.serial} is already revoked"})
        cert.revoked_at, cert.revocation_reason = timezone.now(), reason
        cert.save(update_fields=["revoked_at", "revocation_reason"])
        audit.record(actor, "certificate.revoke", cert, before="valid", after="revoked", reason=reason)
    return cert
