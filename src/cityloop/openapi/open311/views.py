"""The Open311 endpoints: parse, authorise, call one action or query, render. No rules of their own."""

from __future__ import annotations

import functools
import re

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import QueryDict
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from cityloop.core import tokens
from cityloop.core.text import clean_line, clean_text
from cityloop.hotline import published as queries
from cityloop.openapi.open311 import (
    actions,
    config,
    definitions,
    params,
    publication,
    ratelimit,
    records,
)
from cityloop.openapi.open311.render import FORMATS, Open311Error, error_response, respond

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def endpoint(*methods: str):
    """Checks the format and method, and turns every Open311Error into an <errors> answer."""

    def wrap(view):
        @csrf_exempt
        @functools.wraps(view)
        def run(request, *args, fmt: str, **kwargs):
            try:
                _read_parameters(request)
                if fmt not in FORMATS:
                    raise Open311Error(404, ("format", f"{fmt!r} is not served; use .xml or .json"))
                method = "GET" if request.method == "HEAD" else request.method
                if method not in methods:
                    raise Open311Error(
                        400,
                        ("method", f"{request.method} is not allowed here; use {' or '.join(methods)}"),
                        headers={"Allow": ", ".join(methods)},
                    )
                for name, given in [*request.GET.lists(), *[(k, [v]) for k, v in kwargs.items()]]:
                    if any(CONTROL.search(text) for text in given) or CONTROL.search(name):
                        # No query parameter or path part means a control character (a NUL even
                        # breaks PostgreSQL).
                        raise Open311Error(400, (name[:40], "contains a control character"))
                if method == "POST" and request.content_type not in FORM_TYPES:
                    raise Open311Error(
                        400,
                        (
                            "body",
                            "send the fields form-urlencoded "
                            "(Content-Type: application/x-www-form-urlencoded)",
                        ),
                    )
                if method == "POST":
                    request.POST = _stored_text_rule(request.POST)
                return view(request, *args, fmt=fmt, **kwargs)
            except Open311Error as error:
                return error_response(fmt, error)

        return run

    return wrap


def _read_parameters(request) -> None:
    """Parse the query and the body now, so a body or a query beyond Django's limits is an Open311 400."""
    try:
        request.GET  # noqa: B018 - parsing is what is checked
        if request.method == "POST" and request.content_type in FORM_TYPES:
            request.POST  # noqa: B018
    except RequestDataTooBig:
        raise Open311Error(400, ("body", "too large")) from None
    except (TooManyFieldsSent, TooManyFilesSent):
        raise Open311Error(400, ("", "too many parameters")) from None
    except MultiPartParserError:
        raise Open311Error(400, ("body", "not a readable multipart form")) from None


def _stored_text_rule(form) -> QueryDict:
    """The form with the stored-text rule (core/text.py) applied to every name and value: this door
    cleans what it stores, as every other one does (a NUL is a PostgreSQL error, a \\x01 breaks XML).
    The description and attribute values keep their line breaks (a string attribute with one is refused);
    every other field is a single line."""
    cleaned = QueryDict(mutable=True)
    for name, given in form.lists():
        key = clean_line(name)
        multiline = key == "description" or key.startswith("attribute[")
        if key:
            cleaned.setlist(key, [clean_text(v, multiline=multiline) for v in given])
    cleaned._mutable = False
    return cleaned


def _authorise(request, form):
    """Rate limit per IP, then the api_key (403), then the limit per key; returns the token."""
    per_ip, per_ip_seconds = config.get("rate_limit_per_ip")
    ratelimit.hit(f"ip:{ratelimit.client_ip(request)}", limit=per_ip, seconds=per_ip_seconds)
    if "api_key" in request.GET:
        # A key in the URL ends up in proxy and server logs and browser histories: the body only.
        raise Open311Error(400, ("api_key", "send it in the POST body, never in the query string"))
    key = params.value(form, "api_key")
    if not key:
        raise Open311Error(
            403, ("api_key", "missing: POSTs need an API key (a CityLoop token with the scope open311)")
        )
    found = tokens.lookup(key, scope="open311")
    if found is None:
        raise Open311Error(403, ("api_key", "invalid, expired, revoked or without the scope open311"))
    per_key, per_key_seconds = config.get("rate_limit_per_key")
    ratelimit.hit(f"key:{found.pk}", limit=per_key, seconds=per_key_seconds)
    return found


def _city(request, form=None):
    if form is not None and params.value(form, "jurisdiction_id"):
        return params.jurisdiction(form)
    return params.jurisdiction(request.GET)


@endpoint("GET")
def discovery(request, *, fmt):
    root = request.build_absolute_uri(reverse("open311:discovery", kwargs={"fmt": fmt})).rsplit("/", 1)[0]
    data = {
        "changeset": config.CHANGESET,
        "contact": config.get("contact"),
        "key_service": config.get("key_service"),
        "endpoints": [
            {
                "specification": config.SPECIFICATION,
                "url": root,
                "changeset": config.CHANGESET,
                "type": "production",
                "formats": list(f.split(";")[0] for f in FORMATS.values()),
            }
        ],
    }
    return respond(fmt, "discovery", data)


@endpoint("GET")
def services(request, *, fmt):
    city = _city(request)
    return respond(fmt, "services", [s.as_open311() for s in definitions.services_for(city)])


