"""The published daily roots and the key that signs them: public, no login, no personal data.

Anyone may fetch and keep these, so a later rewrite of the history can be shown against their copy.
Thin: the roots come from portal.history.roots.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from portal.history import roots


@require_GET
@cache_control(public=True, max_age=300)
def root_list(request: HttpRequest) -> JsonResponse:
    """Every published root, oldest first: day, counts, root hash, key id and base64 Ed25519 signature."""
    return JsonResponse(roots.root_listing(), safe=False, json_dumps_params={"ensure_ascii": False})


@require_GET
@cache_control(public=True, max_age=3600)
def root_public_key(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(roots.public_key_pem(), content_type="application/x-pem-file")
    response["X-Key-Id"] = roots.key_id_of(roots.public_key())
    return response


root_urlpatterns = [
    path("history/roots/", root_list, name="history-roots"),
    path("history/roots/public-key.pem", root_public_key, name="history-root-public-key"),
]
