"""``cityloop seal verify|rotate|export-keys|status-list|revoke``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cityloop.core import actors
from cityloop.core.doors.forms import format_errors
from cityloop.seal import actions, keyring, published, rules, verify
from cityloop.seal.models import CITY_AUTHORITY, Certificate


def _read_json(path: str | None, what: str) -> dict | None:
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"--{what} {path}: cannot be read as JSON ({exc})") from exc


def _write(document: dict, output: str | None, stdout) -> None:
    text = json.dumps(document, ensure_ascii=False, indent=1)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
    else:
        stdout.write(text)


def payload_from_argument(argument: str) -> str:
    """A file (PDF/HTML/text) holding the payload, ``-`` for stdin, or the payload itself."""
    if argument == "-":
        data: bytes | str = sys.stdin.buffer.read()
    elif not argument.startswith("CL1:") and Path(argument).is_file():
        data = Path(argument).read_bytes()
    else:
        return argument
    found = verify.extract_payload(data)
    if found is None:
        raise CommandError(f"{argument}: no CityLoop signed data (CLSEAL:…:CLSEAL or CL1:…) found in it")
    return found


class Command(BaseCommand):
    help = "E-certificate seals: verify a certificate, rotate keys, publish keys and the status list, revoke."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("verify", help="verify a certificate file or payload; exit 0 valid, 1 not")
        check.add_argument("source", help="a PDF/HTML/text file, '-' for stdin, or the CL1:… text")
        check.add_argument("--keys", help="verify offline against this keys.json (from export-keys)")
        check.add_argument("--status-list", help="check revocation offline against this status.json")
        rotate = sub.add_parser("rotate", help="retire the authority's current key and start a new one")
        rotate.add_argument(
            "--department", help="a department code: rotate (or create) that department's own seal"
        )
        export = sub.add_parser("export-keys", help="write keys.json (every public key with its validity)")
        export.add_argument("--output", "-o")
        status = sub.add_parser("status-list", help="write the signed revocation status list (status.json)")
        status.add_argument("--output", "-o")
        revoke = sub.add_parser("revoke", help="revoke a certificate by serial")
        revoke.add_argument("serial")
        revoke.add_argument("--reason", required=True)

    def handle(self, *args, **options):
        handler = getattr(self, "handle_" + options["action"].replace("-", "_"))
        try:
            handler(options)
        except ValidationError as exc:
            raise CommandError(format_errors(exc)) from exc
        except keyring.KeyringError as exc:
            raise CommandError(str(exc)) from exc

    def handle_verify(self, options):
        text = payload_from_argument(options["source"])
        result = verify.verify_text(
            text,
            keys=_read_json(options.get("keys"), "keys"),
            status_list=_read_json(options.get("status_list"), "status-list"),
        )
        if not result.ok:
            raise CommandError(f"NOT VALID: {result.reason}", returncode=1)
        self.stdout.write(f"VALID: {result.reason}")
        for name in ("serial", "title", "issuer", "holder_name", "holder_id"):
            self.stdout.write(f"  {name}: {result.claims.get(name, '')}")
        for label, value in (result.claims.get("fields") or {}).items():
            self.stdout.write(f"  {label}: {value}")

    def handle_rotate(self, options):
        authority = (
            rules.authority_for_department(options["department"])
            if options.get("department")
            else CITY_AUTHORITY
        )
        if options.get("department"):
            from cityloop.org import queries as org_queries

            if org_queries.department(code=options["department"]) is None:
                raise CommandError(f"--department {options['department']}: no department with this code")
        key = actions.rotate_key(authority, actor=actors.COMMAND)
        self.stdout.write(f"{authority}: new key {key.kid} (private key in {keyring.path_of(key.kid)})")

    def handle_export_keys(self, options):
        _write(published.keys_document(), options.get("output"), self.stdout)

    def handle_status_list(self, options):
        with transaction.atomic():
            key = actions.signing_key(CITY_AUTHORITY, actor=actors.COMMAND)
        _write(published.status_list_document(key), options.get("output"), self.stdout)

    def handle_revoke(self, options):
        cert = Certificate.objects.filter(serial=options["serial"]).first()
        if cert is None:
            raise CommandError(f"no certificate {options['serial']}")
        actions.revoke_certificate(cert, reason=options["reason"], actor=actors.COMMAND)
        self.stdout.write(f"revoked {cert.serial}")
