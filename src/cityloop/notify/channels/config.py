"""The external channels' settings, read from the environment (and the files it names).

``channel_settings()`` returns plain dicts::

    {
        "sms": {"provider": "aliyun" | "off", "endpoint", "access_key_id", "access_key_secret",
                "sign_name", "templates": {event: {"code": TemplateCode, "params": [names] | None}}},
        "robots": {name: {"kind": "wecom" | "dingtalk", "url", "secret", "units": [unit codes],
                          "language": "zh-hans" | "en" | None}},
        "webhooks": bool,
        "timeout_s": float,
    }

A bad value raises :class:`ConfigError` with one line naming the variable (or the file and the entry)
and the rule. The result is kept until a variable or a named file changes, so the worker and every
queued note may call it freely.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from django.core import checks

from cityloop.core.config import LANGUAGES, ConfigError, env, env_bool, env_number

SMS_PROVIDERS = ("aliyun", "off")
ROBOT_KINDS = ("wecom", "dingtalk")
DEFAULT_SMS_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
VARIABLES = (
    "CITYLOOP_SMS_PROVIDER",
    "CITYLOOP_SMS_ENDPOINT",
    "CITYLOOP_SMS_ACCESS_KEY_ID",
    "CITYLOOP_SMS_ACCESS_KEY_ID_FILE",
    "CITYLOOP_SMS_ACCESS_KEY_SECRET",
    "CITYLOOP_SMS_ACCESS_KEY_SECRET_FILE",
    "CITYLOOP_SMS_SIGN_NAME",
    "CITYLOOP_SMS_TEMPLATES",
    "CITYLOOP_NOTIFY_ROBOTS",
    "CITYLOOP_NOTIFY_WEBHOOKS",
    "CITYLOOP_NOTIFY_HTTP_TIMEOUT_S",
)
_ROBOT_NAME = re.compile(r"^[\w.-]{1,200}$")


class _Loader(yaml.SafeLoader):
    """YAML 1.2's booleans (true/false only): a parameter called ``no`` (the tracking number) stays a name."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

_lock = threading.Lock()
_cached: tuple[tuple, dict[str, Any]] | None = None


def channel_settings() -> dict[str, Any]:
    """The SMS, robot and webhook settings (see the module's docstring); ConfigError when one is bad."""
    global _cached
    key = _fingerprint()
    with _lock:
        if _cached is not None and _cached[0] == key:
            return _cached[1]
    value = {
        "sms": _sms(),
        "robots": _robots(),
        "webhooks": env_bool("CITYLOOP_NOTIFY_WEBHOOKS", True),
        "timeout_s": env_number("CITYLOOP_NOTIFY_HTTP_TIMEOUT_S", 10, low=0.1, high=120),
    }
    with _lock:
        _cached = (key, value)
    return value


def _fingerprint() -> tuple:
    """The variables and the modification times of the files they name: what the settings depend on."""
    values = tuple(os.environ.get(name) for name in VARIABLES)
    stamps: list[tuple[int, int] | None] = []
    for name in (
        "CITYLOOP_SMS_TEMPLATES",
        "CITYLOOP_NOTIFY_ROBOTS",
        *(n for n in VARIABLES if n.endswith("_FILE")),
    ):
        path = os.environ.get(name)
        if path:
            try:
                st = os.stat(path)
                stamps.append((st.st_mtime_ns, st.st_size))
            except OSError:
                stamps.append(None)
    return values, tuple(stamps)


def _http_url(name: str, raw: str) -> str:
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name}={raw!r} must be an http:// or https:// URL")
    return raw


def _sms() -> dict[str, Any]:
    provider = (env("CITYLOOP_SMS_PROVIDER", "off") or "off").strip().lower()
    if provider not in SMS_PROVIDERS:
        raise ConfigError(f"CITYLOOP_SMS_PROVIDER={provider!r} must be one of {', '.join(SMS_PROVIDERS)}")
    endpoint = _http_url("CITYLOOP_SMS_ENDPOINT", env("CITYLOOP_SMS_ENDPOINT", DEFAULT_SMS_ENDPOINT) or "")
    if provider == "off":
        return {"provider": "off", "endpoint": endpoint, "templates": {}}
    needed = {
        "access_key_id": "CITYLOOP_SMS_ACCESS_KEY_ID",
        "access_key_secret": "CITYLOOP_SMS_ACCESS_KEY_SECRET",
        "sign_name": "CITYLOOP_SMS_SIGN_NAME",
        "templates_path": "CITYLOOP_SMS_TEMPLATES",
    }
    values = {}
    for key, name in needed.items():
        value = (env(name) or "").strip()
        if not value:
            raise ConfigError(f"{name} must be set when CITYLOOP_SMS_PROVIDER={provider}")
        values[key] = value
    return {
        "provider": provider,
        "endpoint": endpoint,
        "access_key_id": values["access_key_id"],
        "access_key_secret": values["access_key_secret"],
        "sign_name": values["sign_name"],
        "templates": _templates(values["templates_path"]),
    }


