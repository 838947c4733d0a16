"""/myinfo/ pages: the cards and their states, a category made readable with charts, exports, and the
access history written before any agency data is shown."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from portal.celery import app as celery_app
from portal.history.models import ReleaseRecord
from portal.identity.models import Resident
from portal.myinfo.charts import axis_yen
from portal.myinfo.models import CategoryEntry, EntryState
from portal.myinfo.presentation import build_node, era_year, format_date, format_scalar, format_yen, label
from tests.helpers import login_with_card

pytestmark = pytest.mark.django_db

HOUSEHOLD = {
    "household_id": "H-100",
    "members": [
        {"name": "山田 花子", "relation": "head", "birth_date": "1985-07-07"},
    ],
}
EXPENSES = {
    "period_from": "2025-10",
    "period_to": "2026-09",
    "records": [
        {"service_month": "2026-09", "provider": "中之島内科クリニック", "kind": "外来", "days": 1,
         "total_yen": 41200, "copayment_yen": 12360},
        {"service_month": "2026-08", "provider": "みなと薬局", "kind": "調剤", "days": 1,
         "total_yen": 5230, "copayment_yen": 1570},
    ],
}  # fmt: skip
CHECKUPS = {
    "checkups": [
        {"fiscal_year": year, "examined_on": f"{year}-10-14", "results": [
            {"code": "systolic_bp", "name": "収縮期血圧", "value": value, "unit": "mmHg",
             "reference": {"lower": None, "upper": 129, "text": "129以下"},
             "flag": "high" if value > 129 else None}
        ]}
        for year, value in ((2023, 138), (2024, 131), (2025, 124))
    ]
}  # fmt: skip


@pytest.fixture
def hanako(client, trusted_jpki) -> Resident:
    login_with_card(client, trusted_jpki, "yamada-hanako")
    return Resident.objects.get(name="山田 花子")


def _held(resident, category, data, **changes):
    now = timezone.now()
    values = {
        "agency_id": "x",
        "state": EntryState.DONE,
        "payload": json.dumps(data, ensure_ascii=False),
        "as_of": now,
        "fetched_at": now,
        "expires_at": now + dt.timedelta(hours=24),
        **changes,
    }
    # Logging in queued real fetches (no worker runs here): the test's entry takes their place.
    entry, _ = CategoryEntry.objects.update_or_create(resident=resident, category=category, defaults=values)
    return entry


def test_overview_lists_every_category_with_its_state(client, hanako):
    _held(hanako, "household", HOUSEHOLD)
    _held(hanako, "pension", {}, state=EntryState.FETCHING, payload=None, requested_at=timezone.now())
    page = client.get("/myinfo/")
    body = page.content.decode()
    assert page.status_code == 200
    assert 'id="category-household" data-category="household" data-state="done"' in body
    assert 'data-category="pension" data-state="fetching"' in body
    assert 'href="/myinfo/household/"' in body
    assert '<meta http-equiv="refresh" content="5">' in body  # progress without JavaScript
    assert body.count('class="category category--') == 12


def test_status_json_reports_states_without_data(client, hanako):
    _held(hanako, "household", HOUSEHOLD)
    body = client.get("/myinfo/status.json").json()
    household = next(c for c in body["categories"] if c["category"] == "household")
    assert household["state"] == "done" and "山田" not in json.dumps(body, ensure_ascii=False)


def test_detail_is_recorded_before_it_is_shown(client, hanako):
    _held(hanako, "household", HOUSEHOLD)
    page = client.get("/myinfo/household/")
    body = page.content.decode()
    assert "世帯員" in body and "山田 花子" in body and "1985年7月7日" in body
    record = ReleaseRecord.objects.filter(owner=hanako).latest("seq")
    assert (record.category, record.purpose, record.channel) == ("household", "myinfo_view", "web")


def test_era_display_is_offered(client, hanako):
    _held(hanako, "household", HOUSEHOLD)
    assert "昭和60年7月7日" in client.get("/myinfo/household/", {"era": "1"}).content.decode()
    assert "1985年7月7日" in client.get("/myinfo/household/", {"era": "0"}).content.decode()


def test_medical_expenses_chart_and_yen(client, hanako):
    _held(hanako, "medical_expenses", EXPENSES)
    body = client.get("/myinfo/medical_expenses/").content.decode()
    assert "<svg" in body and "医療費の推移（月別）" in body
    assert "41,200円" in body and "<script" not in body.split("<main", 1)[1].split("</main>", 1)[0]


def test_a_name_is_labelled_by_the_record_that_holds_it():
    data = {
        "municipality": {"code": "231061", "name": "名古屋市中区"},
        "members": [{"name": "鈴木 一郎", "relation": "本人"}],
        "dispensings": [{"medicines": [{"name": "ロキソニン錠60mg", "amount": 1}]}],
        "name": "something unknown",
    }
    node = build_node(data, "ja")
    fields = dict(node.fields)
    assert dict(fields["市区町村"].fields)["名称"].text == "名古屋市中区"
    assert fields["世帯員"].headers[0] == "氏名"
    (dispensing,) = fields[label("dispensings", "ja")].items
    assert dict(dispensing.fields)["薬剤"].headers == ["薬剤名", "数量"]
    assert "名称・氏名" in fields  # a name nothing says more about keeps the general label
    english = dict(build_node(data, "en").fields)
    (dispensing,) = english[label("dispensings", "en")].items
    assert dispensing.fields[0][1].headers == ["medicine", "amount"]


@pytest.mark.parametrize(
    ("amount", "ja", "en"),
    [
        (0, "0円", "¥0"),
        (9_800, "9,800円", "¥9,800"),
        (41_200, "4.1万円", "¥41k"),
        (1_250_000, "125万円", "¥1,250k"),
    ],
)
def test_chart_axis_amounts_are_short_enough_for_a_phone(amount, ja, en):
    assert (axis_yen(amount, "ja"), axis_yen(amount, "en")) == (ja, en)


def test_checkup_chart_marks_values_out_of_range(client, hanako):
    _held(hanako, "medical_checkups", CHECKUPS)
    body = client.get("/myinfo/medical_checkups/").content.decode()
    assert "収縮期血圧（年度別）" in body and "基準範囲は129以下" in body
    assert body.count('fill="#ce0000"') == 2  # 2023 and 2024 above 129


def test_quarantined_category_is_never_shown(client, hanako):
    _held(hanako, "health_insurance", {"insurer": "他人の保険"}, state=EntryState.QUARANTINED, payload=None)
    body = client.get("/myinfo/health_insurance/").content.decode()
    assert "ご本人のものと確認できませんでした" in body and "他人の保険" not in body
    overview = client.get("/myinfo/").content.decode()
    assert "機関に連絡済みです" in overview


def test_unknown_category_is_404_and_records_nothing(client, hanako):
    before = ReleaseRecord.objects.count()
    assert client.get("/myinfo/dreams/").status_code == 404
    assert ReleaseRecord.objects.count() == before


def test_refresh_queues_the_asked_category(client, hanako, monkeypatch):
    from portal.myinfo import services

    asked = []
    monkeypatch.setattr(services, "myinfo_refresh_start", lambda **kwargs: asked.append(kwargs) or [])
    response = client.post("/myinfo/refresh/", {"category": "pension"})
    assert response.status_code == 302 and asked[0]["categories"] == ["pension"]
    assert client.post("/myinfo/refresh/", {"category": "nope"}).status_code == 404


OUTAGE_JA = "ただいまシステムの一部が停止しているため、情報を取り寄せられません。"
OUTAGE_EN = "Part of the system is down at the moment, so your information cannot be fetched."


def test_overview_says_when_fetching_cannot_start(client, hanako, monkeypatch):
    assert 'id="fetching-unavailable"' not in client.get("/myinfo/").content.decode()
    _held(hanako, "household", HOUSEHOLD)
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:9/0")  # the broker is down

    page = client.get("/myinfo/")
    body = page.content.decode()
    assert page.status_code == 200 and 'id="fetching-unavailable"' in body and OUTAGE_JA in body
    assert 'data-category="household" data-state="done"' in body  # what is held is still shown
    english = client.get("/myinfo/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert OUTAGE_EN in english


def test_overview_answers_while_the_shared_cache_is_down(client, hanako, stop_shared_cache):
    _held(hanako, "household", HOUSEHOLD)
    stop_shared_cache()
    page = client.get("/myinfo/")
    assert page.status_code == 200
    assert 'data-category="household" data-state="done"' in page.content.decode()
    assert client.get("/myinfo/status.json").status_code == 200


def test_exports_record_each_category_first(client, hanako):
    _held(hanako, "household", HOUSEHOLD)
    _held(hanako, "medical_expenses", EXPENSES)
    response = client.get("/myinfo/export.json")
    document = json.loads(b"".join(response.streaming_content))
    assert document["schema"] == "myna-portal:myinfo-export:v1"
    assert {c["category"] for c in document["categories"]} == {"household", "medical_expenses"}
    exported = ReleaseRecord.objects.filter(owner=hanako, channel="export").values_list("category", flat=True)
    assert sorted(exported) == ["household", "medical_expenses"]
    pdf = b"".join(client.get("/myinfo/export.pdf").streaming_content)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert client.get("/myinfo/export.exe").status_code == 404


def test_formatting_helpers():
    assert era_year(dt.date(2019, 5, 1)) == "令和元年"
    assert era_year(dt.date(2019, 4, 30)) == "平成31年"
    assert format_date(dt.date(1989, 1, 7), "ja", era=True) == "昭和64年1月7日"
    assert format_date(dt.date(2026, 4, 1), "en") == "1 April 2026"
    assert format_yen(1234567, "ja") == "1,234,567円" and format_yen(1234567, "en") == "¥1,234,567"
    assert format_scalar("sex", "2", "ja") == "女性" and format_scalar("sex", "1", "en") == "male"
