from django.urls import path

from portal.myinfo import views

app_name = "myinfo"

urlpatterns = [
    path("myinfo/", views.overview, name="overview"),
    path("myinfo/status.json", views.status_json, name="status"),
    path("myinfo/refresh/", views.refresh, name="refresh"),
    path("myinfo/export.<str:fmt>", views.export, name="export"),
    path("myinfo/<str:category>/", views.detail, name="detail"),
]
