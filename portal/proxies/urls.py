from django.urls import path

from portal.proxies import views

app_name = "proxies"

urlpatterns = [
    path("proxies/", views.proxy_list, name="list"),
    path("proxies/invite/", views.invite, name="invite"),
    path("proxies/accept/", views.accept, name="accept"),
    path("proxies/guardian/", views.guardian, name="guardian"),
    path("proxies/children/add/", views.child_add, name="child-add"),
    path("proxies/children/<uuid:request_id>/", views.child_sign, name="child-sign"),
    path("proxies/children/<uuid:request_id>/complete/", views.child_complete, name="child-complete"),
    path("proxies/end-all/", views.end_all, name="end-all"),
    path("proxies/stop/", views.stop, name="stop"),
    path("proxies/<uuid:grant_id>/confirm/", views.confirm, name="confirm"),
    path("proxies/<uuid:grant_id>/end/", views.end, name="end"),
    path("proxies/<uuid:grant_id>/keep/", views.keep, name="keep"),
    path("proxies/<uuid:grant_id>/act/", views.act, name="act"),
]
