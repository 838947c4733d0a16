"""Registered proxies at the medical insurer (issue 7 item 5): a grant with the medical scope is registered
when it becomes active and withdrawn when it ends, however it ends; by tasks queued after the commit,
idempotent, retried while the insurer is unavailable, recorded in the access histories before they go,
never with a My Number. The insurer here is a fake behind the portal's real agency client; the real
simulator process is in test_insurer_with_simulator.py."""

import datetime as dt
import importlib
import json

import httpx
import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.utils import timezone

from portal.agencies.client import AgencyUnavailable
from portal.agencies.codes import agency_code
from portal.core.lost_tasks import lost_task_stall, lost_tasks_recover
from portal.history.models import Channel, ReleaseAlert, ReleaseRecord
from portal.history.presentation import describe
from portal.proxies import guardians, insurer, services
from portal.proxies.models import (
    EndedBy,
    GrantKind,
    GuardianApplication,
    InsurerRegistration,
    InsurerRegistrationState,
    ProxyGrant,
)
from portal.proxies.scopes import MEDICAL_SCOPE, NOTICES_READ
from portal.proxies.tasks import register_with_insurer, withdraw_from_insurer
from tests.factories import ResidentFactory
from tests.myinfo.conftest import FakeAgencies
from tests.proxies.conftest import grant_between, logged_in

pytestmark = pytest.mark.django_db


def insurer_resend(*, now: dt.datetime) -> dict[str, int]:
    """The lost-task sweep of the insurer's two kinds: how many registrations and withdrawals it sent."""
    kinds = {"registrations": "proxies.insurer_registration", "withdrawals": "proxies.insurer_withdrawal"}
    report = lost_tasks_recover(now=now, kinds=kinds.values())
    return {key: report[kind].get("sent_again", 0) for key, kind in kinds.items()}


INSURER = "medical-insurance"
State = InsurerRegistrationState


def code_at_insurer(resident) -> str:
    return agency_code(my_number=resident.my_number, agency_id=INSURER)


