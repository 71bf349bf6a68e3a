from django.urls import path

from cityloop.seal import views

app_name = "seal"
urlpatterns = [
    path("verify/", views.verify_page, name="verify"),
    path("keys.json", views.keys_json, name="keys"),
    path("status.json", views.status_json, name="status"),
    path("certificates/", views.certificate_list, name="certificates"),
    path("certificates/<str:serial>.pdf", views.certificate_pdf, name="certificate-pdf"),
    path("certificates/<str:serial>/", views.certificate_page, name="certificate"),
    path("certificates/<str:serial>/revoke/", views.revoke, name="revoke"),
]
