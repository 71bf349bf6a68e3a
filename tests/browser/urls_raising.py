"""Test-only URLs: the site's own, plus one view that raises, so a browser test sees the 500 page as a
visitor would. Never part of the product; only tests/browser/test_flow.py points ROOT_URLCONF here."""

from django.urls import path

from cityloop.urls import urlpatterns as site


def _raises(request):
    raise RuntimeError("a test's deliberate failure")


urlpatterns = [path("test-only/raises/", _raises), *site]
