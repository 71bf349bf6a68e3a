"""Configuration from the environment.

Every setting comes from a ``CITYLOOP_*`` variable; secrets may instead name a file with
``CITYLOOP_*_FILE`` (Docker/Kubernetes secrets). A bad value raises :class:`ConfigError` with one
line that names the variable and the rule, which the ``cityloop`` command prints before exiting.
"""

from __future__ import annotations

import os
import re
import secrets
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

LANGUAGES = ("zh-hans", "en")


class ConfigError(ImproperlyConfigured):
    """A misconfiguration; its message is the one line shown to the operator."""


def env(name: str, default: str | None = None) -> str | None:
    """Read ``name`` or the file named by ``name_FILE`` (file wins only when the plain one is unset)."""
    value = os.environ.get(name)
    if value not in (None, ""):
        return value
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE={file_name!r} cannot be read: {exc.strerror}") from exc
    return default


def env_bool(name: str, default: bool) -> bool:
    raw = env(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} must be one of 1/0, true/false, yes/no, on/off")


def env_number(
    name: str, default: float, *, low: float = 0, high: float = float("inf"), integer: bool = False
) -> float:
    """A number from the environment, refused with one line when it is not a number in range."""
    raw = env(name)
    if raw is None:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError as exc:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{name}={raw!r} must be {kind}") from exc
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} must be between {low:g} and {high:g}")
    return value


def data_dir() -> Path:
    path = Path(env("CITYLOOP_DATA_DIR", "./var") or "./var").expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"CITYLOOP_DATA_DIR={str(path)!r} cannot be created: {exc.strerror}") from exc
    if not os.access(path, os.W_OK):
        raise ConfigError(f"CITYLOOP_DATA_DIR={str(path)!r} is not writable")
    return path


def secret_key(directory: Path) -> str:
    """The configured key, or one generated once into the data directory (never committed)."""
    configured = env("CITYLOOP_SECRET_KEY")
    if configured:
        if len(configured) < 32:
            raise ConfigError("CITYLOOP_SECRET_KEY must be at least 32 characters long")
        return configured
    key_file = directory / "secret_key"
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip()
    key = secrets.token_urlsafe(50)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key


def time_zone() -> str:
    name = env("CITYLOOP_TIME_ZONE", "Asia/Shanghai") or "Asia/Shanghai"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"CITYLOOP_TIME_ZONE={name!r} is not a known IANA time zone") from exc
    return name


def language() -> str:
    code = (env("CITYLOOP_LANGUAGE", "zh-hans") or "zh-hans").lower()
    if code not in LANGUAGES:
        raise ConfigError(f"CITYLOOP_LANGUAGE={code!r} must be one of {', '.join(LANGUAGES)}")
    return code