@endpoint("GET")
def service_definition(request, code, *, fmt):
    city = _city(request)
    service = definitions.service_for(city, code)
    if service is None:
        raise Open311Error(404, ("service_code", f"{code!r} is not a service of {city.code}"))
    return respond(
        fmt,
        "service_definition",
        {"service_code": service.code, "attributes": [a.as_open311() for a in service.definition.attributes]},
    )


def _published(city) -> tuple[dict, dict[str, str]]:
    """(services by code, {code: full|summary}) of the services whose requests Open311 lists."""
    by_code = {s.code: s for s in definitions.services_for(city)}
    return by_code, publication.published_levels(city, by_code)


def _listing(request, city, found, *, extensions: bool, by_code: dict, published: dict[str, str]):
    tz = params.city_tz(city)
    postcodes = queries.postcodes(city)
    return [
        records.request_record(
            r, tz=tz, services=by_code, postcodes=postcodes, published=published, extensions=extensions
        )
        for r in found
    ]


@endpoint("GET", "POST")
def requests(request, *, fmt):
    if request.method == "POST":
        return _create(request, fmt=fmt)
    city = _city(request)
    query = request.GET
    extensions = params.flag(query, "extensions")
    by_code, published = _published(city)
    ids = params.comma_list(query, "service_request_id")
    if ids:
        found = queries.by_ids(city, ids, published)  # the spec: ids override every other filter
    else:
        statuses = [s.lower() for s in params.comma_list(query, "status")]
        unknown = sorted(set(statuses) - {"open", "closed"})
        if unknown:
            raise Open311Error(400, ("status", f"open or closed, not {', '.join(unknown)}"))
        tz = params.city_tz(city)
        updated_after, updated_before = params.window(
            query, tz, start_name="updated_after", end_name="updated_before", default_to_recent=False
        )
        recent = not (updated_after or updated_before)
        start, end = params.window(query, tz, default_to_recent=recent)
        page, page_size = params.paging(query)
        found = queries.search(
            city,
            published=published,
            service_codes=params.comma_list(query, "service_code"),
            statuses=statuses,
            start=start,
            end=end,
            updated_after=updated_after,
            updated_before=updated_before,
            page=page,
            page_size=page_size,
        )
    return respond(
        fmt,
        "service_requests",
        _listing(request, city, found, extensions=extensions, by_code=by_code, published=published),
    )


def _create(request, *, fmt):
    form = request.POST
    api_token = _authorise(request, form)
    city = _city(request, form)
    code = params.value(form, "service_code")
    if not code:
        raise Open311Error(400, ("service_code", f"required (see services.{fmt})"))
    service = definitions.service_for(city, code)
    if service is None:
        raise Open311Error(400, ("service_code", f"{code!r} is not a service of {city.code}"))
    filed = actions.file_request(city, service, form, api_token=api_token, actor=api_token.user)
    answer = {"token": filed.token} if filed.token else {"service_request_id": filed.request.tracking_no}
    answer.update(
        {
            "service_notice": filed.service_notice or None,
            "account_id": params.value(form, "account_id") or None,
        }
    )
    return respond(fmt, "service_requests", [answer])


@endpoint("GET")
def request_detail(request, request_id, *, fmt):
    city = _city(request)
    by_code, published = _published(city)
    found = queries.one(city, request_id, published)
    if found is None:  # unknown, or not published: the same answer, so nothing leaks about it
        raise Open311Error(404, ("service_request_id", f"no published request {request_id!r} in {city.code}"))
    return respond(
        fmt,
        "service_requests",
        _listing(
            request,
            city,
            [found],
            extensions=params.flag(request.GET, "extensions"),
            by_code=by_code,
            published=published,
        ),
    )


@endpoint("GET")
def token(request, token, *, fmt):
    city = _city(request)
    found = queries.by_token(city, token)
    if found is None:
        raise Open311Error(404, ("token", f"no request was filed with the token {token!r}"))
    return respond(fmt, "service_requests", [{"service_request_id": found.tracking_no, "token": token}])


@endpoint("GET", "POST")
def updates(request, *, fmt):
    if request.method == "POST":
        form = request.POST
        api_token = _authorise(request, form)
        city = _city(request, form)
        number = params.value(form, "service_request_id")
        if not number:
            raise Open311Error(400, ("service_request_id", "required"))
        target = queries.one_for_update(city, number)
        if target is None:
            raise Open311Error(404, ("service_request_id", f"no request {number!r} in {city.code}"))
        line, _ = actions.post_update(target, form, api_token=api_token, actor=api_token.user)
        return respond(fmt, "service_request_updates", [{"update_id": str(line.pk)}])
    city = _city(request)
    tz = params.city_tz(city)
    start, end = params.window(request.GET, tz)
    page, page_size = params.paging(request.GET)
    _by_code, published = _published(city)
    found = queries.updates(city, published=published, start=start, end=end, page=page, page_size=page_size)
    changes = queries.state_changes(found)
    return respond(
        fmt,
        "service_request_updates",
        [
            records.update_record(
                e,
                tz=tz,
                state_changes=changes.get(e.request_id, []),
                level=published[e.request.category.code],
            )
            for e in found
        ],
    )


@csrf_exempt
def not_found(request, path=""):
    fmt = path.rsplit(".", 1)[-1] if "." in path else "xml"
    return error_response(
        fmt, Open311Error(404, ("", f"/open311/v2/{path} is not an Open311 resource; see discovery.xml"))
    )
