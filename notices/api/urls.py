from django.urls import path

from notices.api import views

app_name = "agency-api"

urlpatterns = [
    path("notices", views.NoticeCollection.as_view(), name="notices"),
    path("notices/<str:notice_id>", views.NoticeDetail.as_view(), name="notice"),
    path("notices/<str:notice_id>/responses", views.NoticeResponses.as_view(), name="notice-responses"),
]
