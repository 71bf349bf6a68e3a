"""Backup and restore round trip of the demo city (issue 15), on SQLite or PostgreSQL.

    python bench/bench_backup.py                                   # SQLite
    python bench/bench_backup.py --database-url postgresql://postgres@127.0.0.1:5432/bench_backup

Loads the Beijing demo city into a fresh data directory (and, on PostgreSQL, a fresh database named
by the URL, and a second one with ``_restored`` appended for the restore), then times as an operator
runs them: ``cityloop backup DEST --with-secrets``, ``cityloop restore`` into an empty data directory
and database, and ``cityloop audit verify`` there. It checks that the restored database holds as many
requests, audit records and certificates as the original (tests/core/test_backup.py checks that the
certificates still verify). The last line is
``RESULT database= backup_s= restore_s= verify_s= archive_mb= requests= lost=``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _postgres import fresh_postgres  # noqa: E402 - a sibling module

BIN = Path(sys.executable).parent
PASSPHRASE = "bench-backup-passphrase"  # noqa: S105 - a throwaway archive's


def cityloop(env: dict, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own command
        [str(BIN / "cityloop"), *args], env=env, capture_output=True, text=True, check=False
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"cityloop {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return took, done.stdout


COUNT = """
import django; django.setup()
from django.db import connection
with connection.cursor() as c:
    c.execute("SELECT count(*) FROM hotline_request"); r = c.fetchone()[0]
    c.execute("SELECT count(*) FROM core_audit_record"); a = c.fetchone()[0]
    c.execute("SELECT count(*) FROM seal_certificate"); s = c.fetchone()[0]
print(r, a, s)
"""


def counts(env: dict) -> tuple[int, int, int]:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", COUNT],
        env={**env, "DJANGO_SETTINGS_MODULE": "cityloop.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    r, a, s = (int(x) for x in done.stdout.split())
    return r, a, s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL database for the bench (dropped and created)")
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CITYLOOP_")}
    base.update(CITYLOOP_BACKUP_PASSPHRASE=PASSPHRASE)
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        root = Path(tmp)
        source = {**base, "CITYLOOP_DATA_DIR": str(root / "source")}
        target = {**base, "CITYLOOP_DATA_DIR": str(root / "restored")}
        if args.database_url:
            restored_url = f"{args.database_url}_restored"
            fresh_postgres(args.database_url)
            fresh_postgres(restored_url)
            source["CITYLOOP_DATABASE_URL"] = args.database_url
            target["CITYLOOP_DATABASE_URL"] = restored_url
        database = "PostgreSQL" if args.database_url else "SQLite"
        loaded, _ = cityloop(source, "demo", "--load-only")
        before = counts(source)
        print(
            f"{database}: demo city loaded in {loaded:.1f} s: {before[0]} requests, "
            f"{before[1]} audit records, {before[2]} certificates"
        )
        (root / "backups").mkdir()
        backup_s, said = cityloop(source, "backup", str(root / "backups"), "--with-secrets")
        archive = next((root / "backups").glob("*.tar"))
        size_mb = archive.stat().st_size / 1e6
        print(f"backup: {backup_s:.1f} s, {size_mb:.1f} MB ({said.strip().splitlines()[-1]})")
        restore_s, said = cityloop(target, "restore", str(archive))
        print(f"restore: {restore_s:.1f} s ({said.strip().splitlines()[-1]})")
        verify_s, said = cityloop(target, "audit", "verify")
        print(f"audit verify: {verify_s:.1f} s ({said.strip().splitlines()[-1]})")
        after = counts(target)
        lost = sum(max(0, b - a) for b, a in zip(before, after, strict=True))
        if after != before:
            print(f"MISMATCH: before {before}, after {after}")
        print(
            f"machine: {os.cpu_count()} cores, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
        print(
            f"RESULT database={database.lower()} backup_s={backup_s:.1f} restore_s={restore_s:.1f} "
            f"verify_s={verify_s:.1f} archive_mb={size_mb:.1f} requests={after[0]} lost={lost}"
        )
        if lost or after != before:
            sys.exit(1)


if __name__ == "__main__":
    main()
