"""The portal's URLs plus the bench-only baselines of bench/views.py, under /bench/."""

from django.urls import path

from bench import views
from portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [
    path("bench/bare/", views.bare, name="bench-bare"),
    path("bench/dashboard-unrecorded/", views.dashboard_unrecorded, name="bench-dashboard-unrecorded"),
    *portal_urlpatterns,
]
