"""The portal's URLs plus /bench/bare/: the cheapest view Django can serve through the same middleware."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("bench/bare/", bare, name="bench-bare"), *portal_urlpatterns]