def _load(name: str, path: str) -> Any:
    """A YAML (or JSON, which YAML reads too) file named by the variable ``name``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{name}={path!r} cannot be read: {exc.strerror}") from exc
    try:
        if path.endswith(".json"):
            return json.loads(text)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{name}={path!r} is not valid {'JSON' if path.endswith('.json') else 'YAML'}: {exc}"
        ) from exc


def _templates(path: str) -> dict[str, dict[str, Any]]:
    """event → TemplateCode, or event → {code: TemplateCode, params: [the parameters the template names]}."""
    name = "CITYLOOP_SMS_TEMPLATES"
    data = _load(name, path)
    if not isinstance(data, dict) or not data:
        raise ConfigError(
            f"{name}={path!r} must map each event to its TemplateCode (e.g. request.received: SMS_1234)"
        )
    out: dict[str, dict[str, Any]] = {}
    for event, entry in data.items():
        if isinstance(entry, str):
            entry = {"code": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str) or not entry["code"].strip():
            raise ConfigError(f"{name}={path!r}: {event!r} must name a TemplateCode (a string, or code: …)")
        params = entry.get("params")
        if params is not None and (
            not isinstance(params, list) or not all(isinstance(p, str) for p in params)
        ):
            raise ConfigError(f"{name}={path!r}: {event!r} params must be a list of parameter names")
        unknown = set(entry) - {"code", "params"}
        if unknown:
            raise ConfigError(
                f"{name}={path!r}: {event!r} has unknown keys {sorted(unknown)} (allowed: code, params)"
            )
        out[str(event)] = {"code": entry["code"].strip(), "params": params}
    return out


def _robots() -> dict[str, dict[str, Any]]:
    """name → {kind, url, secret, units, language} from the YAML file CITYLOOP_NOTIFY_ROBOTS names."""
    name = "CITYLOOP_NOTIFY_ROBOTS"
    path = env(name)
    if not path:
        return {}
    data = _load(name, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name}={path!r} must map each robot's name to {{kind, url, secret, units}}")
    out: dict[str, dict[str, Any]] = {}
    for robot, entry in data.items():
        where = f"{name}={path!r}: robot {robot!r}"
        if not isinstance(robot, str) or not _ROBOT_NAME.match(robot):
            raise ConfigError(f"{where} must be named with letters, digits, '_', '.' or '-'")
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a mapping with kind, url, secret, units")
        unknown = set(entry) - {"kind", "url", "secret", "units", "language"}
        if unknown:
            raise ConfigError(
                f"{where} has unknown keys {sorted(unknown)} (allowed: kind, url, secret, units, language)"
            )
        kind = str(entry.get("kind") or "").strip().lower()
        if kind not in ROBOT_KINDS:
            raise ConfigError(f"{where}: kind must be one of {', '.join(ROBOT_KINDS)}")
        url = str(entry.get("url") or "")
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"{where}: url must be an http:// or https:// URL")
        if kind == "wecom" and "key=" not in parsed.query:
            raise ConfigError(f"{where}: a WeCom robot's url carries its key (…/cgi-bin/webhook/send?key=…)")
        if kind == "dingtalk" and "access_token=" not in parsed.query:
            raise ConfigError(
                f"{where}: a DingTalk robot's url carries its access_token (…/robot/send?access_token=…)"
            )
        secret = entry.get("secret")
        secret = "" if secret is None else str(secret).strip()
        if kind == "dingtalk" and not secret:
            raise ConfigError(f"{where}: a DingTalk robot needs its signing secret (SEC…) under secret")
        if kind == "wecom" and secret:
            raise ConfigError(
                f"{where}: WeCom robots are not signed (the key in the url is the secret); drop secret"
            )
        units = entry.get("units") or []
        if isinstance(units, str):
            units = [units]
        if not isinstance(units, list) or not all(isinstance(u, str | int) for u in units):
            raise ConfigError(f"{where}: units must be a list of unit codes")
        language = entry.get("language")
        if language is not None and language not in LANGUAGES:
            raise ConfigError(f"{where}: language must be one of {', '.join(LANGUAGES)}")
        out[robot] = {
            "kind": kind,
            "url": url,
            "secret": secret,
            "units": [str(u) for u in units],
            "language": language,
        }
    return out


@checks.register()
def channel_values(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The channels' settings are read when a message is queued or sent; a bad one stops the commands at
    the start instead (``serve``, ``demo``, ``notify deliver``, ``migrate``), with one line naming it."""
    try:
        channel_settings()
    except ConfigError as exc:
        return [checks.Error(str(exc), hint="fix or unset the environment variable", id="cityloop.E002")]
    return []
