"""The resident's /history/ page, deferred disclosure, alerts and the auditor's statistics."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from portal.core.errors import PortalError
from portal.history import selectors
from portal.history.models import ActorType, Channel, ReleaseAlert, ReleaseRecord
from portal.history.services import Actor, release_record
from portal.identity.models import Resident, User
from tests.factories import ResidentFactory
from tests.helpers import login_with_card

pytestmark = pytest.mark.django_db

BANK = Actor.for_firm("firm:sakura", "さくら銀行株式会社")
TAX_OFFICE = Actor.for_agency("municipal-tax", "デモ市 税務課")


def _release(
    owner, actor, *, category="income_tax", purpose="住宅ローンの審査", channel=Channel.FIRM_API, **kw
):
    return release_record(
        owner=owner, actor=actor, category=category, items=["income"], purpose=purpose, channel=channel, **kw
    )


@pytest.fixture
def hanako(client, trusted_jpki) -> Resident:
    login_with_card(client, trusted_jpki, "yamada-hanako")
    return Resident.objects.get(name="山田 花子")


def test_history_shows_plain_sentences_newest_first(client, hanako):
    _release(hanako, TAX_OFFICE, purpose="児童手当の認定", channel=Channel.AGENCY_API, category="household")
    _release(hanako, BANK)
    page = client.get("/history/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "さくら銀行株式会社が、住宅ローンの審査のため、あなたの所得・住民税を取得しました。" in body
    assert body.index("さくら銀行株式会社が") < body.index("デモ市 税務課が")


def test_viewing_the_history_is_itself_recorded(client, hanako):
    client.get("/history/")
    latest = ReleaseRecord.objects.filter(owner=hanako).latest("seq")
    assert (latest.category, latest.purpose, latest.channel) == ("access_history", "history_view", "web")


def test_history_in_english(client, hanako):
    _release(hanako, BANK, purpose="a mortgage application")
    client.get("/")
    client.post("/i18n/setlang/", {"language": "en", "next": "/history/"})
    body = client.get("/history/").content.decode()
    assert "さくら銀行株式会社 received your income and resident tax for a mortgage application." in body
    assert "You viewed your own identity (name, My Number and such) for showing your home page." in body


def test_filters_by_actor_category_and_period(client, hanako):
    _release(hanako, BANK)
    _release(hanako, TAX_OFFICE, category="household", channel=Channel.AGENCY_API)
    only_firms = client.get("/history/", {"actor": "firm"}).content.decode()
    assert "さくら銀行株式会社" in only_firms and "デモ市 税務課" not in only_firms
    only_household = client.get("/history/", {"category": "household"}).content.decode()
    assert "デモ市 税務課" in only_household and "さくら銀行株式会社が" not in only_household
    today = timezone.localdate()
    long_ago = client.get("/history/", {"from": "2018-01-01", "to": "2018-12-31"}).content.decode()
    assert 'id="no-records"' in long_ago
    this_year = client.get("/history/", {"from": f"{today.year}-01-01", "to": today.isoformat()})
    assert "さくら銀行株式会社" in this_year.content.decode()


@pytest.mark.parametrize(
    ("params", "code", "english"),
    [
        ({"from": "2026-13-01"}, "bad_date", "Enter the start date as 2026-04-01."),
        ({"to": "yesterday"}, "bad_date", "Enter the end date as 2026-04-01."),
        ({"from": "2099-01-01"}, "future_date", "Dates in the future cannot be used."),
        (
            {"from": "2025-05-01", "to": "2025-04-01"},
            "reversed_range",
            "The start date is after the end date.",
        ),
        ({"from": "1990-01-01"}, "too_early", "There are no records before 1 January 2017."),
        ({"actor": "martian"}, "unknown_actor", "Unknown kind of actor."),
        ({"category": "dreams"}, "unknown_category", "Unknown category."),
        ({"before": "abc"}, "bad_page", "The page requested is not valid."),
        ({"before": "9" * 40}, "bad_page", "The page requested is not valid."),
        ({"before": "-1"}, "bad_page", "The page requested is not valid."),
        ({"before": "²"}, "bad_page", "The page requested is not valid."),  # a digit to isdigit()
        ({"before": "١٢"}, "bad_page", "The page requested is not valid."),
    ],
)
def test_bad_filters_give_a_clear_400_and_record_nothing(client, hanako, params, code, english):
    before = ReleaseRecord.objects.filter(owner=hanako).count()
    response = client.get("/history/", params)
    body = response.content.decode()
    assert response.status_code == 400
    assert f'data-code="{code}"' in body and english in body
    japanese = body.split('lang="ja">', 1)[1].split("</p>", 1)[0]
    assert japanese and not japanese.isascii()  # the Japanese message beside it
    assert ReleaseRecord.objects.filter(owner=hanako).count() == before
    english_page = client.get("/history/", params, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<p class="notice__primary" lang="en">{english}' in english_page


def test_a_range_longer_than_the_history_is_kept_is_refused(monkeypatch):
    # Only reachable once ten years have passed since 2017: "today" is moved there.
    from portal.history import filters

    monkeypatch.setattr(filters.timezone, "localdate", lambda: dt.date(2030, 1, 1))
    with pytest.raises(PortalError) as refused:
        filters.history_filter_parse({"from": "2017-01-01", "to": "2029-12-31"})
    assert refused.value.code == "range_too_long" and refused.value.status == 400
    assert "10年以内" in refused.value.message_ja and "ten years or less" in refused.value.message_en
    assert filters.history_filter_parse({"from": "2020-01-02", "to": "2029-12-31"}).date_from


def test_pages_of_fifty_with_an_older_link(client, hanako):
    for n in range(120):
        _release(hanako, TAX_OFFICE, purpose=f"照会{n:03d}", channel=Channel.AGENCY_API)
    first = client.get("/history/")
    lines = first.content.decode().count('class="history__item')
    assert lines == 50
    older = first.context["older_than"]
    second = client.get("/history/", {"before": older})
    seqs = [line.seq for line in second.context["lines"]]
    assert len(seqs) == 50 and max(seqs) < older


def test_a_resident_never_sees_another_residents_history(client, hanako):
    other = ResidentFactory()
    _release(other, BANK, purpose="他人の住宅ローン")
    body = client.get("/history/").content.decode()
    assert "他人の住宅ローン" not in body
    assert client.get("/history/", {"before": "999999"}).status_code == 200
    assert "他人の住宅ローン" not in client.get("/history/", {"before": "999999"}).content.decode()


def test_deferred_release_is_hidden_until_its_disclosure_date(client, hanako):
    disclose = timezone.now() + dt.timedelta(days=30)
    police = Actor.for_agency("prefectural-police", "デモ県警察本部")
    _release(
        hanako,
        police,
        purpose="捜査関係事項照会",
        channel=Channel.AGENCY_API,
        legal_basis="刑事訴訟法第197条第2項",
        disclose_from=disclose,
    )
    assert "デモ県警察本部" not in client.get("/history/").content.decode()
    before = selectors.resident_release_list(owner=hanako, now=disclose - dt.timedelta(seconds=1))
    after = selectors.resident_release_list(owner=hanako, now=disclose)
    assert not before.filter(actor_label="デモ県警察本部").exists()
    assert after.filter(actor_label="デモ県警察本部").exists()


def test_staff_reads_always_alert_and_firm_reads_when_asked(client, hanako):
    staff = User.objects.create_user("support-1")
    release_record(
        owner=hanako,
        actor=Actor.for_staff(staff, "サポート窓口"),
        category="identity",
        items=["name"],
        purpose="support",
        channel=Channel.ADMIN,
    )
    _release(hanako, BANK)
    assert list(ReleaseAlert.objects.filter(resident=hanako).values_list("actor_type", flat=True)) == [
        "staff"
    ]

    client.post("/history/alerts/", {"on_firm_reads": "on"})
    _release(hanako, BANK)
    assert ReleaseAlert.objects.filter(resident=hanako, actor_type=ActorType.FIRM).count() == 1

    page = client.get("/history/").content.decode()
    assert 'id="alerts"' in page and "サポート窓口" in page
    assert not ReleaseAlert.objects.filter(resident=hanako, read_at__isnull=True).exists()
    assert 'id="alerts"' not in client.get("/history/").content.decode()


def test_deferred_release_alerts_only_from_its_date(hanako):
    staff = User.objects.create_user("investigator-liaison")
    disclose = timezone.now() + dt.timedelta(days=10)
    release_record(
        owner=hanako,
        actor=Actor.for_staff(staff, "捜査機関対応"),
        category="identity",
        items=["name"],
        purpose="捜査関係事項照会への回答",
        channel=Channel.ADMIN,
        disclose_from=disclose,
    )
    alert = ReleaseAlert.objects.get(resident=hanako)
    assert alert.visible_from == disclose


def test_auditor_sees_counts_only(client, hanako):
    _release(hanako, BANK)
    disclose = timezone.now() + dt.timedelta(days=30)
    _release(hanako, TAX_OFFICE, legal_basis="国税通則法第74条の2", disclose_from=disclose)
    auditor = User.objects.create_user("auditor-1", password="correct horse battery staple")
    auditor.groups.add(Group.objects.get(name="auditor"))

    assert client.get("/audit/").status_code == 403  # a resident is no auditor
    client.logout()
    client.force_login(auditor)
    page = client.get("/audit/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "さくら銀行株式会社" in body and "国税通則法第74条の2" in body
    assert "山田 花子" not in body and hanako.my_number not in body


def test_history_needs_login(client):
    response = client.get("/history/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_staff_opening_a_resident_is_recorded_and_alerted(client, hanako):
    staff = User.objects.create_superuser("support-2", "a long enough password 2")
    client.logout()
    client.force_login(staff)
    listing = client.get("/staff/admin/identity/resident/")
    assert listing.status_code == 200 and "山田 花子" not in listing.content.decode()
    page = client.get(f"/staff/admin/identity/resident/{hanako.pk}/change/")
    assert page.status_code == 200 and "山田 花子" in page.content.decode()
    record = ReleaseRecord.objects.filter(owner=hanako).latest("seq")
    assert (record.actor_type, record.channel, record.category) == ("staff", "admin", "basic_four")
    assert ReleaseAlert.objects.filter(resident=hanako, actor_type="staff").exists()


def _provision(resident, n: int, when, **changes):
    from portal.provision.models import ProvisionRecord

    values = {
        "resident": resident,
        "external_id": f"IPR-{n:016x}",
        "requester_id": "municipal-child",
        "requester_name_ja": "デモ市 子育て支援課",
        "requester_name_en": "Demo City Child Support Division",
        "provider_id": "municipal-tax",
        "provider_name_ja": "デモ市 税務課",
        "provider_name_en": "Demo City Tax Division",
        "procedure_ja": "児童扶養手当の現況届の審査",
        "procedure_en": "review of the child-rearing allowance status report",
        "legal_basis": "番号法 別表 項番（デモ）",
        "items_ja": "地方税関係情報",
        "items_en": "local tax information",
        "status": "provided",
        "occurred_at": when,
        "fetched_at": timezone.now(),
        **changes,
    }
    return ProvisionRecord.objects.create(**values)


def test_agencies_provision_records_are_shown_apart_and_labelled(client, hanako):
    from portal.provision.models import ProvisionFetch

    _provision(hanako, 1, timezone.now() - dt.timedelta(days=400))
    ProvisionFetch.objects.create(
        resident=hanako, last_success_at=timezone.now(), last_attempt_at=timezone.now()
    )
    body = client.get("/history/").content.decode()
    section = body[body.index('id="provision"') :]
    assert "これは行政機関の記録です" in section
    sentence = "デモ市 子育て支援課が、児童扶養手当の現況届の審査のため、デモ市 税務課にあなたの"
    assert sentence + "地方税関係情報を照会しました。" in section
    assert "さくら銀行" not in section

    only_firms = client.get("/history/", {"actor": "firm"}).content.decode()
    assert 'id="provision"' not in only_firms
    last_month = (timezone.localdate() - dt.timedelta(days=30)).isoformat()
    recent = client.get("/history/", {"from": last_month}).content.decode()
    assert "児童扶養手当の現況届の審査" not in recent


def test_opening_the_history_fetches_stale_provision_records(
    client, hanako, monkeypatch, django_capture_on_commit_callbacks
):
    from portal.provision import services as provision_services

    queued = []
    monkeypatch.setattr(
        provision_services, "provision_refresh_schedule", lambda resident: queued.append(resident)
    )
    body = client.get("/history/").content.decode()
    assert queued == [hanako]
    assert "記録を取得しています" in body
    client.get("/history/")
    assert len(queued) == 1  # at most once a minute


def test_provision_fetch_failure_is_said_plainly(client, hanako):
    from portal.provision.models import ProvisionFetch

    ProvisionFetch.objects.create(
        resident=hanako,
        last_attempt_at=timezone.now(),
        last_success_at=timezone.now() - dt.timedelta(days=2),
        last_error_code="gave_up",
    )
    body = client.get("/history/").content.decode()
    assert "最新の記録を取得できませんでした。" in body


@pytest.mark.parametrize(
    ("fmt", "content_type"), [("csv", "text/csv"), ("json", "application/json"), ("pdf", "application/pdf")]
)
def test_exports_are_offered_and_served_with_the_filter(client, hanako, fmt, content_type):
    _release(hanako, BANK)
    page = client.get("/history/", {"actor": "firm"}).content.decode()
    assert f'href="/history/export.{fmt}?actor=firm"' in page
    response = client.get(f"/history/export.{fmt}", {"actor": "firm"})
    assert response.status_code == 200 and response["Content-Type"].startswith(content_type)
    body = b"".join(response.streaming_content)
    assert body
    latest = ReleaseRecord.objects.filter(owner=hanako).latest("seq")
    assert (latest.channel, latest.purpose) == ("export", "history_export")


def test_export_with_a_bad_filter_is_a_clear_400(client, hanako):
    before = ReleaseRecord.objects.filter(owner=hanako).count()
    response = client.get("/history/export.csv", {"from": "2099-01-01"})
    assert response.status_code == 400 and "Dates in the future cannot be used." in response.content.decode()
    assert "未来の日付は指定できません。" in response.content.decode()
    assert ReleaseRecord.objects.filter(owner=hanako).count() == before
    assert client.get("/history/export.exe").status_code == 302


def test_published_roots_need_no_login(client):
    assert client.get("/history/roots/").status_code == 200
    assert client.get("/history/roots/public-key.pem").status_code == 200
