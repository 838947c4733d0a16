"""A broadcast's announcement queues its residents' messages in shared batches, not a task per resident."""

import pytest
from django.utils import timezone

from notices.models import Notice
from notices.tasks import announce_notice
from portal.notify import tasks as notify_tasks
from portal.notify.models import Delivery, NotificationPreference
from tests.factories import ResidentFactory
from tests.notices.conftest import notice_body


@pytest.mark.django_db(transaction=True)  # each resident's messages commit on their own, as in the worker
def test_a_broadcast_queues_its_residents_messages_together(api, monkeypatch):
    residents = [ResidentFactory() for _ in range(3)]
    for number, resident in enumerate(residents):
        NotificationPreference.objects.create(
            resident=resident, email=f"resident-{number}@example.jp", email_verified_at=timezone.now()
        )
    queued: list[list[int]] = []
    monkeypatch.setattr(notify_tasks.send_deliveries, "delay", lambda ids: queued.append(list(ids)))
    monkeypatch.setattr("notices.tasks.announce_notice.delay", lambda notice_id: None)  # run below instead
    api.post_notice(notice_body({"type": "everyone"}))

    assert announce_notice(Notice.objects.get().pk) == 3

    made = sorted(Delivery.objects.filter(resident__in=residents).values_list("pk", flat=True))
    assert len(made) == 3
    assert [sorted(batch) for batch in queued] == [made]
