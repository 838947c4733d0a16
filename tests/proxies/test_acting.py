"""Acting for a principal: a banner, only the granted scopes, every release recorded with the proxy as
actor and the principal as owner; ending the grant stops the proxy at once."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from notices.models import Audience
from notices.services import portal_notice_send
from portal.history.models import ReleaseRecord
from portal.myinfo.models import CategoryEntry, EntryState
from portal.proxies import services
from portal.proxies.models import ProxyGrant
from tests.proxies.conftest import grant_between, logged_in

pytestmark = pytest.mark.django_db


def hold(resident, category, data):
    now = timezone.now()
    CategoryEntry.objects.update_or_create(
        resident=resident,
        category=category,
        defaults={
            "agency_id": "medical-insurance",
            "state": EntryState.DONE,
            "payload": json.dumps(data, ensure_ascii=False),
            "as_of": now,
            "fetched_at": now,
            "expires_at": now + dt.timedelta(hours=24),
        },
    )


@pytest.fixture
def acting(kazuo, yuki):
    """Yuki acts for her father with the medical and notice scopes only."""
    grant = grant_between(kazuo, yuki, ["medical", "notices_read"])
    hold(kazuo, "medical_drugs", {"records": [{"drug": "アムロジピン錠5mg"}]})
    hold(kazuo, "pension", {"records": [{"kind": "老齢基礎年金"}]})
    client = logged_in(yuki)
    response = client.post(f"/proxies/{grant.public_id}/act/")
    assert response.status_code == 302
    return client, grant


def test_a_proxy_reads_the_granted_medical_data_and_it_is_recorded_for_the_principal(acting, kazuo, yuki):
    client, _ = acting
    page = client.get("/myinfo/medical_drugs/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "アムロジピン" in body and 'id="acting-banner"' in body and "田中 和夫" in body
    assert 'id="inbox-link"' not in body  # the header's inbox and unread count are the proxy's own
    record = ReleaseRecord.objects.get(owner=kazuo, category="medical_drugs")
    assert record.actor_type == "proxy" and record.actor_label == yuki.name
    assert not ReleaseRecord.objects.filter(owner=yuki, category="medical_drugs").exists()


def test_what_was_not_granted_stays_closed(acting, kazuo):
    client, _ = acting
    refused = client.get("/myinfo/pension/")
    assert refused.status_code == 403 and "老齢基礎年金" not in refused.content.decode()
    assert client.get("/history/").status_code == 403
    assert client.get("/account/").status_code == 403
    overview = client.get("/myinfo/").content.decode()
    assert 'id="category-medical_drugs"' in overview and 'id="category-pension"' not in overview
    assert not ReleaseRecord.objects.filter(owner=kazuo, category__in=["pension", "access_history"]).exists()


def test_pages_that_change_things_wait_until_the_proxy_switches_back(acting):
    client, _ = acting
    for path in (
        "/account/register/",
        "/settings/notifications/",
        "/myinfo/export.json",
        "/history/export.csv",
    ):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == "/proxies/", path


def test_notices_are_read_for_the_principal_not_marked_read_and_not_answered(acting, kazuo, yuki):
    client, _ = acting
    client.get("/notices/")  # his empty inbox: nothing shown, nothing recorded
    assert not ReleaseRecord.objects.filter(owner=kazuo, category="notices").exists()
    notice = portal_notice_send(
        resident=kazuo,
        key="t-1",
        category="general",
        title_ja="介護保険料のお知らせ",
        title_en="",
        body_ja="本文",
        body_en="",
    )
    assert notice.audience == Audience.RESIDENT
    inbox = client.get("/notices/").content.decode()
    assert "介護保険料のお知らせ" in inbox
    assert client.get(f"/notices/{notice.public_id}/").status_code == 200
    assert not notice.states.filter(read_at__isnull=False).exists()
    assert client.post(f"/notices/{notice.public_id}/archive/").status_code == 403
    records = ReleaseRecord.objects.filter(owner=kazuo, category="notices", actor_type="proxy")
    assert records.count() == 2 and all(r.actor_label == yuki.name for r in records)
    # Her own inbox is not his.
    client.post("/proxies/stop/")
    assert "介護保険料のお知らせ" not in client.get("/notices/").content.decode()


def test_ending_the_grant_stops_the_proxy_at_once(acting, kazuo):
    client, grant = acting
    services.grant_end(resident=kazuo, grant_public_id=grant.public_id)
    response = client.get("/myinfo/medical_drugs/")
    assert "アムロジピン" not in response.content.decode()
    assert 'id="acting-banner"' not in client.get("/proxies/").content.decode()


def test_an_expired_grant_stops_the_proxy(acting):
    client, grant = acting
    ProxyGrant.objects.filter(pk=grant.pk).update(ends_on=timezone.localdate() - dt.timedelta(days=1))
    assert "アムロジピン" not in client.get("/myinfo/medical_drugs/").content.decode()


def test_another_resident_cannot_act_under_someone_elses_grant(acting, stranger):
    _, grant = acting
    client = logged_in(stranger)
    assert client.post(f"/proxies/{grant.public_id}/act/").status_code == 404
    assert 'id="acting-banner"' not in client.get("/myinfo/").content.decode()


def test_the_invitation_flow_through_the_pages(kazuo, yuki):
    principal = logged_in(kazuo)
    page = principal.post(
        "/proxies/invite/",
        {
            "scopes": ["medical", "history"],
            "ends_on": (timezone.localdate() + dt.timedelta(days=90)).isoformat(),
        },
        follow=True,
    ).content.decode()
    code = page.split('id="invitation-code">')[1].split("<")[0]
    # The code is shown once: a reload shows no code and makes no second invitation.
    assert 'id="invitation-code"' not in principal.get("/proxies/").content.decode()
    assert ProxyGrant.objects.count() == 1
    proxy = logged_in(yuki)
    assert proxy.post("/proxies/accept/", {"code": code}).status_code == 302
    again = proxy.post("/proxies/accept/", {"code": code})
    assert again.status_code == 404 and 'data-code="invitation_invalid"' in again.content.decode()
    listing = principal.get("/proxies/").content.decode()
    assert "田中 由紀" in listing and "confirm-grant" in listing
    response = principal.post(f"/proxies/{ProxyGrant.objects.get().public_id}/confirm/")
    assert response.status_code == 302 and response["Location"].startswith("/stepup/")


def test_bad_invitation_input_is_shown_clearly(kazuo):
    principal = logged_in(kazuo)
    response = principal.post("/proxies/invite/", {"scopes": ["medical"], "ends_on": "not-a-date"})
    assert response.status_code == 422 and 'data-code="end_invalid"' in response.content.decode()
    response = principal.post("/proxies/invite/", {"ends_on": "2099-01-01"})
    assert response.status_code == 422
    assert not ProxyGrant.objects.exists()


def test_the_principal_is_told_of_proxy_reads_unless_he_turned_it_off(acting, kazuo):
    from portal.history.alerts import alert_preference_set
    from portal.history.models import ReleaseAlert

    client, _ = acting
    client.get("/myinfo/medical_drugs/")
    alert = ReleaseAlert.objects.get(resident=kazuo)
    assert alert.actor_type == "proxy" and alert.category == "medical_drugs"
    alert_preference_set(resident=kazuo, on_firm_reads=False, on_proxy_reads=False)
    client.get("/myinfo/medical_drugs/")
    assert ReleaseAlert.objects.filter(resident=kazuo).count() == 1


def test_a_protected_address_never_reaches_a_proxy(kazuo, yuki):
    household = {
        "address": {"full": "東京都千代田区永田町一丁目6番1号"},
        "members": [
            {"name": "田中 和夫", "relationship": "世帯主", "address": "東京都千代田区永田町一丁目6番1号"}
        ],
    }
    hold(kazuo, "household", household)
    grant = grant_between(kazuo, yuki, ["myinfo:household"])
    client = logged_in(yuki)
    client.post(f"/proxies/{grant.public_id}/act/")
    assert "永田町" in client.get("/myinfo/household/").content.decode()

    kazuo.address_protected = True  # 支援措置, set by staff on the municipality's word
    kazuo.save(update_fields=["address_protected"])
    page = client.get("/myinfo/household/").content.decode()
    assert "永田町" not in page and "田中 和夫" in page
    # He still sees his own address.
    assert "永田町" in logged_in(kazuo).get("/myinfo/household/").content.decode()


def test_downloads_are_not_offered_while_acting(acting):
    client, _ = acting
    assert 'href="/myinfo/export.json"' not in client.get("/myinfo/").content.decode()


def test_the_signature_pages_open_to_a_proxy_only_to_sign_an_answer(kazuo, yuki):
    from portal.identity.services import stepup_start
    from portal.identity.views import SESSION_BROWSER_KEY

    def start(act):
        return stepup_start(
            resident=yuki,
            browser_key="her-browser",
            act=act,
            summary_ja="署名",
            summary_en="Sign",
            payload={},
        )

    answering = grant_between(kazuo, yuki, ["notices_answer"])
    client = logged_in(yuki)
    session = client.session
    session[SESSION_BROWSER_KEY] = "her-browser"
    session.save()
    client.post(f"/proxies/{answering.public_id}/act/")
    answer, appoint = start("notice.respond"), start("proxy.appoint")
    assert client.get(f"/stepup/{answer.id}/").status_code == 200
    assert client.get(f"/signing/{answer.id}/status/").json() == {"status": "pending"}
    refused = client.get(f"/stepup/{appoint.id}/")  # her own business waits until she switches back
    assert refused.status_code == 302 and refused["Location"] == "/proxies/"

    services.grant_end(resident=kazuo, grant_public_id=answering.public_id)
    reading = grant_between(kazuo, yuki, ["notices_read"])
    client.post(f"/proxies/{reading.public_id}/act/")
    for path in (f"/stepup/{answer.id}/", f"/signing/{answer.id}/status/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == "/proxies/", path