def database(directory: Path) -> dict:
    """A Django DATABASES entry from ``CITYLOOP_DATABASE_URL`` (SQLite in the data dir by default)."""
    import dj_database_url

    url = env("CITYLOOP_DATABASE_URL") or f"sqlite:///{directory / 'cityloop.sqlite3'}"
    scheme = urlparse(url).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ConfigError(
            f"CITYLOOP_DATABASE_URL scheme {scheme!r} is not supported; use sqlite:///PATH or postgresql://..."
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ConfigError(f"CITYLOOP_DATABASE_URL is not a valid database URL: {exc}") from exc
    if config["ENGINE"].endswith("sqlite3"):
        # WAL lets readers (pages) run beside the single writer; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue on busy_timeout instead of failing with "database is locked".
        # Keep connections: opening one runs the PRAGMAs, which costs more than a small request.
        config["CONN_MAX_AGE"] = 600
        config["CONN_HEALTH_CHECKS"] = False
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
        config["TEST"] = {"NAME": str(directory / "test.sqlite3")}
    else:
        pool = database_pool()
        if pool is not None:
            # psycopg's pool (Django ≥ 5.1): a worker's threads share at most max_size connections,
            # instead of one persistent connection per thread (4 workers × 16 threads = 64, and
            # PostgreSQL allows 100 by default: two web nodes would run out).
            config["CONN_MAX_AGE"] = 0  # the pool keeps them; Django refuses both at once
            config["CONN_HEALTH_CHECKS"] = False  # the pool checks a connection before lending it
            config.setdefault("OPTIONS", {})["pool"] = pool
        if env_bool("CITYLOOP_DATABASE_PGBOUNCER", False):
            if pool is not None:
                raise ConfigError(
                    "CITYLOOP_DATABASE_PGBOUNCER=1 with CITYLOOP_DATABASE_POOL: pgbouncer is the pool; "
                    "set CITYLOOP_DATABASE_POOL=off"
                )
            # transaction pooling hands each transaction any server connection: a server-side cursor
            # (QuerySet.iterator()) would outlive its transaction's connection
            config["DISABLE_SERVER_SIDE_CURSORS"] = True
    return config


def database_pool() -> dict | None:
    """``CITYLOOP_DATABASE_POOL``: ``MIN-MAX`` connections per process (e.g. ``2-8``), or ``off``
    (the default: each thread keeps its own connection for 60 s, or a pgbouncer in front does the
    pooling; docs/operations.md)."""
    raw = (env("CITYLOOP_DATABASE_POOL", "off") or "off").strip().lower()
    if raw in {"off", "0", "no", "false"}:
        return None
    low, sep, high = raw.partition("-")
    try:
        min_size, max_size = int(low), int(high if sep else low)
    except ValueError:
        min_size = max_size = -1
    if not (0 <= min_size <= max_size and 1 <= max_size <= 1000):
        raise ConfigError(
            f"CITYLOOP_DATABASE_POOL={raw!r} must be MIN-MAX connections per process with "
            "0 <= MIN <= MAX <= 1000 and MAX >= 1 (for example 2-8), or off"
        )
    timeout = env_number("CITYLOOP_DATABASE_POOL_TIMEOUT", 10, low=0.1, high=600)
    return {"min_size": min_size, "max_size": max_size, "timeout": timeout, "name": "cityloop"}


def allowed_hosts() -> list[str]:
    raw = env("CITYLOOP_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver") or ""
    return [host.strip() for host in raw.split(",") if host.strip()]


def caches(directory: Path) -> dict:
    """The shared cache behind rate limits and token lookups: Redis when ``CITYLOOP_REDIS_URL`` is set,
    else a table in the database. Both are shared by every worker and machine, so four workers do not
    mean four times a limit (a per-process memory cache would)."""
    url = env("CITYLOOP_REDIS_URL")
    if url:
        if urlparse(url).scheme not in {"redis", "rediss", "unix"}:
            raise ConfigError(f"CITYLOOP_REDIS_URL={url!r} must start with redis://, rediss:// or unix://")
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": env("CITYLOOP_CACHE_PREFIX", "cityloop") or "cityloop",
            }
        }
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cityloop_cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }


def tasks(directory: Path) -> dict:
    """Where the scheduler's queue lives (decision 0012): a SQLite file in the data directory by default,
    Redis when ``CITYLOOP_TASKS_URL=redis://...``; ``CITYLOOP_TASKS_NAME`` keeps apart the queues of
    several installations (or test runs) sharing one Redis."""
    url = env("CITYLOOP_TASKS_URL")
    name = env("CITYLOOP_TASKS_NAME", "cityloop") or "cityloop"
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", name):
        raise ConfigError(f"CITYLOOP_TASKS_NAME={name!r} must be 1-100 letters, digits or _.:-")
    if not url:
        return {"backend": "sqlite", "path": str(directory / "tasks.sqlite3"), "name": name}
    scheme = urlparse(url).scheme
    if scheme in {"redis", "rediss", "unix"}:
        return {"backend": "redis", "url": url, "name": name}
    if scheme in {"amqp", "amqps"}:
        raise ConfigError(
            f"CITYLOOP_TASKS_URL={url!r}: RabbitMQ is not supported by the task library (Huey); "
            "use redis://... or leave it unset for the SQLite file in the data directory"
        )
    raise ConfigError(
        f"CITYLOOP_TASKS_URL={url!r} must start with redis://, rediss:// or unix:// (or be unset)"
    )


def trusted_proxies() -> list:
    """The reverse proxies whose ``X-Forwarded-For`` is believed (addresses or networks, comma-separated).

    Empty by default: then the client is the connection's address and a forwarded-for header is ignored,
    because anyone can write one."""
    import ipaddress

    raw = env("CITYLOOP_TRUSTED_PROXIES", "") or ""
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ConfigError(f"CITYLOOP_TRUSTED_PROXIES: {item!r} is not an IP address or network") from exc
    return networks


def checked_env(
    name: str, default: str, parse: Callable[[str], T], check: Callable[[T], T], hint: str = ""
) -> T:
    """A value the environment gives as text, parsed, then checked by a rule its app passes in (configuration
    sits below every app and imports none of them). A ValueError of either becomes one line naming the
    variable, the value and the rule."""
    raw = env(name, default) or default
    try:
        return check(parse(raw))
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r}: {exc}{hint}") from exc


def _weights(raw: str) -> dict[str, float]:
    return {k.strip(): float(v) for k, v in (part.split("=", 1) for part in raw.split(",") if part.strip())}


