from django.urls import path

from notices import views

app_name = "notices"

urlpatterns = [
    path("notices/", views.inbox, name="inbox"),
    path("notices/<uuid:notice_id>/", views.detail, name="detail"),
    path("notices/<uuid:notice_id>/archive/", views.archive, name="archive"),
    path("notices/<uuid:notice_id>/respond/", views.respond, name="respond"),
    path("notices/<uuid:notice_id>/receipt/", views.receipt, name="receipt"),
    path("notices/<uuid:notice_id>/attachments/<uuid:attachment_id>/", views.attachment, name="attachment"),
]
