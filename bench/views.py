"""Views only the benchmarks serve, as baselines to measure the portal's pages against. Never in portal/."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from portal.dashboard.views import MENU


def bare(request: HttpRequest) -> HttpResponse:
    """The cheapest view Django can serve through the same middleware."""
    return HttpResponse("ok")


@login_required
def dashboard_unrecorded(request: HttpRequest) -> HttpResponse:
    """portal.dashboard.views.home without its release_record call: the same template and context.

    Keep in step with home; the difference between the two is the cost of recording a release.
    """
    resident = getattr(request.user, "resident", None)
    if resident is None:
        return redirect("admin:index")
    return render(request, "dashboard/home.html", {"menu": MENU})
