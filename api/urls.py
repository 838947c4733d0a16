from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.resident_data import Information, UserInfo
from portal.account.api import AccountLookup

urlpatterns = [
    path("agency/v1/", include("notices.api.urls")),
    path("agency/v1/public-fund-accounts/lookups", AccountLookup.as_view(), name="account-lookup"),
    path("v1/userinfo", UserInfo.as_view(), name="userinfo"),
    path("v1/information/<str:category>", Information.as_view(), name="information"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[]),
        name="api-docs",
    ),
]