class FakeInsurer(FakeAgencies):
    """The medical insurer: takes registrations and withdrawals (echoing their ids), or answers as told."""

    def __init__(self) -> None:
        super().__init__()
        self.replies["proxy-registrations"] = self._registered
        self.replies["withdrawal"] = self._withdrawn

    @staticmethod
    def _registered(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(
            201,
            json={
                "registration_id": body["registration_id"],
                "agency_code": request.url.path.split("/")[-2],
                "status": "active",
                "relationship": body["relationship"],
                "valid_until": body["valid_until"],
                "registered_at": "2026-11-23T10:00:00+09:00",
            },
        )

    @staticmethod
    def _withdrawn(request: httpx.Request) -> httpx.Response:
        registration_id = request.url.path.split("/")[-2]
        return httpx.Response(
            200,
            json={
                "registration_id": registration_id,
                "status": "withdrawn",
                "withdrawn_at": "2026-11-24T10:00:00+09:00",
            },
        )

    def registrations(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/proxy-registrations")]

    def withdrawals(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/withdrawal")]


@pytest.fixture
def fake_insurer(client_keys, contracts, monkeypatch) -> FakeInsurer:
    fake = FakeInsurer()
    monkeypatch.setattr(
        "portal.agencies.client._client", httpx.Client(transport=httpx.MockTransport(fake.handle))
    )
    return fake


@pytest.fixture
def queued(monkeypatch) -> dict[str, list[int]]:
    """The registration and withdrawal tasks queued (after commit), instead of the broker."""
    sent: dict[str, list[int]] = {"register": [], "withdraw": []}
    monkeypatch.setattr(register_with_insurer, "delay", lambda pk: sent["register"].append(pk))
    monkeypatch.setattr(withdraw_from_insurer, "delay", lambda pk: sent["withdraw"].append(pk))
    return sent


def _appoint(principal, proxy, scopes, capture) -> ProxyGrant:
    with capture(execute=True):
        return grant_between(principal, proxy, scopes)


def _no_universal_key(request: httpx.Request, *residents) -> None:
    sent = str(request.url) + request.content.decode() + json.dumps(dict(request.headers))
    for resident in residents:
        assert resident.my_number not in sent and str(resident.public_id) not in sent


# --- registering --------------------------------------------------------------------------------------------


def test_an_appointed_proxy_with_the_medical_scope_is_registered_after_the_commit(
    kazuo, yuki, fake_insurer, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        grant = grant_between(kazuo, yuki, [MEDICAL_SCOPE, NOTICES_READ])
    registration = InsurerRegistration.objects.get(grant=grant)
    assert registration.state == State.REGISTERING and registration.agency_id == INSURER
    assert queued["register"] == [] and fake_insurer.requests == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert queued["register"] == [registration.pk]

    assert insurer.insurer_registration_send(registration_id=registration.pk) == State.REGISTERED
    (request,) = fake_insurer.registrations()
    assert (
        request.url.path == f"/agencies/{INSURER}/v1/residents/{code_at_insurer(kazuo)}/proxy-registrations"
    )
    assert request.headers["Idempotency-Key"] == str(registration.public_id)
    assert request.headers["Authorization"].startswith("Bearer ")
    assert json.loads(request.content) == {
        "registration_id": str(registration.public_id),
        "proxy": {"agency_code": code_at_insurer(yuki), "name": "田中 由紀"},
        "relationship": "voluntary",
        "valid_until": grant.ends_on.isoformat(),
    }
    _no_universal_key(request, kazuo, yuki)
    assert str(grant.public_id) not in request.content.decode()
    registration.refresh_from_db()
    assert registration.registered_at is not None and registration.attempts == 1

    # Recorded before it went: his (that he has this proxy) and hers (her name and code there).
    his = ReleaseRecord.objects.get(owner=kazuo, purpose="proxy_registration")
    assert his.category == "proxies" and his.channel == Channel.AGENCY_API and his.actor_ref == INSURER
    assert describe(his, "en") == (
        "医療保険者等向け中間サーバー received your proxy registration for registering your proxy with the "
        "medical insurer, so that they can fetch your medical data."
    )
    assert describe(his, "ja").endswith("あなたの代理人の登録を受領しました。")
    hers = ReleaseRecord.objects.get(owner=yuki, purpose="proxy_registration_as_proxy")
    assert hers.category == "identity" and hers.items == ["name", "agency_code"]
    assert not ReleaseAlert.objects.exists()  # an agency's receipt alerts nobody

    # Run again (a redelivered task): nothing more is sent or recorded.
    assert insurer.insurer_registration_send(registration_id=registration.pk) == State.REGISTERED
    assert len(fake_insurer.registrations()) == 1
    assert ReleaseRecord.objects.filter(purpose__startswith="proxy_registration").count() == 2


def test_a_grant_without_the_medical_scope_is_not_registered(
    kazuo, yuki, queued, django_capture_on_commit_callbacks
):
    grant = _appoint(kazuo, yuki, [NOTICES_READ, "myinfo:pension"], django_capture_on_commit_callbacks)
    assert not InsurerRegistration.objects.filter(grant=grant).exists() and queued["register"] == []
    services.grant_end(resident=kazuo, grant_public_id=grant.public_id)
    assert queued["withdraw"] == []


def test_an_invitation_is_not_registered_before_the_principal_signs(kazuo, yuki, queued):
    _grant, code = services.invitation_create(
        principal=kazuo, scopes=[MEDICAL_SCOPE], ends_on=timezone.localdate() + dt.timedelta(days=30)
    )
    services.invitation_accept(proxy=yuki, code=code)
    assert not InsurerRegistration.objects.exists()


def test_a_guardian_is_registered_on_approval_and_withdrawn_with_the_registration(
    kazuo, yuki, queued, django_capture_on_commit_callbacks
):
    staff = get_user_model().objects.create(username="guardian-desk", is_staff=True)
    application = GuardianApplication.objects.create(
        guardian=yuki,
        ward=kazuo,
        ward_name=kazuo.name,
        ward_birth_date=kazuo.birth_date,
        registry_number="第2026-1234号",
        certificate_key_id="k",
        certificate=b"x",
        certificate_sha256="0" * 64,
    )
    with django_capture_on_commit_callbacks(execute=True):
        approved = guardians.guardian_approve(application_id=application.pk, staff=staff)
    registration = InsurerRegistration.objects.get(grant=approved.grant)
    assert approved.grant.kind == GrantKind.GUARDIAN and queued["register"] == [registration.pk]
    with django_capture_on_commit_callbacks(execute=True):
        guardians.guardian_withdraw(application_id=application.pk, staff=staff)
    registration.refresh_from_db()
    assert registration.state == State.WITHDRAWING and queued["withdraw"] == [registration.pk]


def test_a_parent_is_registered_when_the_childs_grant_is_made(
    client, trusted_jpki, queued, django_capture_on_commit_callbacks, monkeypatch
):
    from portal.identity.models import Resident
    from tests.helpers import login_with_card
    from tests.proxies.test_acting import hold
    from tests.proxies.test_parents import CHILD, MOTHER, _household, _present_card

    monkeypatch.setattr("portal.myinfo.services._fetches_send", lambda **kwargs: None)
    login_with_card(client, trusted_jpki, "sato-misaki")
    mother = Resident.objects.get(name=MOTHER["name"])
    hold(mother, "household", _household(MOTHER, CHILD))
    request_id = _present_card(client, trusted_jpki, "sato-haruto")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/proxies/children/{request_id}/complete/").status_code == 302
    grant = ProxyGrant.objects.get(proxy=mother)
    registration = InsurerRegistration.objects.get(grant=grant)
    assert grant.kind == GrantKind.PARENT and queued["register"] == [registration.pk]


# --- withdrawing: every way a grant ends --------------------------------------------------------------------


def _end_by_principal(grant):
    services.grant_end(resident=grant.principal, grant_public_id=grant.public_id)


def _end_by_proxy(grant):
    services.grant_end(resident=grant.proxy, grant_public_id=grant.public_id)


def _end_all(grant):
    services.grants_end_all(principal=grant.principal)


def _end_all_by_staff(grant):
    services.grants_end_all(principal=grant.principal, by=EndedBy.STAFF)


def _expire(grant):
    # A proxy's last day passed, or a child turned 15 (a parent's grant ends the day before).
    assert services.grants_end_expired(today=grant.ends_on + dt.timedelta(days=1)) == 1


ENDINGS = {
    "ended_by_principal": _end_by_principal,
    "ended_by_proxy": _end_by_proxy,
    "end_all": _end_all,
    "ended_by_staff": _end_all_by_staff,
    "expired": _expire,
}
REASONS = {"end_all": "ended_by_principal"}


@pytest.mark.parametrize("ending", ENDINGS)
def test_every_ending_withdraws_the_registration(
    kazuo, yuki, fake_insurer, queued, django_capture_on_commit_callbacks, ending
):
    grant = _appoint(kazuo, yuki, [MEDICAL_SCOPE], django_capture_on_commit_callbacks)
    registration = InsurerRegistration.objects.get(grant=grant)
    insurer.insurer_registration_send(registration_id=registration.pk)

    with django_capture_on_commit_callbacks(execute=True):
        ENDINGS[ending](grant)
    registration.refresh_from_db()
    assert registration.state == State.WITHDRAWING and queued["withdraw"] == [registration.pk]

    assert insurer.insurer_withdrawal_send(registration_id=registration.pk) == State.WITHDRAWN
    (request,) = fake_insurer.withdrawals()
    assert request.url.path == (
        f"/agencies/{INSURER}/v1/residents/{code_at_insurer(kazuo)}/proxy-registrations/"
        f"{registration.public_id}/withdrawal"
    )
    assert json.loads(request.content) == {"reason": REASONS.get(ending, ending)}
    assert request.headers["Idempotency-Key"] == f"{registration.public_id}:withdrawal"
    _no_universal_key(request, kazuo, yuki)
    assert ReleaseRecord.objects.filter(owner=kazuo, purpose="proxy_withdrawal").count() == 1
    # Sent again (a redelivery), or the grant ended again: nothing more.
    assert insurer.insurer_withdrawal_send(registration_id=registration.pk) == State.WITHDRAWN
    with django_capture_on_commit_callbacks(execute=True):
        services.grant_end(resident=kazuo, grant_public_id=grant.public_id)
    assert len(fake_insurer.withdrawals()) == 1 and queued["withdraw"] == [registration.pk]


def test_a_grant_ended_before_its_registration_went_sends_only_the_withdrawal(
    kazuo, yuki, fake_insurer, queued, django_capture_on_commit_callbacks
):
    grant = _appoint(kazuo, yuki, [MEDICAL_SCOPE], django_capture_on_commit_callbacks)
    registration = InsurerRegistration.objects.get(grant=grant)
    with django_capture_on_commit_callbacks(execute=True):
        _end_by_principal(grant)
    # The registration's task runs late: it sends nothing; the withdrawal goes (the insurer keeps it).
    assert insurer.insurer_registration_send(registration_id=registration.pk) == State.WITHDRAWING
    assert insurer.insurer_withdrawal_send(registration_id=registration.pk) == State.WITHDRAWN
    assert fake_insurer.registrations() == [] and len(fake_insurer.withdrawals()) == 1


# --- the insurer refuses, or cannot be reached --------------------------------------------------------------


def test_a_refused_registration_fails_and_the_principal_and_proxy_see_it(
    kazuo, yuki, fake_insurer, queued, django_capture_on_commit_callbacks
):
    fake_insurer.answer("proxy-registrations", {"error": "unknown_code", "message": "…"}, status=404)
    grant = _appoint(kazuo, yuki, [MEDICAL_SCOPE], django_capture_on_commit_callbacks)
    registration = InsurerRegistration.objects.get(grant=grant)
    assert insurer.insurer_registration_send(registration_id=registration.pk) == State.FAILED
    registration.refresh_from_db()
    assert registration.last_error == "unknown_code"

    for who, section in ((kazuo, "given"), (yuki, "held")):
        page = logged_in(who).get("/proxies/").content.decode()
        assert f'id="insurer-registration-{grant.public_id}" data-state="failed"' in page, section
        assert "医療保険者への登録ができていないため" in page and "お問い合わせ窓口" in page
    # The sweep does not send a refusal again; staff may.
    assert insurer_resend(now=timezone.now() + dt.timedelta(hours=1)) == {
        "registrations": 0,
        "withdrawals": 0,
    }
    fake_insurer.replies["proxy-registrations"] = FakeInsurer._registered
    with django_capture_on_commit_callbacks(execute=True):
        insurer.insurer_registration_send_again(registration_id=registration.pk)
    assert queued["register"][-1] == registration.pk
    assert insurer.insurer_registration_send(registration_id=registration.pk) == State.REGISTERED


def test_an_unavailable_insurer_is_retried_then_failed_then_sent_again_by_the_sweep(
    kazuo, yuki, fake_insurer, queued, django_capture_on_commit_callbacks
):
    fake_insurer.answer("proxy-registrations", {"error": "outage"}, status=503)
    grant = _appoint(kazuo, yuki, [MEDICAL_SCOPE], django_capture_on_commit_callbacks)
    registration = InsurerRegistration.objects.get(grant=grant)
    queued["register"].clear()
    with pytest.raises(AgencyUnavailable):
        insurer.insurer_registration_send(registration_id=registration.pk)
    registration.refresh_from_db()
    assert registration.state == State.REGISTERING and registration.last_error == "unavailable"
    # The task's retries run out.
    register_with_insurer.on_failure(AgencyUnavailable("down"), "t", (registration.pk,), {}, None)
    registration.refresh_from_db()
    assert registration.state == State.FAILED and registration.last_error == "unavailable"
    page = logged_in(kazuo).get("/proxies/").content.decode()
    assert "時間をおいて自動で再び登録します" in page

    assert insurer_resend(now=timezone.now())["registrations"] == 0  # not yet
    later = timezone.now() + lost_task_stall() + dt.timedelta(seconds=1)
    assert insurer_resend(now=later) == {"registrations": 1, "withdrawals": 0}
    registration.refresh_from_db()
    assert registration.state == State.REGISTERING and queued["register"] == [registration.pk]
    fake_insurer.replies["proxy-registrations"] = FakeInsurer._registered
    assert insurer.insurer_registration_send(registration_id=registration.pk) == State.REGISTERED
    # Every attempt sent the same registration under the same key.
    keys = {(r.headers["Idempotency-Key"], r.content) for r in fake_insurer.registrations()}
    assert len(keys) == 1 and len(fake_insurer.registrations()) == 2
    assert ReleaseRecord.objects.filter(owner=kazuo, purpose="proxy_registration").count() == 1


def test_a_lost_withdrawal_is_sent_again_by_the_sweep_and_a_refused_one_waits_for_staff(
    kazuo, yuki, fake_insurer, queued, django_capture_on_commit_callbacks
):
    grant = _appoint(kazuo, yuki, [MEDICAL_SCOPE], django_capture_on_commit_callbacks)
    registration = InsurerRegistration.objects.get(grant=grant)
    insurer.insurer_registration_send(registration_id=registration.pk)
    with django_capture_on_commit_callbacks(execute=False):  # the task never reached the broker
        _end_by_principal(grant)
    later = timezone.now() + lost_task_stall() + dt.timedelta(seconds=1)
    assert insurer_resend(now=later) == {"registrations": 0, "withdrawals": 1}
    assert queued["withdraw"] == [registration.pk]

    fake_insurer.answer("withdrawal", {"error": "unknown_registration", "message": "…"}, status=404)
    assert insurer.insurer_withdrawal_send(registration_id=registration.pk) == State.WITHDRAWING
    registration.refresh_from_db()
    assert registration.last_error == "unknown_registration"
    much_later = later + lost_task_stall() * 2
    assert insurer_resend(now=much_later)["withdrawals"] == 0
    fake_insurer.replies["withdrawal"] = FakeInsurer._withdrawn
    with django_capture_on_commit_callbacks(execute=True):
        insurer.insurer_registration_send_again(registration_id=registration.pk)
    assert insurer.insurer_withdrawal_send(registration_id=registration.pk) == State.WITHDRAWN


def test_an_answer_about_another_registration_is_not_taken(
    kazuo, yuki, fake_insurer, queued, django_capture_on_commit_callbacks
):
    fake_insurer.answer(
        "proxy-registrations", {"registration_id": "someone-else", "status": "active"}, status=201
    )
    grant = _appoint(kazuo, yuki, [MEDICAL_SCOPE], django_capture_on_commit_callbacks)
    registration = InsurerRegistration.objects.get(grant=grant)
    assert insurer.insurer_registration_send(registration_id=registration.pk) == State.FAILED
    registration.refresh_from_db()
    assert registration.last_error == "malformed"


def test_a_deleted_registration_is_gone_for_the_tasks():
    assert insurer.insurer_registration_send(registration_id=987654) == "gone"
    assert insurer.insurer_withdrawal_send(registration_id=987654) == "gone"


# --- grants from before registrations existed ---------------------------------------------------------------


def test_the_migration_opens_registrations_for_active_medical_grants_only(kazuo, yuki, stranger, queued):
    medical = grant_between(kazuo, yuki, [MEDICAL_SCOPE])
    other = grant_between(stranger, yuki, [NOTICES_READ])
    ended = grant_between(kazuo, ResidentFactory(name_kana="スズキ イチロウ"), [MEDICAL_SCOPE])
    services.grant_end(resident=kazuo, grant_public_id=ended.public_id)
    InsurerRegistration.objects.all().delete()  # as before the migration

    migration = importlib.import_module("portal.proxies.migrations.0006_register_active_medical_grants")
    migration.open_registrations(apps, None)
    registration = InsurerRegistration.objects.get()
    assert registration.grant == medical and registration.state == State.REGISTERING
    assert not InsurerRegistration.objects.filter(grant__in=[other, ended]).exists()
    # The sweep sends it once it is older than a lost task would be.
    later = timezone.now() + lost_task_stall() + dt.timedelta(seconds=1)
    assert insurer_resend(now=later)["registrations"] == 1
    assert queued["register"] == [registration.pk]


def test_the_tasks_run_on_the_fetch_queue():
    from portal.celery import QUEUE_FETCH
    from portal.celery import app as celery_app

    for task in (register_with_insurer, withdraw_from_insurer):
        assert celery_app.amqp.router.route({}, task.name, (), {})["queue"].name == QUEUE_FETCH


def test_staff_see_registrations_without_names_and_send_one_again(
    kazuo, yuki, client, fake_insurer, queued, django_capture_on_commit_callbacks
):
    fake_insurer.answer("proxy-registrations", {"error": "unknown_code", "message": "…"}, status=404)
    grant = _appoint(kazuo, yuki, [MEDICAL_SCOPE], django_capture_on_commit_callbacks)
    registration = InsurerRegistration.objects.get(grant=grant)
    insurer.insurer_registration_send(registration_id=registration.pk)
    client.force_login(get_user_model().objects.create(username="desk", is_staff=True, is_superuser=True))
    url = "/staff/admin/proxies/insurerregistration/"
    page = client.get(url).content.decode()
    assert str(registration.public_id) in page and "unknown_code" in page
    assert kazuo.name not in page and yuki.name not in page
    queued["register"].clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"action": "send_again", "_selected_action": [registration.pk]})
    registration.refresh_from_db()
    assert registration.state == State.REGISTERING and queued["register"] == [registration.pk]
