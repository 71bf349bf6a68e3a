"""Photos of a request, served only to whoever may see the request (never as public media).

Staff see the photos of the requests in their scope, a citizen those of their own requests, and a
browser that tracked the request with its access code those of that request. Anyone else gets 404,
whether the photo exists or not.
"""

from __future__ import annotations

from django.core.cache import cache
from django.http import FileResponse, Http404, HttpResponse

from cityloop.hotline import queries
from cityloop.hotline.intake import photos
from cityloop.hotline.intake.views import TRACKED
from cityloop.hotline.models import Attachment

THUMBNAIL_CACHE_S = 24 * 3600
# A photo is shown as an image and nothing else: no script, no plugin, no framing, not cached by proxies.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=3600",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def visible_attachment(request, pk: int) -> Attachment:
    attachment = Attachment.objects.select_related("request").filter(pk=pk).first()
    if attachment is None:
        raise Http404("no such photo")
    if attachment.request_id in request.session.get(TRACKED, []):
        return attachment
    if (
        request.user.is_authenticated
        and queries.requests_for(request.user).filter(pk=attachment.request_id).exists()
    ):
        return attachment
    raise Http404("no such photo")


def _headers(response, attachment, suffix=""):
    for name, value in HEADERS.items():
        response[name] = value
    response["Content-Disposition"] = (
        f'inline; filename="{attachment.request.tracking_no}-{attachment.pk}{suffix}"'
    )
    return response


def photo(request, pk):
    attachment = visible_attachment(request, pk)
    response = FileResponse(attachment.file.open("rb"), content_type=f"image/{attachment.content_type}")
    return _headers(
        response, attachment, f".{'jpg' if attachment.content_type == 'jpeg' else attachment.content_type}"
    )


def photo_thumbnail(request, pk):
    attachment = visible_attachment(request, pk)
    key = f"hotline:photo-thumbnail:{attachment.pk}:{attachment.size}"
    data = cache.get(key)
    if data is None:
        with attachment.file.open("rb") as fileobj:
            data = photos.thumbnail(fileobj)
        cache.set(key, data, THUMBNAIL_CACHE_S)
    return _headers(HttpResponse(data, content_type="image/jpeg"), attachment, "-small.jpg")
