from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from portal.core import health

# Stable addresses (SPEC 7) carry no language prefix: the language comes from a cookie or the browser.
urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("staff/admin/", admin.site.urls),
    path("", include("portal.identity.urls")),
    path("", include("portal.dashboard.urls")),
    path("", include("portal.history.urls")),
    path("", include("portal.myinfo.urls")),
    path("", include("portal.notify.urls")),
    path("", include("portal.account.urls")),
    path("", include("portal.proxies.urls")),
    path("", include("portal.consents.urls")),
    path("", include("portal.firms.urls")),
    path("", include("notices.urls")),
    path("api/", include("api.urls")),
]
