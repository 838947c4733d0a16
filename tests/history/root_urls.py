"""A tiny URLconf for the root endpoints' tests, until the project's URLconf includes them."""

from portal.history.root_views import root_urlpatterns

urlpatterns = [*root_urlpatterns]
