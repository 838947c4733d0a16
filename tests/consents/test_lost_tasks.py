"""The consent side's owed work, sent again by the lost-task sweep: telling a firm a consent ended (one
callback however often sent) and ending the consents of a firm whose controller changed (each ended and
told once; a consent given to the new controller afterwards kept)."""

from datetime import timedelta

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from notices.models import Notice
from portal.consents import callbacks, services, tasks
from portal.consents.models import Consent, ConsentState
from portal.core.lost_tasks import lost_task_stall, lost_tasks_recover
from portal.firms.models import ControllerChange, FirmClient
from portal.firms.services import controller_change_record, firm_approve
from portal.identity.models import User
from tests.consents.test_lifecycle import NEW_CORPORATE_NUMBER
from tests.factories import ResidentFactory
from tests.firms.conftest import active_consent, apply

pytestmark = pytest.mark.django_db

TOLD = "consents.firm_told_of_end"
CHANGED = "consents.controller_change"
CHANGE_TITLE = "情報の提供先の事業者が変わりました"


def sweep(kind: str, now) -> dict[str, int]:
    return lost_tasks_recover(now=now, kinds=[kind])[kind]


def later(stalls: int = 1):
    return timezone.now() + lost_task_stall() * stalls + timedelta(seconds=1)


@pytest.fixture
def staff(db) -> User:
    return User.objects.create(username="firm-reviewer", password="!", is_staff=True, is_superuser=True)


@pytest.fixture
def firm(staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # its mails are another kind's business
        firm, _ = apply()
        firm_approve(firm_id=firm.pk, staff=staff)
    firm.refresh_from_db()
    return firm


@pytest.fixture
def callbacks_received(monkeypatch) -> list[str]:
    """The firm's callback endpoint: answers 2xx and keeps what it got."""
    received: list[str] = []

    def post(url, **options):
        received.append(options["content"])
        return httpx.Response(204)

    monkeypatch.setattr(callbacks.httpx, "post", post)
    FirmClient.objects.update(callback_url="https://firm.test/consent-events")
    return received


@pytest.fixture
def queued(monkeypatch) -> dict[str, list]:
    calls: dict[str, list] = {"told": [], "changed": []}
    monkeypatch.setattr(tasks.tell_firm_consent_ended, "delay", lambda **kw: calls["told"].append(kw))
    monkeypatch.setattr(tasks.end_for_controller_change, "delay", lambda **kw: calls["changed"].append(kw))
    return calls


def _revoked_lost(consent: Consent, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=False):  # the task never reached the broker
        services.consent_revoke(resident=consent.resident, consent_public_id=consent.public_id)


# --- telling the firm that a consent ended ---------------------------------------------------------------


def test_a_lost_consent_ended_callback_is_sent_again_once(firm, queued, django_capture_on_commit_callbacks):
    consent = active_consent(firm, ResidentFactory())
    _revoked_lost(consent, django_capture_on_commit_callbacks)

    assert sweep(TOLD, timezone.now()) == {}  # fresh: its task may still come
    assert sweep(TOLD, later()) == {"sent_again": 1}
    assert queued["told"] == [{"consent_id": consent.pk}]
    assert sweep(TOLD, later() + timedelta(minutes=1)) == {}


def test_active_told_and_failed_consents_are_left_alone(firm, queued, django_capture_on_commit_callbacks):
    active_consent(firm, ResidentFactory())
    told, failed = active_consent(firm, ResidentFactory()), active_consent(firm, ResidentFactory())
    for consent in (told, failed):
        _revoked_lost(consent, django_capture_on_commit_callbacks)
    Consent.objects.filter(pk=told.pk).update(firm_told_at=timezone.now())
    # The task's retries ran out: a state staff see, which the sweep leaves.
    tasks.tell_firm_consent_ended.on_failure(
        callbacks.FirmUnreachable("HTTP 503"), "t", (), {"consent_id": failed.pk}, None
    )

    assert sweep(TOLD, later(3)) == {}
    assert queued["told"] == []
    failed.refresh_from_db()
    assert failed.firm_tell_failed_at is not None and failed.firm_told_at is None


def test_a_callback_sent_again_reaches_the_firm_once(
    firm, callbacks_received, django_capture_on_commit_callbacks
):
    consent = active_consent(firm, ResidentFactory())
    _revoked_lost(consent, django_capture_on_commit_callbacks)

    assert tasks.tell_firm_consent_ended.run(consent_id=consent.pk) is True  # the sweep's copy
    assert tasks.tell_firm_consent_ended.run(consent_id=consent.pk) is True  # the original, late
    assert len(callbacks_received) == 1
    assert sweep(TOLD, later(3)) == {}


def test_staff_see_how_many_ends_the_firm_missed_and_send_them_again_once(
    firm, staff, client, callbacks_received, eager, django_capture_on_commit_callbacks
):
    missed, told = active_consent(firm, ResidentFactory()), active_consent(firm, ResidentFactory())
    for consent in (missed, told):
        _revoked_lost(consent, django_capture_on_commit_callbacks)
    tasks.tell_firm_consent_ended.on_failure(
        callbacks.FirmUnreachable("HTTP 503"), "t", (), {"consent_id": missed.pk}, None
    )
    Consent.objects.filter(pk=told.pk).update(firm_told_at=timezone.now())
    client.force_login(staff)
    page = client.get(reverse("admin:firms_firm_change", args=[firm.pk])).content.decode()
    assert "1 件（再試行が尽きました" in page
    assert missed.resident.name not in page and str(missed.public_id) not in page  # a count only

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/staff/admin/firms/firm/",
            {"action": "resend_consent_ends", "_selected_action": [firm.pk]},
            follow=True,
        )
    assert "同意終了の通知 1 件を送り直します" in response.content.decode()
    assert len(callbacks_received) == 1  # the missed one; the told one not again
    missed.refresh_from_db()
    assert missed.firm_told_at is not None and missed.firm_tell_failed_at is None
    assert services.consent_firm_tells_retry(firm_id=firm.pk) == 0  # nothing left to send
    assert "なし" in client.get(reverse("admin:firms_firm_change", args=[firm.pk])).content.decode()


