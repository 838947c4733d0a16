"""The dashboard: the resident's name and the menu. Showing the name is a release, so it is recorded first."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from portal.history.models import Channel
from portal.history.services import Actor, release_record

# The features to come; each becomes a link when its page lands.
MENU = [
    ("myinfo", _("わたしの情報"), _("税・年金・医療など、行政機関があなたについて持っている情報")),
    ("notices", _("お知らせ"), _("行政機関からのお知らせと回答が必要な手続")),
    ("history", _("アクセス記録"), _("いつ、誰が、何のためにあなたの情報を見たか")),
    ("account", _("公金受取口座"), _("給付金などを受け取る、ご本人名義の口座")),
    ("proxies", _("代理人"), _("あなたに代わって手続できる人")),
    ("consents", _("民間サービスとの連携"), _("情報の提供に同意した事業者と、その取消し")),
]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    resident = getattr(request.user, "resident", None)
    if resident is None:  # staff accounts use the admin, not the residents' pages
        return redirect("admin:index")
    release_record(
        owner=resident,
        actor=Actor.for_resident(resident),
        category="identity",
        items=["name", "my_number_last4"],
        purpose="dashboard",
        channel=Channel.WEB,
    )
    return render(request, "dashboard/home.html", {"menu": MENU})
