"""/notices/: the list, filters, Japanese search, read and archive states, the unread badge, and that
no one opens another resident's notice by guessing its id."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notices.models import Notice, NoticeState
from notices.selectors import InboxFilter, notice_list, notice_unread_count
from tests.notices.conftest import form_action, logged_in, notice_body, pdf_attachment, to_resident

pytestmark = pytest.mark.django_db


def _send(api, resident, key, **changes) -> Notice:
    response = api.post_notice(notice_body(to_resident(resident), **changes), key=key)
    assert response.status_code == 201, response.content
    return Notice.objects.get(public_id=response.json()["id"])


def test_list_shows_sender_title_date_deadline_and_marks(api, resident):
    notice = _send(api, resident, "a", action=form_action())
    _send(api, resident, "b", title={"ja": "予防接種のお知らせ"}, body={"ja": "ご案内です。"}, deadline=None)
    page = logged_in(resident).get("/notices/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "児童扶養手当の現況届のご案内" in html and "予防接種のお知らせ" in html
    assert "市区町村 子育て支援課" in html
    assert notice.deadline.astimezone(dt.timezone(dt.timedelta(hours=9))).strftime("%Y-%m-%d") in html
    assert html.count("tag--action") == 1 and html.count("tag--unread") == 2
    assert 'id="unread-count">2<' in html


def test_reading_creates_state_and_lowers_the_unread_count(api, resident):
    notice = _send(api, resident, "a")
    client = logged_in(resident)
    assert notice_unread_count(resident=resident) == 1
    assert not NoticeState.objects.exists()
    detail = client.get(f"/notices/{notice.public_id}/")
    assert detail.status_code == 200
    assert NoticeState.objects.get().read_at is not None
    assert notice_unread_count(resident=resident) == 0
    assert 'id="unread-count"' not in client.get("/notices/").content.decode()


def test_unread_count_is_one_query_then_cached(api, resident):
    _send(api, resident, "a")
    with CaptureQueriesContext(connection) as queries:
        assert notice_unread_count(resident=resident) == 1
        assert notice_unread_count(resident=resident) == 1
    assert len(queries) == 1
    _send(api, resident, "b")  # a new notice forgets the cached count
    assert notice_unread_count(resident=resident) == 2


def test_a_cached_count_is_one_round_trip_to_the_cache(api, resident, monkeypatch):
    from django.core.cache import cache

    _send(api, resident, "a")
    assert notice_unread_count(resident=resident) == 1  # counted and kept
    calls: list[str] = []
    for name in ("get", "get_many", "set", "add"):
        original = getattr(cache, name)
        monkeypatch.setattr(
            cache, name, lambda *a, _n=name, _o=original, **k: (calls.append(_n), _o(*a, **k))[1]
        )
    with CaptureQueriesContext(connection) as queries:
        assert notice_unread_count(resident=resident) == 1
    assert calls == ["get_many"] and len(queries) == 0


def test_a_count_kept_under_an_older_broadcast_version_is_counted_again(api, resident):
    assert notice_unread_count(resident=resident) == 0
    _send(api, resident, "a")  # forgets this resident's count
    assert notice_unread_count(resident=resident) == 1
    api.post_notice(notice_body({"type": "everyone"}), key="all")  # a new version for everyone
    assert notice_unread_count(resident=resident) == 2


def test_new_broadcast_updates_every_cached_count(api, resident):
    assert notice_unread_count(resident=resident) == 0
    api.post_notice(notice_body({"type": "everyone"}), key="all")
    assert notice_unread_count(resident=resident) == 1


def test_archive_hides_from_the_inbox_and_shows_under_archived(api, resident):
    notice = _send(api, resident, "a")
    client = logged_in(resident)
    response = client.post(f"/notices/{notice.public_id}/archive/", {"archived": "1"})
    assert response.status_code == 302
    assert notice.title_ja not in client.get("/notices/").content.decode()
    assert notice.title_ja in client.get("/notices/?filter=archived").content.decode()
    assert notice_unread_count(resident=resident) == 0  # archived notices are not counted
    client.post(f"/notices/{notice.public_id}/archive/", {"archived": "0"})
    assert notice.title_ja in client.get("/notices/").content.decode()


def test_filters_unread_action_and_category(api, resident):
    form = _send(api, resident, "form", action=form_action())
    info = _send(api, resident, "info", category="tax", title={"ja": "住民税のお知らせ"}, body={"ja": "本文"})
    NoticeState.objects.create(notice=info, resident=resident, read_at=dt.datetime.now(dt.UTC))

    def ids(**filters):
        return [n.pk for n in notice_list(resident=resident, filters=InboxFilter(**filters))]

    assert ids() == [info.pk, form.pk]
    assert ids(unread=True) == [form.pk]
    assert ids(action_needed=True) == [form.pk]
    assert ids(category="tax") == [info.pk]
    page = logged_in(resident).get("/notices/?category=tax").content.decode()
    assert "住民税のお知らせ" in page and "現況届" not in page


def test_action_needed_ends_with_the_answer_or_the_deadline(api, resident):
    notice = _send(api, resident, "form", action={"type": "confirm"})
    assert notice_list(resident=resident, filters=InboxFilter(action_needed=True))
    Notice.objects.filter(pk=notice.pk).update(deadline=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    assert not notice_list(resident=resident, filters=InboxFilter(action_needed=True))


def test_search_finds_japanese_substrings(api, resident):
    status_report = _send(api, resident, "a")
    vaccination = _send(
        api, resident, "b", title={"ja": "予防接種のお知らせ"}, body={"ja": "接種券を送りました。"}
    )
    client = logged_in(resident)

    def found(query):
        return [n.pk for n in client.get("/notices/", {"q": query}).context["notices"]]

    assert found("現況") == [status_report.pk]
    assert found("現況届") == [status_report.pk]
    assert found("接種券") == [vaccination.pk]  # body text
    assert found("status REPORT") == [status_report.pk]  # English title, any case
    assert found("年金") == []
    assert 'id="no-notices"' in client.get("/notices/", {"q": "年金"}).content.decode()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_title_search_can_use_the_trigram_index(api, resident):
    _send(api, resident, "a")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM notices_notice WHERE UPPER(title_ja::text) LIKE UPPER(%s)", ["%現況届%"]
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "notices_title_ja_trgm" in plan


def test_paging_older_notices(api, resident, settings):
    settings.NOTICE_PAGE_SIZE = 2
    sent = [
        _send(api, resident, f"k{i}", title={"ja": f"お知らせ{i}番"}, body={"ja": "本文"}) for i in range(3)
    ]
    client = logged_in(resident)
    first = client.get("/notices/")
    assert [n.pk for n in first.context["notices"]] == [sent[2].pk, sent[1].pk]
    second = client.get("/notices/", {"before": str(first.context["older_than"])})
    assert [n.pk for n in second.context["notices"]] == [sent[0].pk]


def test_detail_renders_the_sanitised_body_and_english(api, resident):
    notice = _send(api, resident, "a")
    client = logged_in(resident)
    html = client.get(f"/notices/{notice.public_id}/").content.decode()
    assert "<strong>現況届</strong>" in html
    assert '<a href="https://www.example.go.jp/jido" rel="noopener noreferrer nofollow"' in html
    client.cookies["django_language"] = "en"
    english = client.get(f"/notices/{notice.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Child-rearing allowance: yearly status report" in english
    assert "<strong>status report</strong>" in english


def test_another_residents_notice_is_not_found(api, resident, other_resident):
    notice = _send(api, resident, "a", action={"type": "confirm"}, attachments=[pdf_attachment()])
    attachment = notice.attachments.get()
    intruder = logged_in(other_resident)
    base = f"/notices/{notice.public_id}"
    assert intruder.get(f"{base}/").status_code == 404
    assert intruder.get(f"{base}/receipt/").status_code == 404
    assert intruder.get(f"{base}/attachments/{attachment.public_id}/").status_code == 404
    assert intruder.post(f"{base}/respond/", {"confirmed": "on"}).status_code == 404
    assert intruder.post(f"{base}/archive/", {"archived": "1"}).status_code == 404
    assert intruder.get("/notices/", {"before": str(notice.public_id)}).status_code == 200
    assert notice.title_ja not in intruder.get("/notices/").content.decode()
    assert not NoticeState.objects.exists()
    assert intruder.get("/notices/not-a-uuid/").status_code == 404


def test_pages_need_a_login(api, resident):
    notice = _send(api, resident, "a")
    from django.test import Client

    anonymous = Client()
    assert anonymous.get("/notices/")["Location"].startswith("/login/")
    assert anonymous.get(f"/notices/{notice.public_id}/")["Location"].startswith("/login/")


def test_badge_links_to_the_inbox_on_other_pages(api, resident):
    _send(api, resident, "a")
    page = logged_in(resident).get("/history/").content.decode()
    assert 'href="/notices/" id="inbox-link"' in page and 'id="unread-count">1<' in page


def test_unread_count_comes_from_the_database_while_the_cache_is_down(api, resident, stop_shared_cache):
    _send(api, resident, "a")
    client = logged_in(resident)
    stop_shared_cache()
    assert notice_unread_count(resident=resident) == 1
    page = client.get("/notices/")  # the header's badge must not break the page
    assert page.status_code == 200 and 'id="unread-count">1<' in page.content.decode()
    notice = Notice.objects.get()
    assert client.get(f"/notices/{notice.public_id}/").status_code == 200  # reading it forgets no count
    assert NoticeState.objects.get().read_at is not None
    assert notice_unread_count(resident=resident) == 0
