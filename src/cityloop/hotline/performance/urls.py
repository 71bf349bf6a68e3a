from django.urls import path

from cityloop.hotline.hotissues import views as views_hot
from cityloop.hotline.performance import views as views_leaders

app_name = "leaders"
urlpatterns = [
    path("", views_leaders.dashboard, name="dashboard"),
    path("rankings/", views_leaders.rankings, name="rankings"),
    path("rankings/<str:kind>/", views_leaders.ranking, name="ranking"),
    path("units/<str:kind>/<int:pk>/", views_leaders.unit_trend, name="trend"),
    path("report/", views_leaders.monthly_report, name="report"),
    # 治理类街乡: the month's streets with the most requests per 10,000 residents
    path("governance-streets/", views_leaders.governance_streets, name="governance-streets"),
    # the leader's one-page brief (HTML that prints on one A4 page, and ?format=pdf)
    path("brief/", views_leaders.brief, name="brief"),
    # 未诉先办: hot issues of the city's intake and the governance tasks (每月一题) made of them
    path("hot-issues/", views_hot.hot_issues, name="hot-issues"),
    path("hot-issues/tasks/", views_hot.governance_tasks, name="governance-tasks"),
    path("hot-issues/<int:pk>/", views_hot.hot_issue, name="hot-issue"),
    path("hot-issues/<int:pk>/task/", views_hot.new_task, name="hot-issue-task"),
]
