"""The dashboard: the resident's name and the menu. Showing the name is a release, so it is recorded first."""

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from portal.history.models import Channel
from portal.history.services import Actor, release_record


@dataclass(frozen=True)
class MenuEntry:
    key: str
    label: str
    description: str
    url_name: str | None  # None until the feature's page lands

    @property
    def url(self) -> str | None:
        return reverse(self.url_name) if self.url_name else None


MENU = [
    MenuEntry(
        "myinfo",
        _("わたしの情報"),
        _("税・年金・医療など、行政機関があなたについて持っている情報"),
        "myinfo:overview",
    ),
    MenuEntry("notices", _("お知らせ"), _("行政機関からのお知らせと回答が必要な手続"), "notices:inbox"),
    MenuEntry("history", _("アクセス記録"), _("いつ、誰が、何のためにあなたの情報を見たか"), "history:list"),
    MenuEntry("account", _("公金受取口座"), _("給付金などを受け取る、ご本人名義の口座"), "account:overview"),
    MenuEntry("proxies", _("代理人"), _("あなたに代わって手続できる人"), "proxies:list"),
    MenuEntry(
        "consents", _("民間サービスとの連携"), _("情報の提供に同意した事業者と、その取消し"), "consents:list"
    ),
    MenuEntry(
        "notifications", _("通知の設定"), _("お知らせが届いたときのプッシュ通知とメール"), "notify:settings"
    ),
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
