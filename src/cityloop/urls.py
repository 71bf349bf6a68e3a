"""URL wiring only; each app owns its own routes."""

from django.contrib import admin
from django.urls import include, path

from cityloop.openapi.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("open311/v2/", include("cityloop.openapi.open311.urls")),
    path("hotline/", include("cityloop.hotline.urls")),
    path("leaders/", include("cityloop.hotline.performance.urls")),
    path("whistles/", include("cityloop.hotline.whistles.urls")),
    path("services/", include("cityloop.services.urls")),
    path("brain/", include("cityloop.brain.urls")),
    path("seal/", include("cityloop.seal.urls")),
    path("notify/", include("cityloop.notify.urls")),
    path("", include("cityloop.web.urls")),
]
