"""A URL that fails, for the error-logging tests, beside the site's own URLs."""

from django.urls import include, path


def boom(request):
    raise RuntimeError("boom for the log test")


urlpatterns = [path("boom/", boom), path("", include("cityloop.urls"))]
