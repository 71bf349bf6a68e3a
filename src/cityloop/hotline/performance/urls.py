from django.urls import path

from cityloop.hotline.performance import views as views_leaders

app_name = "leaders"
urlpatterns = [
    path("", views_leaders.dashboard, name="dashboard"),
    path("rankings/", views_leaders.rankings, name="rankings"),
    path("rankings/<str:kind>/", views_leaders.ranking, name="ranking"),
    path("units/<str:kind>/<int:pk>/", views_leaders.unit_trend, name="trend"),
    path("report/", views_leaders.monthly_report, name="report"),
]
