from django.contrib.auth import views as auth_views
from django.urls import path

from cityloop.web import metrics, schedule, views

urlpatterns = [
    path("", views.home_page, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", metrics.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("audit/", views.audit_trail, name="audit-trail"),
    path("schedule/", schedule.schedule_page, name="schedule"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