def test_resending_for_a_firm_with_nothing_missed_queues_nothing(firm, queued):
    assert services.consent_firm_tells_retry(firm_id=firm.pk) == 0
    assert queued["told"] == []


def test_the_callback_s_retries_wait_less_than_a_stall():
    # A retry waiting its countdown must never look lost to the sweep.
    assert tasks.tell_firm_consent_ended.retry_backoff_max < lost_task_stall().total_seconds()


# --- ending the consents of a firm whose controller changed -----------------------------------------------


def _change_lost(firm, staff, django_capture_on_commit_callbacks) -> ControllerChange:
    with django_capture_on_commit_callbacks(execute=False):  # the signal's task never reached the broker
        return controller_change_record(
            firm_id=firm.pk,
            staff=staff,
            new_legal_name="株式会社みらい銀行",
            new_corporate_number=NEW_CORPORATE_NUMBER,
            reason="合併",
            effective_on=timezone.localdate(),
        )


def test_a_lost_ending_after_a_change_of_controller_is_sent_again_once(
    firm, staff, queued, django_capture_on_commit_callbacks
):
    change = _change_lost(firm, staff, django_capture_on_commit_callbacks)

    assert sweep(CHANGED, timezone.now()) == {}
    assert sweep(CHANGED, later()) == {"sent_again": 1}
    assert queued["changed"] == [
        {"firm_id": firm.pk, "new_legal_name": "株式会社みらい銀行", "change_id": change.pk}
    ]
    assert sweep(CHANGED, later() + timedelta(minutes=1)) == {}


def test_the_ending_sent_again_ends_each_consent_and_tells_each_resident_once(
    firm, staff, django_capture_on_commit_callbacks
):
    before = [active_consent(firm, ResidentFactory()) for _ in range(2)]
    previous_name = firm.legal_name
    change = _change_lost(firm, staff, django_capture_on_commit_callbacks)
    after = active_consent(firm, ResidentFactory())  # given to the new controller: not to be ended
    # The first run dies after ending one consent, before telling its resident.
    with django_capture_on_commit_callbacks(execute=False):
        services.consent_end(before[0], state=ConsentState.CONTROLLER_CHANGED)

    for _ in range(2):  # the sweep's copy, then the original turning up late
        with django_capture_on_commit_callbacks(execute=False):
            tasks.end_for_controller_change.run(
                firm_id=firm.pk, new_legal_name=change.new_legal_name, change_id=change.pk
            )

    states = dict(Consent.objects.values_list("pk", "state"))
    assert [states[c.pk] for c in before] == [ConsentState.CONTROLLER_CHANGED] * 2
    assert states[after.pk] == ConsentState.ACTIVE
    notices = Notice.objects.filter(title_ja=CHANGE_TITLE)
    assert sorted(n.recipient_id for n in notices) == sorted(c.resident_id for c in before)
    assert all(previous_name in n.body_ja and "株式会社みらい銀行" in n.body_ja for n in notices)
    change.refresh_from_db()
    assert change.consents_ended_at is not None
    assert sweep(CHANGED, later(3)) == {}
