from django.urls import path

from cityloop.brain import views

app_name = "brain"
urlpatterns = [
    path("", views.pulse, name="pulse"),
    path("devices/<str:code>/", views.device, name="device"),
]
