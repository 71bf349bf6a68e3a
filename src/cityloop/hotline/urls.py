from django.urls import path

from cityloop.hotline.handling import views_detail, views_dispatch, views_search, views_unit
from cityloop.hotline.intake import views as views_citizen
from cityloop.hotline.intake import views_classifier, views_map, views_nearby, views_photos

app_name = "hotline"
urlpatterns = [
    # citizens (no login needed to submit, track and rate)
    path("submit/", views_citizen.submit, name="submit"),
    path("submit/map.json", views_map.map_data, name="submit-map"),
    path("submit/nearby.json", views_nearby.nearby, name="submit-nearby"),
    path("submit/support/", views_nearby.support, name="support"),
    path("submit/done/", views_citizen.submitted, name="submitted"),
    path("track/", views_citizen.track, name="track"),
    path("track/<str:tracking_no>/", views_citizen.status_page, name="status"),
    path("track/<str:tracking_no>/rate/", views_citizen.rate, name="rate"),
    path("rate/<str:code>/", views_citizen.rate_by_link, name="rate-link"),
    path("mine/", views_citizen.mine, name="mine"),
    # photos: only for whoever may see the request (staff in scope, the citizen, a tracked browser)
    path("photos/<int:pk>/", views_photos.photo, name="photo"),
    path("photos/<int:pk>/thumbnail/", views_photos.photo_thumbnail, name="photo-thumbnail"),
    # dispatchers
    path("intake/", views_dispatch.intake, name="intake"),
    path("dispatch/", views_dispatch.queue, name="queue"),
    path("requests/<int:pk>/", views_detail.request_detail, name="request-detail"),
    path("requests/<int:pk>/classify/", views_dispatch.classify, name="classify"),
    path("requests/<int:pk>/dispatch/", views_dispatch.dispatch, name="dispatch"),
    path("requests/<int:pk>/merge/", views_dispatch.merge, name="merge"),
    path("requests/<int:pk>/reveal/", views_dispatch.reveal, name="reveal"),
    path("requests/<int:pk>/access-code/", views_dispatch.new_access_code, name="new-access-code"),
    path("extensions/<int:pk>/decide/", views_dispatch.decide_extension, name="decide-extension"),
    path("arbitrations/", views_dispatch.arbitrations, name="arbitrations"),
    path("arbitrations/<int:pk>/decide/", views_dispatch.decide_arbitration, name="decide-arbitration"),
    path("follow-ups/", views_dispatch.follow_ups, name="follow-ups"),
    path("follow-ups/<int:pk>/", views_dispatch.record_phone_follow_up, name="phone-follow-up"),
    path("follow-ups/<int:pk>/reveal/", views_dispatch.reveal_for_follow_up, name="follow-up-reveal"),
    # streets and departments
    path("inbox/", views_unit.inbox, name="inbox"),
    path("inbox/overdue/", views_unit.overdue, name="overdue"),
    path("orders/<int:pk>/sign/", views_unit.sign, name="sign"),
    path("orders/<int:pk>/<slug:verb>/", views_unit.order_action, name="order-action"),
    # everyone signed in, scoped to what they may see
    path("search/", views_search.search, name="search"),
    path("import/", views_search.import_page, name="import"),
    # the classifier that learns: admins retrain it, leaders read its history
    path("classifier/", views_classifier.classifier_page, name="classifier"),
]