def score_weights(
    default: dict[str, float], check: Callable[[dict[str, float]], dict[str, float]]
) -> dict[str, float]:
    """``CITYLOOP_SCORE_WEIGHTS=response=0.1,resolution=0.45,satisfaction=0.45`` (adding up to 1), checked by
    the hotline's rule (``hotline.rates.check_weights``)."""
    if not env("CITYLOOP_SCORE_WEIGHTS"):
        return dict(default)
    hint = " (e.g. response=0.1,resolution=0.45,satisfaction=0.45)"
    return checked_env("CITYLOOP_SCORE_WEIGHTS", "", _weights, check, hint)


def assessment_weight(check: Callable[[float], float]) -> float:
    """How much the streets' assessment weighs in a department's performance (at least 1/3)."""
    return checked_env("CITYLOOP_ASSESSMENT_WEIGHT", "0.4", float, check)


def reply_quality_weight(check: Callable[[float], float]) -> float:
    """How much the mean quality of a unit's replies (答复意见质量) weighs in its ranking score; 0 = off."""
    return checked_env("CITYLOOP_REPLY_QUALITY_WEIGHT", "0", float, check)


def reopen_rules() -> list[str]:
    """Which follow-up answers reopen a case: ``CITYLOOP_REOPEN_ON=unresolved,unsatisfied`` (or empty)."""
    raw = env("CITYLOOP_REOPEN_ON", "unresolved,unsatisfied") or ""
    rules = [r.strip() for r in raw.split(",") if r.strip()]
    unknown = sorted(set(rules) - {"unresolved", "unsatisfied"})
    if unknown:
        raise ConfigError(
            f"CITYLOOP_REOPEN_ON={raw!r}: unknown rule(s) {', '.join(unknown)}; "
            "use unresolved and/or unsatisfied"
        )
    return rules


# ------------------------------------------------------------------------------------------ folders
# Read at each call (tests point them elsewhere), never imported from the apps that own the files, so a
# backup, the audit anchor and the seal agree on one place without importing each other.


def key_dir() -> Path:
    """``$CITYLOOP_KEY_DIR`` or ``<data dir>/keys``: the seal's private keys and the audit anchor's key."""
    from django.conf import settings

    configured = os.environ.get("CITYLOOP_KEY_DIR")
    folder = Path(configured).expanduser() if configured else Path(settings.DATA_DIR) / "keys"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def brain_dir() -> Path:
    """``CITYLOOP_BRAIN_DIR`` (setting or environment) or the data dir: the brain's archive and state."""
    from django.conf import settings

    configured = getattr(settings, "CITYLOOP_BRAIN_DIR", None) or os.environ.get("CITYLOOP_BRAIN_DIR")
    root = Path(configured) if configured else Path(settings.DATA_DIR)
    root.mkdir(parents=True, exist_ok=True)
    return root


def brain_archive_dirs() -> list[Path]:
    """The brain folders whose archives the pages read: this process's ``brain_dir()`` and each folder of
    ``CITYLOOP_BRAIN_ARCHIVE_DIRS`` (separated by ``os.pathsep``). A site whose shards each keep their own
    folder (``cityloop-brain@.service``: ``brain-<shard>``) lists them all for its web nodes, mounted
    read-only where the workers run elsewhere; a device's readings are in its shard's folder only."""
    _existing_paths("CITYLOOP_BRAIN_ARCHIVE_DIRS", folders=True)
    folders = [brain_dir()]
    for part in (env("CITYLOOP_BRAIN_ARCHIVE_DIRS", "") or "").split(os.pathsep):
        if part and Path(part).expanduser() not in folders:
            folders.append(Path(part).expanduser())
    return folders


# ---------------------------------------------------------------------------- values read later
# A few values are read when they are used (tests and the worker change them at run time), not when the
# settings load. ``check_later_values`` reads each once at the start, as a Django system check
# (core/checks.py), so a bad one stops ``cityloop serve``, ``demo``, ``worker`` and ``migrate`` with one
# line naming it, the same as a bad value the settings read.
LATER_VALUES = (
    "CITYLOOP_MQTT",
    "CITYLOOP_MQTT_PREFIX",
    "CITYLOOP_MQTT_GROUP",
    "CITYLOOP_NATS_URL",
    "CITYLOOP_BRAIN_SHARD",
    "CITYLOOP_BRAIN_ARCHIVE_DIRS",
    "CITYLOOP_BRAIN_VERIFY_HOURS",
    "CITYLOOP_BRAIN_REOPEN_DAYS",
    "CITYLOOP_HOLIDAY_DIR",
    "CITYLOOP_SERVICES_LEXICON",
)
NATS_SCHEMES = ("nats", "tls", "ws", "wss")


