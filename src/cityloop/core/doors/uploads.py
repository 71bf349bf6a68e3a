"""A cap on every uploaded file while it streams in, before any view reads it.

Django writes uploads above 2.5 MB to a temporary file, so a view that later says "over 10 MB" has
already let the whole body onto the disk, and ``file.read()`` would pull it into memory. This handler
runs first and stops reading a file as soon as it passes ``MAX_UPLOAD_FILE_BYTES`` (the largest file
any form accepts: the 20 MB CSV import; photos and materials stop at 10 MB, checked by size before
they are read). The request goes on without that file, and
:func:`refused` tells the view which field was cut off so it can say so.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

META_KEY = "cityloop.upload_refused"


def limit() -> int:
    return int(getattr(settings, "MAX_UPLOAD_FILE_BYTES", 10 * 1024 * 1024))


class SizeCapUploadHandler(FileUploadHandler):
    def new_file(
        self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None
    ):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > limit():
            self.request.META[META_KEY] = self.field_name
            # Stop reading the body: the rest of a huge upload never reaches the disk.
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler (memory or temporary file) builds the file


def message():
    from django.utils.translation import gettext

    return gettext("The file is too large (over %(mb)d MB) and was not received.") % {
        "mb": limit() // 1048576
    }


def refused(request) -> str | None:
    """The form field whose file was cut off for being too large, if any."""
    return request.META.get(META_KEY)
