"""A tiny feature using the step-up as later features will: a stand-in for "change my account"."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_http_methods

from portal.core.errors import PortalError
from portal.identity.views import signed_act

ACT = "test.transfer"


@login_required
@require_http_methods(["GET", "POST"])
def transfer(request: HttpRequest) -> HttpResponse:
    amount = request.GET.get("amount", "100")
    try:
        outcome = signed_act(
            request,
            act=ACT,
            payload={"amount": amount},
            summary_ja=f"{amount}円を送ります。",
            summary_en=f"Send {amount} yen.",
            next_url=f"/test-transfer/?amount={amount}",
        )
    except PortalError as error:
        return HttpResponse(error.code, status=error.status)
    if isinstance(outcome, HttpResponse):
        return outcome
    return HttpResponse(f"done:{outcome.act}:{amount}")


urlpatterns = [
    path("test-transfer/", transfer),
    path("", include("portal.urls")),
]
