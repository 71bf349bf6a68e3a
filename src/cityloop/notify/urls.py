from django.urls import path

from cityloop.notify import views

app_name = "notify"
urlpatterns = [
    path("", views.inbox_page, name="inbox"),
    path("preferences/", views.preferences_page, name="preferences"),
    path("outbox/", views.outbox_page, name="outbox"),
]
