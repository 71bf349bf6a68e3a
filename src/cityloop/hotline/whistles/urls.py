from django.urls import path

from cityloop.hotline.whistles import views as views_whistles

app_name = "whistles"
urlpatterns = [
    # streets
    path("", views_whistles.street_whistles, name="street"),
    path("blow/", views_whistles.blow, name="blow"),
    path("<int:pk>/close/", views_whistles.close, name="close"),
    path("rate/<int:pk>/", views_whistles.rate, name="rate"),
    path("assess/", views_whistles.assess, name="assess"),
    # departments
    path("summonses/", views_whistles.summonses, name="summonses"),
    path("summonses/<int:pk>/<slug:step>/", views_whistles.summons_step, name="summons-step"),
    # city dispatchers
    path("disputes/", views_whistles.disputes, name="disputes"),
    path("disputes/<int:pk>/", views_whistles.arbitrate, name="arbitrate"),
]
