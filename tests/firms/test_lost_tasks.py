"""A firm's e-mail whose task was lost is sent again by the lost-task sweep, once, and mailed once."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from portal.core.lost_tasks import lost_task_stall, lost_tasks_recover
from portal.firms import services
from portal.firms.models import FirmEvent, FirmEventKind
from portal.firms.tasks import send_event_mail
from tests.firms.conftest import apply

pytestmark = pytest.mark.django_db

KIND = "firms.event_mail"


def sweep(now) -> dict[str, int]:
    return lost_tasks_recover(now=now, kinds=[KIND])[KIND]


@pytest.fixture
def lost_event(django_capture_on_commit_callbacks) -> FirmEvent:
    with django_capture_on_commit_callbacks(execute=False):  # the task never reached the broker
        firm, _ = apply()
    return FirmEvent.objects.get(firm=firm, kind=FirmEventKind.APPLIED)


def test_a_lost_mail_is_sent_again_once_and_mailed_once(lost_event, eager):
    later = timezone.now() + lost_task_stall() + timedelta(seconds=1)

    assert sweep(timezone.now()) == {}  # fresh: its task may still come
    assert sweep(later) == {"sent_again": 1}
    assert len(mail.outbox) == 1
    lost_event.refresh_from_db()
    assert lost_event.mailed_at is not None
    assert sweep(later + lost_task_stall() * 2) == {}  # mailed: owed no more
    assert services.event_mail_send(event_id=lost_event.pk) == "already_sent"  # a late copy
    assert len(mail.outbox) == 1


def test_a_resend_waits_a_whole_stall_before_the_next(lost_event, monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(send_event_mail, "delay", lambda event_id: sent.append(event_id))
    later = timezone.now() + lost_task_stall() + timedelta(seconds=1)

    assert sweep(later) == {"sent_again": 1}
    assert sweep(later + timedelta(minutes=1)) == {}
    assert sent == [lost_event.pk]


def test_a_mail_being_tried_or_failed_for_good_is_left_alone(lost_event, monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(send_event_mail, "delay", lambda event_id: sent.append(event_id))
    later = timezone.now() + lost_task_stall() + timedelta(seconds=1)
    FirmEvent.objects.filter(pk=lost_event.pk).update(mail_tried_at=later - timedelta(minutes=1))
    assert sweep(later) == {}
    services.event_mail_gave_up(event_id=lost_event.pk, error="smtp_recipient_refused")
    assert sweep(later + lost_task_stall() * 2) == {}
    assert sent == []
