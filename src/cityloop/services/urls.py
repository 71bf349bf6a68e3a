from django.urls import path

from cityloop.services import views

app_name = "services"
urlpatterns = [
    path("", views.catalogue_page, name="catalogue"),
    path("items/<str:code>/", views.item_page, name="item"),
    path("bundles/<str:code>/", views.bundle_page, name="bundle"),
    path("apply/", views.start, name="start"),
    path("mine/", views.my_applications, name="my-applications"),
    path("applications/<str:number>/", views.application_page, name="application"),
    path("applications/<str:number>/<str:step>/", views.application_step, name="application-step"),
    path("uploads/<int:pk>/", views.download_upload, name="upload"),
    path("window/", views.window, name="window"),
    path("window/identity/", views.verify_identity, name="verify-identity"),
    path("tasks/", views.tasks_page, name="tasks"),
    path("tasks/<int:pk>/<str:step>/", views.task_step, name="task-step"),
    path("rectifications/<int:pk>/close/", views.close_rectification, name="close-rectification"),
    path("editor/", views.editor, name="editor"),
    path("editor/<str:code>/", views.editor_item, name="editor-item"),
    path("report/", views.report, name="report"),
]