def mqtt_address() -> tuple[str, int]:
    """``CITYLOOP_MQTT=host:port`` of the device broker (default 127.0.0.1:1883)."""
    raw = env("CITYLOOP_MQTT", "127.0.0.1:1883") or "127.0.0.1:1883"
    host, _, port = raw.rpartition(":") if ":" in raw else (raw, "", "1883")
    try:
        number = int(port or 1883)
    except ValueError:
        number = -1
    if not 1 <= number <= 65535:
        raise ConfigError(f"CITYLOOP_MQTT={raw!r} must be host:port with a port from 1 to 65535")
    return host or "127.0.0.1", number


_MQTT_LEVEL = re.compile(r"[A-Za-z0-9_.-]+")


def mqtt_prefix() -> str:
    """``CITYLOOP_MQTT_PREFIX`` (default ``cityloop``): the first topic level(s) of every device topic, so
    two installations — or two test runs — on one broker never see each other's readings."""
    raw = env("CITYLOOP_MQTT_PREFIX", "cityloop") or "cityloop"
    if not all(_MQTT_LEVEL.fullmatch(level) for level in raw.split("/")):
        raise ConfigError(
            f"CITYLOOP_MQTT_PREFIX={raw!r} must be topic levels of letters, digits, '_', '.' or '-' "
            "separated by '/' (no wildcards, no empty level, no leading '$' or '/')"
        )
    return raw


def mqtt_group() -> str:
    """``CITYLOOP_MQTT_GROUP`` (default ``cityloop-brain``): the shared-subscription group the brain
    workers join (``$share/<group>/...``), so each reading goes to one of them."""
    raw = env("CITYLOOP_MQTT_GROUP", "cityloop-brain") or "cityloop-brain"
    if not _MQTT_LEVEL.fullmatch(raw):
        raise ConfigError(f"CITYLOOP_MQTT_GROUP={raw!r} must be letters, digits, '_', '.' or '-'")
    return raw


_SHARD = re.compile(r"[A-Za-z0-9_-]{1,32}")


def brain_shard() -> str:
    """``CITYLOOP_BRAIN_SHARD`` (default ``main``): the name of the brain checkpoint this process keeps.
    Workers that own different shards on different hosts each set their own (and their own
    ``CITYLOOP_BRAIN_DIR``), so each commits its own detector state and stream position."""
    raw = env("CITYLOOP_BRAIN_SHARD", "main") or "main"
    if not _SHARD.fullmatch(raw):
        raise ConfigError(f"CITYLOOP_BRAIN_SHARD={raw!r} must be 1 to 32 letters, digits, '_' or '-'")
    return raw


def nats_url() -> str:
    """``CITYLOOP_NATS_URL`` (default nats://127.0.0.1:4222); a comma-separated list is a cluster."""
    raw = env("CITYLOOP_NATS_URL", "nats://127.0.0.1:4222") or "nats://127.0.0.1:4222"
    for part in raw.split(","):
        if urlparse(part.strip()).scheme not in NATS_SCHEMES:
            raise ConfigError(
                f"CITYLOOP_NATS_URL={raw!r}: each server must start with nats://, tls://, ws:// or wss://"
            )
    return raw


def _existing_paths(name: str, *, folders: bool) -> None:
    raw = env(name, "") or ""
    for part in raw.split(os.pathsep) if folders else [raw]:
        if not part:
            continue
        path = Path(part).expanduser()
        if not (path.is_dir() if folders else path.is_file()):
            kind = "a folder" if folders else "a file"
            raise ConfigError(f"{name}: {part!r} is not {kind} that exists")


def brain_verify_hours() -> float:
    """``CITYLOOP_BRAIN_VERIFY_HOURS``: how long readings must stay normal before a fixed case closes."""
    return env_number("CITYLOOP_BRAIN_VERIFY_HOURS", 24, low=1 / 60, high=24 * 365)


def brain_reopen_days() -> float:
    """``CITYLOOP_BRAIN_REOPEN_DAYS``: how long a closed sensor case may be reopened by its alarm."""
    return env_number("CITYLOOP_BRAIN_REOPEN_DAYS", 30, low=0, high=3650)


def check_later_values() -> list[str]:
    """One message per bad value among ``LATER_VALUES`` (empty when all are good or unset)."""
    checks: list[Callable[[], object]] = [
        mqtt_address,
        mqtt_prefix,
        mqtt_group,
        nats_url,
        brain_shard,
        brain_verify_hours,
        brain_reopen_days,
        lambda: _existing_paths("CITYLOOP_HOLIDAY_DIR", folders=True),
        lambda: _existing_paths("CITYLOOP_BRAIN_ARCHIVE_DIRS", folders=True),
        lambda: _existing_paths("CITYLOOP_SERVICES_LEXICON", folders=False),
    ]
    messages = []
    for check in checks:
        try:
            check()
        except ConfigError as exc:
            messages.append(str(exc))
    return messages
