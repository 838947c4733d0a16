"""The authorisation matrix: every resident page that shows personal data, and the one change a proxy
may make (answering a notice), against every kind of caller, allowed exactly when it should be. "Allowed"
means the principal's own data is on the page (or the answer is stored as theirs); every denial is
checked for the absence of that data (or of any answer), whatever the status.
"""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from notices.models import Notice, NoticeResponse
from notices.services import portal_notice_send
from portal.history.models import Channel
from portal.history.services import Actor, release_record
from portal.proxies import services
from portal.proxies.access import SESSION_ACTING
from portal.proxies.models import GrantKind, ProxyGrant
from portal.proxies.scopes import ACCOUNT_VIEW, HISTORY, MEDICAL_SCOPE, NOTICES_ANSWER, NOTICES_READ
from tests.account.conftest import register_verified
from tests.factories import ResidentFactory
from tests.proxies.conftest import grant_between, logged_in
from tests.proxies.test_acting import hold

pytestmark = pytest.mark.django_db

# page, the scope a proxy needs, and what of the principal's data the page shows
PAGES = [
    ("/myinfo/medical_drugs/", MEDICAL_SCOPE, "アムロジピン"),
    ("/myinfo/pension/", "myinfo:pension", "老齢基礎年金"),
    ("/history/", HISTORY, "臨時特別給付金"),
    ("/notices/", NOTICES_READ, "介護保険料のお知らせ"),
    ("/notices/{notice}/", NOTICES_READ, "介護保険料のお知らせ"),
    ("/account/", ACCOUNT_VIEW, "三菱ＵＦＪ"),
]
CALLERS = [
    "resident",
    "proxy_with_scope",
    "proxy_without_scope",
    "proxy_expired",
    "proxy_ended",
    "parent_after_15",
    "another_resident",
    "anonymous",
    "staff",
]
ALLOWED = {"resident", "proxy_with_scope"}


@pytest.fixture
def world(db):
    principal = ResidentFactory(name="田中 和夫", name_kana="タナカ カズオ")
    hold(principal, "medical_drugs", {"records": [{"drug": "アムロジピン錠5mg"}]})
    hold(principal, "pension", {"records": [{"kind": "老齢基礎年金"}]})
    release_record(
        owner=principal,
        actor=Actor.for_agency("municipal-welfare", "市区町村 障害福祉課"),
        category="public_fund_account",
        items=["account_number"],
        purpose="臨時特別給付金の支給",
        channel=Channel.AGENCY_API,
    )
    notice = portal_notice_send(
        resident=principal,
        key="matrix",
        category="care",
        title_ja="介護保険料のお知らせ",
        title_en="",
        body_ja="本文",
        body_en="",
    )
    register_verified(principal, bank_code="0005", branch_code="001", number="4567890")
    return principal, notice


def _caller(kind: str, principal, scope: str) -> Client:
    if kind == "resident":
        return logged_in(principal)
    if kind == "anonymous":
        return Client()
    if kind == "staff":
        client = Client()
        client.force_login(get_user_model().objects.create(username="staff-matrix", is_staff=True))
        return client
    other = ResidentFactory(name="鈴木 一郎", name_kana="スズキ イチロウ")
    if kind == "another_resident":
        return logged_in(other)
    everything = [MEDICAL_SCOPE, "myinfo:pension", HISTORY, NOTICES_READ, ACCOUNT_VIEW]
    scopes = [scope] if kind != "proxy_without_scope" else [s for s in everything if s != scope]
    grant = grant_between(principal, other, scopes)
    client = logged_in(other)
    assert client.post(f"/proxies/{grant.public_id}/act/").status_code == 302
    if kind == "proxy_expired":
        ProxyGrant.objects.filter(pk=grant.pk).update(ends_on=timezone.localdate() - dt.timedelta(days=1))
    if kind == "proxy_ended":
        services.grant_end(resident=principal, grant_public_id=grant.public_id)
    if kind == "parent_after_15":
        # A parent's grant, whose child has just turned 15 (its last day was yesterday).
        ProxyGrant.objects.filter(pk=grant.pk).update(
            kind=GrantKind.PARENT, ends_on=timezone.localdate() - dt.timedelta(days=1)
        )
    return client


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("path", "scope", "marker"), PAGES)
def test_matrix(world, caller, path, scope, marker):
    principal, notice = world
    client = _caller(caller, principal, scope)
    response = client.get(path.format(notice=notice.public_id))
    body = response.content.decode()
    if caller in ALLOWED:
        assert response.status_code == 200 and marker in body, (caller, path, response.status_code)
    else:
        assert marker not in body, (caller, path)
        # Callers who are residents themselves may see their own page of the same address.
        own_page = caller in {"proxy_expired", "proxy_ended", "parent_after_15", "another_resident"}
        assert response.status_code in {302, 403, 404} or own_page, (caller, path, response.status_code)
        if caller == "proxy_without_scope":
            assert response.status_code == 403 and 'data-code="out_of_scope"' in body
        if caller == "anonymous":
            assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.fixture
def to_answer(world):
    principal, _ = world
    notice = portal_notice_send(
        resident=principal,
        key="matrix-answer",
        category="care",
        title_ja="介護保険負担割合証の確認",
        title_en="",
        body_ja="内容を確認してください。",
        body_en="",
    )
    Notice.objects.filter(pk=notice.pk).update(action="confirm")
    return notice


@pytest.mark.parametrize("caller", CALLERS)
def test_matrix_answering_a_notice(world, to_answer, caller):
    principal, _ = world
    client = _caller(caller, principal, NOTICES_ANSWER)
    response = client.post(f"/notices/{to_answer.public_id}/respond/", {"confirmed": "on"})
    answered = NoticeResponse.objects.filter(notice=to_answer, resident=principal)
    if caller in ALLOWED:
        assert response.status_code == 302 and response["Location"].endswith("/receipt/"), caller
        assert answered.count() == 1
        by_proxy = caller == "proxy_with_scope"
        assert (answered.get().proxy_id is not None) is by_proxy
    else:
        assert not answered.exists() and not NoticeResponse.objects.exists(), caller
        assert response.status_code in {302, 403, 404}, (caller, response.status_code)
        if caller == "proxy_without_scope":
            assert response.status_code == 403 and 'data-code="out_of_scope"' in response.content.decode()
        elif caller == "anonymous":
            assert response.status_code == 302 and response["Location"].startswith("/login/")
        else:  # his notice is not in their inbox (their grant no longer counts, or they never had one)
            assert response.status_code == 404, (caller, response.status_code)


def test_guessing_another_residents_ids(world):
    principal, notice = world
    grant = grant_between(principal, ResidentFactory(name_kana="タナカ ユキ"), [NOTICES_READ])
    stranger = logged_in(ResidentFactory(name_kana="ヤマダ ハナコ"))
    assert stranger.get(f"/notices/{notice.public_id}/").status_code == 404
    for action in ("act", "end", "confirm"):
        assert stranger.post(f"/proxies/{grant.public_id}/{action}/").status_code == 404, action
    # A session key pointing at someone else's grant is ignored.
    session = stranger.session
    session[SESSION_ACTING] = str(grant.public_id)
    session.save()
    assert "介護保険料のお知らせ" not in stranger.get("/notices/").content.decode()
    grant.refresh_from_db()
    assert grant.state == "active"
