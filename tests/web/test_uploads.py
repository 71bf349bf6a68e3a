"""An upload over the cap stops while it streams in; no view files a request without the cut-off file."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from cityloop.core.doors import uploads
from cityloop.hotline.models import Request


def test_a_huge_upload_stops_streaming_at_the_cap(client, city):
    with override_settings(MAX_UPLOAD_FILE_BYTES=256 * 1024):
        photo = SimpleUploadedFile("big.jpg", b"\xff\xd8\xff" + b"0" * (2 * 1024 * 1024))
        response = client.post(
            "/hotline/submit/",
            {
                "description": "路灯坏了",
                "caller_phone": "13812345678",
                "address": "金融街",
                "photos": [photo],
            },
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert response.status_code == 200
    assert "was not received" in response.content.decode()
    assert not Request.objects.exists()  # never filed without the photo the citizen attached


def test_the_handler_records_which_field_was_cut_off(rf):
    request = rf.post("/")
    handler = uploads.SizeCapUploadHandler(request)
    handler.new_file("photos", "a.jpg", "image/jpeg", None)
    with override_settings(MAX_UPLOAD_FILE_BYTES=10):
        assert handler.receive_data_chunk(b"12345", 0) == b"12345"
        try:
            handler.receive_data_chunk(b"123456", 5)
        except uploads.StopUpload as stop:
            assert stop.connection_reset
        else:
            raise AssertionError("the handler let the file grow past the cap")
    assert uploads.refused(request) == "photos"
