from django.urls import path

from cityloop.brain import views

app_name = "brain"
urlpatterns = [
    path("", views.pulse, name="pulse"),
    path("devices/<str:code>/", views.device, name="device"),
    path("devices/<str:code>/mute/", views.mute, name="device-mute"),
    path("devices/<str:code>/unmute/", views.unmute, name="device-unmute"),
    path("alarms/<int:pk>/acknowledge/", views.acknowledge, name="alarm-acknowledge"),
]
