"""A new notice is announced through portal.notify (content-free), to each recipient once."""

import pytest
from django.utils import timezone

from notices import notify
from notices.models import Notice
from notices.tasks import announce_notice
from portal.notify.models import NotificationPreference
from tests.factories import ResidentFactory
from tests.notices.conftest import notice_body, to_resident

pytestmark = pytest.mark.django_db


@pytest.fixture
def told(monkeypatch) -> list[dict]:
    calls: list[dict] = []

    def notify_resident(*, resident, kind, category, url, dedupe_key=""):
        calls.append(
            {"resident": resident, "kind": kind, "category": category, "url": url, "key": dedupe_key}
        )

    monkeypatch.setattr(notify, "_sender", lambda: (notify_resident, frozenset({"child", "general"}), True))
    return calls


def test_targeted_notice_is_announced_after_commit(
    api, resident, told, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("notices.tasks.announce_notice.delay", lambda notice_id: announce_notice(notice_id))
    with django_capture_on_commit_callbacks(execute=True):
        api.post_notice(notice_body(to_resident(resident)))
    notice = Notice.objects.get()
    assert told == [
        {
            "resident": resident,
            "kind": "notice",
            "category": "child",
            "url": f"/notices/{notice.public_id}/",
            "key": f"notice:{notice.public_id}",
        }
    ]


def _reachable_by_mail(resident) -> None:
    NotificationPreference.objects.create(
        resident=resident, email="resident@example.jp", email_verified_at=timezone.now()
    )


def test_broadcast_is_announced_to_each_matching_resident(api, resident, other_resident, told):
    _reachable_by_mail(resident)
    _reachable_by_mail(other_resident)
    api.post_notice(
        notice_body({"type": "segment", "municipality": "神奈川県横浜市中区"}, category="disaster")
    )
    assert announce_notice(Notice.objects.get().pk) == 1
    assert [c["resident"] for c in told] == [resident]
    assert told[0]["category"] == "general"  # a category notify has no preference for


def test_broadcast_skips_residents_with_nothing_to_tell_them_through(api, resident, told):
    """The inbox shows the broadcast to everyone at read time; only devices and addresses need work."""
    unreachable = ResidentFactory()
    _reachable_by_mail(resident)
    api.post_notice(notice_body({"type": "everyone"}))
    assert announce_notice(Notice.objects.get().pk) == 1
    assert [c["resident"] for c in told] == [resident] and unreachable not in [c["resident"] for c in told]


def test_without_a_notifier_nothing_happens(api, resident, monkeypatch):
    monkeypatch.setattr(notify, "_sender", lambda: (None, None, False))
    ResidentFactory()
    api.post_notice(notice_body({"type": "everyone"}))
    assert announce_notice(Notice.objects.get().pk) == 0
